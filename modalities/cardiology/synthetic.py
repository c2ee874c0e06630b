"""ECGs whose truth is known, for the demo and the tests, and the encoders that turn leads into upload files.

Each beat is built from waves with exact boundaries: a P wave and a T wave shaped as raised cosines (smooth at
both ends, like real P and T waves) and a QRS complex of three straight-sided deflections (q, R, s) that
starts and ends exactly where it is placed. So the PR interval (P onset to QRS onset), the QRS duration and
the QT interval (QRS onset to T end) of the generated trace are known exactly, and so is every R-peak time.
An atrial-fibrillation-like trace has no P waves, irregularly irregular RR intervals and optional fibrillatory
("f") waves. Twelve leads are made by scaling the waves per lead (limb leads consistent with Einthoven's
law: III = II - I), which is enough for a demo; the measurements use one lead.
"""

from __future__ import annotations

import io
import json
import os
import tempfile

from ..base import DemoCase

# Per-lead scale of the (P, QRS, T) waves relative to lead II.
TWELVE_LEADS = {
    "I": (0.6, 0.6, 0.6),
    "II": (1.0, 1.0, 1.0),
    "III": (0.4, 0.4, 0.4),
    "aVR": (-0.8, -0.8, -0.8),
    "aVL": (0.1, 0.1, 0.1),
    "aVF": (0.7, 0.7, 0.7),
    "V1": (0.5, -0.7, 0.2),
    "V2": (0.5, -0.4, 0.8),
    "V3": (0.5, 0.4, 0.9),
    "V4": (0.5, 1.1, 0.9),
    "V5": (0.5, 1.0, 0.7),
    "V6": (0.5, 0.8, 0.5),
}


def regular_r_times(heart_rate: float, duration: float, first: float = 0.6) -> list[float]:
    rr = 60.0 / heart_rate
    times, t = [], first
    while t < duration - 0.5:
        times.append(t)
        t += rr
    return times


def irregular_r_times(mean_heart_rate: float, duration: float, *, spread: float = 0.35, seed: int = 0) -> list[float]:
    """RR intervals drawn independently and uniformly within +/- ``spread`` of the mean: irregularly irregular."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mean_rr = 60.0 / mean_heart_rate
    times, t = [], 0.6
    while t < duration - 0.5:
        times.append(t)
        t += mean_rr * rng.uniform(1 - spread, 1 + spread)
    return times


def waves(
    r_times,
    *,
    duration: float,
    sampling_rate: float,
    pr_ms: float = 160,
    qrs_ms: float = 90,
    qt_ms: float = 400,
    p_ms: float = 100,
    t_ms: float = 180,
    p_mv: float = 0.15,
    r_mv: float = 1.2,
    t_mv: float = 0.3,
):
    """The P, QRS and T components (mV) of lead II; the R apex sits at 40% of the QRS."""
    import numpy as np

    n = int(round(duration * sampling_rate))
    t = np.arange(n) / sampling_rate
    p_wave, qrs, t_wave = np.zeros(n), np.zeros(n), np.zeros(n)
    qrs_s, pr_s, qt_s = qrs_ms / 1000, pr_ms / 1000, qt_ms / 1000

    def bump(target, onset, length, amplitude):
        inside = (t >= onset) & (t <= onset + length)
        target[inside] += amplitude * 0.5 * (1 - np.cos(2 * np.pi * (t[inside] - onset) / length))

    def triangle(onset, apex, end, amplitude):
        rise = (t >= onset) & (t <= apex)
        qrs[rise] += amplitude * (t[rise] - onset) / (apex - onset)
        fall = (t > apex) & (t < end)
        qrs[fall] += amplitude * (end - t[fall]) / (end - apex)

    for r in r_times:
        onset = r - 0.4 * qrs_s
        if p_mv:
            bump(p_wave, onset - pr_s, p_ms / 1000, p_mv)
        triangle(onset, onset + 0.12 * qrs_s, onset + 0.25 * qrs_s, -0.08 * r_mv)
        triangle(onset + 0.25 * qrs_s, onset + 0.4 * qrs_s, onset + 0.6 * qrs_s, r_mv)
        triangle(onset + 0.6 * qrs_s, onset + 0.75 * qrs_s, onset + qrs_s, -0.25 * r_mv)
        bump(t_wave, onset + qt_s - t_ms / 1000, t_ms / 1000, t_mv)
    return p_wave, qrs, t_wave


def ecg(
    r_times,
    *,
    duration: float = 10.0,
    sampling_rate: float = 500,
    leads=("II",),
    noise_mv: float = 0.01,
    fibrillation_mv: float = 0.0,
    seed: int = 0,
    **wave_settings,
) -> dict:
    """Leads (name -> mV array) of a synthetic ECG with beats at ``r_times`` (s)."""
    import numpy as np

    p_wave, qrs, t_wave = waves(r_times, duration=duration, sampling_rate=sampling_rate, **wave_settings)
    rng = np.random.default_rng(seed)
    t = np.arange(len(qrs)) / sampling_rate
    # Fibrillatory waves: 5-7 Hz atrial activity of varying amplitude, the baseline of atrial fibrillation.
    atrial = fibrillation_mv * np.sin(2 * np.pi * (6 + 0.5 * np.sin(2 * np.pi * 0.3 * t)) * t) if fibrillation_mv else 0
    result = {}
    for name in leads:
        p_scale, qrs_scale, t_scale = TWELVE_LEADS[name]
        trace = p_scale * (p_wave + atrial) + qrs_scale * qrs + t_scale * t_wave
        result[name] = trace + rng.normal(0, noise_mv, len(trace)) if noise_mv else trace
    return result


# --- encoders ------------------------------------------------------------------------------------------------
def wfdb_files(record_name: str, leads: dict, sampling_rate: float, *, fmt: str = "16") -> list[tuple[str, bytes]]:
    """A WFDB record written by wfdb itself: [(name.hea, header bytes), (name.dat, signal bytes)]."""
    import numpy as np
    import wfdb

    names = list(leads)
    signal = np.column_stack([leads[n] for n in names])
    with tempfile.TemporaryDirectory() as directory:
        wfdb.wrsamp(
            record_name,
            fs=sampling_rate,
            units=["mV"] * len(names),
            sig_name=names,
            p_signal=signal,
            fmt=[fmt] * len(names),
            adc_gain=[1000.0] * len(names),
            baseline=[0] * len(names),
            write_dir=directory,
        )
        files = []
        for extension in ("hea", "dat"):
            with open(os.path.join(directory, f"{record_name}.{extension}"), "rb") as handle:
                files.append((f"{record_name}.{extension}", handle.read()))
    return files


def csv_bytes(leads: dict, sampling_rate: float) -> bytes:
    import numpy as np

    names = list(leads)
    buffer = io.StringIO()
    buffer.write(f"# sampling_rate_hz={sampling_rate:g}\n")
    buffer.write(",".join(names) + "\n")
    np.savetxt(buffer, np.column_stack([leads[n] for n in names]), delimiter=",", fmt="%.4f")
    return buffer.getvalue().encode()


def json_bytes(leads: dict, sampling_rate: float) -> bytes:
    document = {
        "sampling_rate_hz": sampling_rate,
        "units": "mV",
        "leads": {name: [round(float(v), 4) for v in values] for name, values in leads.items()},
    }
    return json.dumps(document).encode()


def edf_bytes(leads: dict, sampling_rate: float) -> bytes:
    import edfio

    signals = [
        edfio.EdfSignal(values, sampling_frequency=sampling_rate, label=name, physical_dimension="mV")
        for name, values in leads.items()
    ]
    buffer = io.BytesIO()
    edfio.Edf(signals).write(buffer)
    return buffer.getvalue()


def demo_cases() -> list[DemoCase]:
    """The demo's ECGs: a normal 12-lead WFDB record, a bradycardia as CSV and an irregular rhythm as JSON."""
    normal = ecg(regular_r_times(72, 10), leads=tuple(TWELVE_LEADS), qt_ms=390, seed=1)
    slow = ecg(regular_r_times(48, 10), leads=("I", "II", "III"), pr_ms=180, qrs_ms=96, qt_ms=440, seed=2)
    irregular = ecg(
        irregular_r_times(80, 10, seed=3),
        leads=("I", "II", "V1"),
        p_mv=0.0,
        qt_ms=360,
        fibrillation_mv=0.04,
        seed=3,
    )
    return [
        DemoCase(files=wfdb_files("normal72", normal, 500)),
        DemoCase(files=[("bradycardia48.csv", csv_bytes(slow, 500))]),
        DemoCase(files=[("irregular.json", json_bytes(irregular, 500))]),
    ]
