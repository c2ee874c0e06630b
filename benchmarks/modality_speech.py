"""Speech analysis time and memory on this machine (no database, no storage server).

    .venv/bin/python benchmarks/modality_speech.py [--runs 30]

Inputs (the issue's typical input is 30 s of speech):

* 30 s of connected speech made by espeak-ng (Debian package espeak-ng) from Aesop's "The North Wind and the
  Sun" (public domain; the passage phoneticians record), repeated to 30 s, as espeak-ng writes it (22.05 kHz
  WAV) and resampled to 44.1 kHz (a common recorder rate; the analyzer measures pitch, pulses and intensity at
  16 kHz and HNR at the recording's own rate). Without espeak-ng, the synthetic speech-like signal of the test
  suite stands in (said in the output).
* 30 s of the same speech as a 44.1 kHz MP3 (decoding cost of a lossy format).
* a 5 s sustained vowel (synthetic, 44.1 kHz WAV): the voice-quality path.

Each run does what the web process does at upload (``prepare_files``: decode and check block by block, the
voice check on the decimated preview, and the copy without tags) and
what the worker does (``analyze`` with a fake context, every stage, the explanation image included); the two
are timed apart. Peak memory: tracemalloc's peak of Python-visible allocations (numpy included, Praat's own
C++ buffers not) in a separate untimed pass, and the resident-set (ru_maxrss) growth over the whole run.
Target: the issue's "every non-model analyzer under 2 s p95 for a typical input (30 s of speech)".
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import time
import tracemalloc
from contextlib import nullcontext

from _modality import no_stage, percentile, rss_mb, setup_django

TARGET_MS = 2000.0
PASSAGE = (
    "The North Wind and the Sun were disputing which was the stronger, when a traveler came along wrapped in a "
    "warm cloak. They agreed that the one who first succeeded in making the traveler take his cloak off should be "
    "considered stronger than the other. Then the North Wind blew as hard as he could, but the more he blew the "
    "more closely did the traveler fold his cloak around him; and at last the North Wind gave up the attempt. "
    "Then the Sun shined out warmly, and immediately the traveler took off his cloak. And so the North Wind was "
    "obliged to confess that the Sun was the stronger of the two."
)


def speech_30s():
    """(samples, rate, description) of 30 s of speech."""
    import numpy as np
    import soundfile

    from modalities.speech import synthetic

    if shutil.which("espeak-ng"):
        wav = subprocess.run(["espeak-ng", "-v", "en", "--stdout", PASSAGE], capture_output=True, check=True).stdout  # noqa: S603, S607
        samples, rate = soundfile.read(io.BytesIO(wav))
        repeats = int(np.ceil(30 * rate / samples.size))
        return np.tile(samples, repeats)[: 30 * rate], rate, "espeak-ng 'North Wind and the Sun'"
    samples, _ = synthetic.synthesize_speech_like(phrases=[9, 8, 10, 7, 9, 8, 10, 9, 8, 7], seed=1)
    return samples[: 30 * 16000], 16000, "synthetic speech-like signal (espeak-ng not installed)"


def build_inputs():
    from scipy.signal import resample_poly

    from modalities.speech import synthetic

    samples, rate, source = speech_30s()
    at_44k = resample_poly(samples, 44100, rate) if rate != 44100 else samples
    vowel, _ = synthetic.synthesize_voice(f0=190, duration=5.0, sample_rate=44100, jitter=0.005, shimmer=0.03, seed=2)
    return [
        (
            f"30 s speech, {rate / 1000:g} kHz WAV ({source})",
            synthetic.encode(samples, rate, "WAV", "PCM_16"),
            "connected_speech",
            True,
        ),
        ("30 s speech, 44.1 kHz WAV", synthetic.encode(at_44k, 44100, "WAV", "PCM_16"), "connected_speech", True),
        (
            "30 s speech, 44.1 kHz MP3",
            synthetic.encode(at_44k, 44100, "MP3", "MPEG_LAYER_III"),
            "connected_speech",
            True,
        ),
        (
            "5 s sustained vowel, 44.1 kHz WAV",
            synthetic.encode(vowel, 44100, "WAV", "PCM_16"),
            "sustained_vowel",
            False,
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    setup_django("speech")

    from assessments.uploads import PreparedUpload
    from modalities.base import AnalysisContext, InputFile, PatientFacts
    from modalities.speech.analyzer import SpeechAnalyzer

    analyzer = SpeechAnalyzer()
    facts = PatientFacts(
        age=64,
        sex_at_birth="male",
        bmi=None,
        has_diabetes=False,
        treated_hypertension=False,
        current_smoker=False,
        on_statin=False,
        prior_cardiovascular_disease=False,
    )

    def upload_check(data: bytes):
        prepared = PreparedUpload("voice", "audio/x-wav", "wav", len(data), "", "", io.BytesIO(data))
        analyzer.prepare_files([prepared])

    def analysis(data: bytes, task: str):
        file = InputFile("voice", "audio/x-wav", len(data), lambda: nullcontext(io.BytesIO(data)))
        result = analyzer.analyze(AnalysisContext(inputs={"task": task}, files=[file], patient=facts, stage=no_stage))
        result.check(analyzer.modality.catalogue)
        return result

    inputs = build_inputs()
    for _, data, task, _ in inputs:  # warm-up: imports, first-call costs
        upload_check(data)
        analysis(data, task)
    rss_before = rss_mb()
    print(f"speech analyzer, {args.runs} runs per input, {os.cpu_count()} CPUs")
    met = True
    for label, data, task, typical in inputs:
        checks, analyses = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            upload_check(data)
            checks.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            result = analysis(data, task)
            analyses.append((time.perf_counter() - started) * 1000)
        tracemalloc.start()
        analysis(data, task)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        p50, p95 = percentile(analyses, 50), percentile(analyses, 95)
        verdict = ""
        if typical:
            met = met and p95 < TARGET_MS
            verdict = f"  target p95 < {TARGET_MS:.0f} ms: {'met' if p95 < TARGET_MS else 'NOT met'}"
        print(f"\n{label} ({len(data) / 1e6:.1f} MB)")
        print(
            f"  upload check (prepare_files): p50 {percentile(checks, 50):.0f} ms, p95 {percentile(checks, 95):.0f} ms"
        )
        print(f"  analysis (analyze):           p50 {p50:.0f} ms, p95 {p95:.0f} ms{verdict}")
        print(f"  tracemalloc peak of one analysis: {peak / 1e6:.1f} MB")
        extra = result.details
        hnr = result.biomarkers.get("hnr", result.biomarkers.get("hnr_connected"))
        print(
            f"  result: {extra.get('syllable_nuclei', '-')} syllables, {extra.get('pauses', '-')} pauses, "
            f"F0 {result.biomarkers['f0_mean']:.0f} Hz, HNR {hnr} dB ({extra['hnr_frames']} frames at "
            f"{extra['hnr_sample_rate_hz']} Hz, step {extra['hnr_time_step_s']} s), risk {result.risk_level or 'none'}"
        )
    print(f"\nresident set growth over all runs: {rss_mb() - rss_before:.1f} MB (peak RSS {rss_mb():.0f} MB)")
    print(f"target (30 s of speech under {TARGET_MS:.0f} ms p95): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
