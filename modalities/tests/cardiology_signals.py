"""ECG traces for the cardiology truth tests, written independently of ``modalities.cardiology.synthetic``.

Every wave is a Gaussian placed at a known time, so the truth of a trace is how it was made: the R-peak
times (hence the heart rate), which beats are premature, where the P waves fall (with or without a fixed
relation to the QRS), how much white noise was added. A trace is the sum of

    P   0.15 mV, sd 18 ms, its onset (2.5 sd before its centre) ``pr`` before QRS onset (``qrs``/2 before R)
    Q   -0.12 mV, sd ``qrs``/12, ``qrs``/3 before R
    R   1.2 mV, sd ``qrs``/10
    S   -0.3 mV, sd ``qrs``/12, ``qrs``/3 after R
    T   0.3 mV (inverted after a ventricular beat), sd 40 ms x sqrt(RR), ending at QT = 400 ms x sqrt(RR) after
        QRS onset (Bazett's relation, so the T wave follows the rate as it does in people)

Ventricular beats (premature ventricular complexes, ventricular escape) are wide (140 ms), taller and have
no P wave of their own.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

import numpy as np

RATE = 500


@dataclass
class Beat:
    r_time: float
    rr: float  # the RR interval the beat's repolarisation follows (s)
    ventricular: bool = False
    p_wave: bool = True


@dataclass
class Trace:
    beats: list[Beat]
    duration: float
    p_times: list[float] = field(default_factory=list)  # P waves not tied to a QRS (AV dissociation)
    pr: float = 0.16
    qrs: float = 0.08
    noise_mv: float = 0.0
    seed: int = 0
    rate: int = RATE

    @property
    def r_times(self) -> list[float]:
        return [beat.r_time for beat in self.beats]

    def samples(self) -> np.ndarray:
        t = np.arange(int(round(self.duration * self.rate))) / self.rate
        signal = np.zeros_like(t)

        def wave(centre, sd, amplitude):
            near = np.abs(t - centre) < 6 * sd
            signal[near] += amplitude * np.exp(-0.5 * ((t[near] - centre) / sd) ** 2)

        for beat in self.beats:
            qrs = 0.14 if beat.ventricular else self.qrs
            height = 1.6 if beat.ventricular else 1.2
            if beat.p_wave and not beat.ventricular:
                # P onset (2.5 sd before its centre) lies ``pr`` before QRS onset (half the QRS before R).
                wave(beat.r_time - qrs / 2 - self.pr + 2.5 * 0.018, 0.018, 0.15)
            wave(beat.r_time - qrs / 3, qrs / 12, -0.12)
            wave(beat.r_time, qrs / 10, height)
            wave(beat.r_time + qrs / 3, qrs / 12, -0.3)
            qt = 0.40 * math.sqrt(beat.rr)
            t_sd = 0.04 * math.sqrt(beat.rr)
            t_end = beat.r_time - qrs / 2 + qt
            wave(t_end - 2.5 * t_sd, t_sd, -0.35 if beat.ventricular else 0.3)
        for p_time in self.p_times:
            wave(p_time, 0.018, 0.15)
        if self.noise_mv:
            signal = signal + np.random.default_rng(self.seed).normal(0, self.noise_mv, len(signal))
        return signal


def sinus(heart_rate: float, *, duration: float = 10.0, first: float = 0.5, p_wave: bool = True, **settings) -> Trace:
    rr = 60.0 / heart_rate
    count = int((duration - first - 0.3) / rr) + 1
    beats = [Beat(first + i * rr, rr, p_wave=p_wave) for i in range(count)]
    return Trace(beats, duration, **settings)


def with_premature_beat(heart_rate: float, *, index: int = 5, coupling: float = 0.6, **settings) -> Trace:
    """Sinus rhythm with one premature ventricular complex after beat ``index`` (at ``coupling`` x RR), followed
    by a full compensatory pause: the next sinus beat comes two sinus cycles after the beat before the PVC."""
    trace = sinus(heart_rate, **settings)
    rr = 60.0 / heart_rate
    before = trace.beats[index]
    premature = Beat(before.r_time + coupling * rr, coupling * rr, ventricular=True, p_wave=False)
    trace.beats = [*trace.beats[: index + 1], premature, *trace.beats[index + 2 :]]
    return trace


def complete_heart_block(
    *, ventricular_rate: float = 33, atrial_rate: float = 75, duration: float = 10.0, **settings
) -> Trace:
    """Ventricular escape at its own rate, P waves marching through at theirs, no relation between the two."""
    rr = 60.0 / ventricular_rate
    beats = []
    time = 0.7
    while time < duration - 0.4:
        beats.append(Beat(time, rr, ventricular=True, p_wave=False))
        time += rr
    pp = 60.0 / atrial_rate
    p_times = list(np.arange(0.25, duration - 0.1, pp))
    return Trace(beats, duration, p_times=p_times, **settings)


def heart_rate_of(trace: Trace) -> float:
    """The true mean rate over the beats placed: 60 / mean RR."""
    return 60.0 / float(np.mean(np.diff(trace.r_times)))


# --- files, written here rather than with the modality's encoders ---------------------------------------------
def csv_file(samples, rate: int = RATE, lead: str = "II", name: str = "trace.csv") -> tuple[str, bytes]:
    rows = "\n".join(f"{value:.5f}" for value in samples)
    return name, f"# sampling_rate_hz={rate}\n{lead}\n{rows}\n".encode()


def json_file(samples, rate: int = RATE, lead: str = "II", name: str = "trace.json") -> tuple[str, bytes]:
    document = {"sampling_rate_hz": rate, "units": "mV", "leads": {lead: [round(float(v), 5) for v in samples]}}
    return name, json.dumps(document).encode()


def bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
