"""Synthetic voices for the demo and for tests of known truth. Never imported on the worker's path
(``modalities.registry.demo_cases`` imports it for the demo)."""

from __future__ import annotations

import io
import math

from ..base import DemoCase


def synthesize_voice(
    *,
    f0: float,
    duration: float,
    sample_rate: int = 16000,
    jitter: float = 0.0,
    shimmer: float = 0.0,
    snr_db: float | None = None,
    f0_end: float | None = None,
    seed: int = 0,
    oversample: int = 8,
):
    """A sustained voice of known perturbation: a train of Rosenberg (1971) glottal-flow-derivative pulses.

    Each glottal cycle runs from one closure to the next (closed phase 44 %, opening 40 %, closing 16 % of the
    cycle), so the interval between closures, the instants Praat's pulses lock onto, is exactly the set
    period, and each cycle's excitation is scaled by its own amplitude. Periods are 1/F0 x (1 + jitter x N(0,1)),
    amplitudes 1 + shimmer x N(0,1) (with F0 gliding linearly to ``f0_end`` if given). Generated at
    ``oversample`` x the rate and decimated with an anti-aliasing filter, so the sampled pulse shape does not
    vary from cycle to cycle. Returns (samples, truth) where truth holds the generated sequence's own jitter
    (local) and shimmer (local) in percent, by Praat's definitions, and its mean F0.
    """
    import numpy as np
    from scipy.signal import resample_poly

    rng = np.random.default_rng(seed)
    rate = sample_rate * oversample
    count = int(round(duration * rate))
    periods, amplitudes, elapsed = [], [], 0.0
    end_f0 = f0 if f0_end is None else f0_end
    while elapsed < duration + 2.0 / min(f0, end_f0):
        nominal = f0 + (end_f0 - f0) * min(elapsed / duration, 1.0)
        periods.append(max((1.0 / nominal) * (1.0 + jitter * rng.standard_normal()), 0.2 / nominal))
        amplitudes.append(max(1.0 + shimmer * rng.standard_normal(), 0.05))
        elapsed += periods[-1]
    periods, amplitudes = np.array(periods), np.array(amplitudes)
    bounds = np.concatenate([[0.0], np.cumsum(periods)])
    times = np.arange(count) / rate
    cycle = np.searchsorted(bounds, times, side="right") - 1
    phase = (times - bounds[cycle]) / periods[cycle]
    closed, opening, closing = 0.44, 0.40, 0.16
    v = phase - closed
    derivative = np.where(
        v < 0,
        0.0,
        np.where(
            v <= opening,
            0.5 * math.pi / opening * np.sin(math.pi * v / opening),
            -math.pi / (2 * closing) * np.sin(math.pi * (v - opening) / (2 * closing)),
        ),
    )
    signal = resample_poly(amplitudes[cycle] * derivative, 1, oversample)
    signal *= 0.5 / np.abs(signal).max()
    if snr_db is not None:
        noise = rng.standard_normal(signal.size)
        noise *= math.sqrt(np.mean(signal**2) / 10 ** (snr_db / 10) / np.mean(noise**2))
        signal = signal + noise
        signal *= 0.5 / np.abs(signal).max()
    inside = int(np.searchsorted(bounds, duration)) - 1  # whole cycles inside the signal
    used_periods, used_amplitudes = periods[:inside], amplitudes[:inside]
    truth = {
        "f0_mean": float(np.mean(1.0 / used_periods)),
        "jitter_percent": float(100 * np.mean(np.abs(np.diff(used_periods))) / np.mean(used_periods)),
        "shimmer_percent": float(100 * np.mean(np.abs(np.diff(used_amplitudes))) / np.mean(used_amplitudes)),
    }
    return signal, truth


def synthesize_speech_like(
    *,
    phrases: list[int],
    sample_rate: int = 16000,
    syllable_s: float = 0.16,
    gap_s: float = 0.08,
    pause_s: float = 1.0,
    f0_start: float = 200.0,
    f0_end: float = 160.0,
    seed: int = 0,
):
    """Phrases of voiced 'syllables' (Rosenberg pulses under a raised-cosine envelope, F0 declining across
    each phrase) separated by short low-level gaps, the phrases separated by ``pause_s`` of near-silence.
    Returns (samples, truth) with the number of syllables and of pauses between phrases."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pieces = []

    def quiet(seconds):
        return 1e-4 * rng.standard_normal(int(round(seconds * sample_rate)))

    pieces.append(quiet(0.3))
    for number, syllables in enumerate(phrases):
        if number:
            pieces.append(quiet(pause_s))
        for index in range(syllables):
            start = f0_start + (f0_end - f0_start) * index / max(syllables - 1, 1)
            voiced, _ = synthesize_voice(
                f0=start,
                f0_end=start - 5,
                duration=syllable_s,
                sample_rate=sample_rate,
                jitter=0.003,
                shimmer=0.02,
                seed=seed * 1000 + number * 100 + index,
            )
            envelope = np.sin(np.linspace(0, math.pi, voiced.size)) ** 2
            pieces.append(voiced * envelope)
            if index < syllables - 1:
                pieces.append(quiet(gap_s) * 30)
    pieces.append(quiet(0.3))
    samples = np.concatenate(pieces)
    samples *= 0.5 / np.abs(samples).max()
    return samples, {"syllables": int(sum(phrases)), "pauses": len(phrases) - 1, "duration": samples.size / sample_rate}


def encode(samples, sample_rate: int, file_format: str = "WAV", subtype: str | None = None) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=file_format, subtype=subtype)
    return buffer.getvalue()


def demo_cases() -> list[DemoCase]:
    """A steady and a rough sustained vowel, and connected speech."""
    steady, _ = synthesize_voice(f0=210, duration=3.0, jitter=0.003, shimmer=0.015, snr_db=32, seed=11)
    rough, _ = synthesize_voice(f0=118, duration=3.0, jitter=0.022, shimmer=0.07, snr_db=14, seed=12)
    speech, _ = synthesize_speech_like(phrases=[7, 9, 6], f0_start=135, f0_end=105, seed=13)
    return [
        DemoCase(inputs={"task": "sustained_vowel"}, files=[("sustained-a-steady.wav", encode(steady, 16000))]),
        DemoCase(
            inputs={"task": "sustained_vowel"},
            files=[("sustained-a-rough.flac", encode(rough, 16000, "FLAC", "PCM_16"))],
        ),
        DemoCase(inputs={"task": "connected_speech"}, files=[("reading-passage.wav", encode(speech, 16000))]),
    ]
