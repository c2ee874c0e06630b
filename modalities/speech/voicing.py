"""Is it a voice? A recording is analysed only when its periodic sound has the harmonics a voice has.

The rule (MediLens's own, stated in the README): a pitch frame counts as voice when at least three harmonics,
the fundamental included, stand out of the spectrum within 20 dB of the fundamental's level; a recording needs
at least ``MIN_VOICED_S`` (0.5 s, the least the voice measures need) of such frames.

Basis: voiced speech is excited by a train of glottal pulses whose source spectrum falls by about 12 dB per
octave, 6 dB per octave once radiated from the lips (Fant G, Acoustic Theory of Speech Production, 1960), so
the second and third harmonics of a voice lie about 6 and 10 dB under the fundamental before the vocal tract
shapes them, and a formant near them raises them further. A pure tone, mains hum or a whistle has one
harmonic, or one and faint others; white noise has no fundamental at all. The 20 dB margin leaves room for
breathy voices, whose spectra fall faster; at a 600 Hz fundamental the third harmonic (1.8 kHz) is still
inside a telephone band.

A harmonic "stands out" when its peak (within a fifth of F0 of k x F0) is at least 10 dB above the median level
between it and its neighbours (0.35-0.65 F0 either side). Measured on a glottal pulse train shaped as an /a/:
about 30 dB at 20 dB HNR, 9-27 dB at 0 dB; a spectral peak of white noise at the same places: 3.5 dB median,
9 dB at the 90th percentile. Noise is mostly kept out by the pitch analysis itself (Praat's voicing threshold
calls no frame of 30 s of white noise voiced). Each frame's spectrum is taken over six periods of its own F0
(Hann window), enough to separate the harmonics.

Measured (tests and development): a 150 Hz sine (also with noise 30 dB down), a 300 Hz sine with its second
harmonic 15 dB down, a 50 Hz hum with faint 100/150 Hz harmonics and white noise are refused; espeak-ng /a/,
/u/, /i/, /m/ and connected speech (three voices, F0 80-220 Hz, also band-limited to 300-3400 Hz at 8 kHz) and
glottal pulse trains at 100-441 Hz with noise down to 0 dB SNR are accepted. The narrowest pass was the female
voice's /i/ (a median of 3 harmonics: its low first and high second formant leave few strong harmonics
between). A square wave, a buzzer or a harmonic-rich hum inside 75-600 Hz has a voice's harmonics and is
accepted: this rule cannot tell them from a voice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .measurement import MIN_VOICED_S, PITCH_CEILING, PITCH_FLOOR

MIN_HARMONICS = 3
WITHIN_DB = 20.0
PROMINENCE_DB = 10.0
WINDOW_PERIODS = 6
HIGHEST_HARMONIC = 10
HIGHEST_FREQUENCY = 5000.0
PEAK_SPAN = 0.2  # of F0, either side of k x F0
BETWEEN = (0.35, 0.65)  # of F0, either side of k x F0
MAX_FRAMES = 150  # frames checked, evenly spread over the voiced ones: the answer needs no more


@dataclass
class Evidence:
    voiced_seconds: float
    harmonic_seconds: float  # voiced time whose frames show at least MIN_HARMONICS harmonics
    median_f0: float | None
    median_harmonics: float | None

    def refusal(self) -> str | None:
        """Why the recording is not a voice, for the clinician; None when it is one."""
        if self.harmonic_seconds >= MIN_VOICED_S:
            return None
        if self.voiced_seconds == 0:
            return (
                f"No voice found: Praat's pitch analysis finds no periodic sound with a fundamental between "
                f"{PITCH_FLOOR:.0f} and {PITCH_CEILING:.0f} Hz in the recording (noise, silence or a hum below the "
                "voice range). Check that the recording holds the patient's voice."
            )
        return (
            f"No voice found: only {self.harmonic_seconds:.2f} s of the recording is a periodic sound with at least "
            f"{MIN_HARMONICS} harmonics within {WITHIN_DB:.0f} dB of its fundamental, as a voice has; this analysis "
            f"needs {MIN_VOICED_S} s. The periodic sound found (fundamental about {self.median_f0:.0f} Hz, "
            f"{self.voiced_seconds:.1f} s) has a median of {self.median_harmonics:.0f} such harmonics: a pure tone, "
            "hum or whistle rather than a voice."
        )


def evidence(samples, rate: float, times, f0) -> Evidence:
    """Count the harmonics of the voiced frames (``f0`` finite at ``times``) of ``samples`` (mono, at
    ``rate``)."""
    import numpy as np

    voiced = np.flatnonzero(np.isfinite(f0))
    step = float(times[1] - times[0]) if len(times) > 1 else 0.01
    voiced_seconds = voiced.size * step
    if voiced.size == 0:
        return Evidence(0.0, 0.0, None, None)
    chosen = voiced[np.unique(np.linspace(0, voiced.size - 1, min(voiced.size, MAX_FRAMES)).round().astype(int))]
    counts = [_harmonics(samples, rate, float(times[i]), float(f0[i])) for i in chosen]
    counts = np.array([c for c in counts if c is not None])
    if counts.size == 0:
        return Evidence(voiced_seconds, 0.0, float(np.median(f0[voiced])), 0.0)
    harmonic_seconds = voiced_seconds * float(np.mean(counts >= MIN_HARMONICS))
    return Evidence(voiced_seconds, harmonic_seconds, float(np.median(f0[voiced])), float(np.median(counts)))


def _harmonics(samples, rate: float, time: float, f0: float) -> int | None:
    """How many of the harmonics 1..K of ``f0`` stand out of the spectrum around ``time`` within WITHIN_DB of
    the fundamental; None when the window does not fit in the recording."""
    import numpy as np

    length = int(round(WINDOW_PERIODS * rate / f0))
    start = int(round(time * rate)) - length // 2
    if start < 0 or start + length > len(samples):
        return None
    segment = np.asarray(samples[start : start + length], dtype=np.float64)
    segment = (segment - segment.mean()) * np.hanning(length)
    size = 1 << math.ceil(math.log2(4 * length))
    level = 20 * np.log10(np.abs(np.fft.rfft(segment, size)) + 1e-12)
    bin_hz = rate / size
    highest = int(min(HIGHEST_HARMONIC, HIGHEST_FREQUENCY / f0, 0.9 * (rate / 2) / f0))

    def band(low: float, high: float):
        return level[max(0, int(math.ceil(low / bin_hz))) : int(high / bin_hz) + 1]

    peaks, standing = [], []
    for k in range(1, highest + 1):
        centre = k * f0
        peak = float(band(centre - PEAK_SPAN * f0, centre + PEAK_SPAN * f0).max())
        around = np.concatenate(
            [
                band(centre - BETWEEN[1] * f0, centre - BETWEEN[0] * f0),
                band(centre + BETWEEN[0] * f0, centre + BETWEEN[1] * f0),
            ]
        )
        peaks.append(peak)
        standing.append(peak - float(np.median(around)) >= PROMINENCE_DB)
    fundamental = peaks[0] if peaks else -math.inf
    return sum(1 for peak, stands in zip(peaks, standing, strict=True) if stands and peak >= fundamental - WITHIN_DB)


def preview_evidence(recording) -> Evidence:
    """The upload check: the same rule on the decoder's decimated preview (``decoding.Recording.preview``)."""
    import numpy as np

    from .measurement import pitch_track, praat, voice_pitch

    parselmouth, _ = praat()
    samples = np.asarray(recording.preview, dtype=np.float64)
    times, f0 = pitch_track(voice_pitch(parselmouth.Sound(samples, sampling_frequency=recording.preview_rate)))
    return evidence(samples, recording.preview_rate, times, f0)
