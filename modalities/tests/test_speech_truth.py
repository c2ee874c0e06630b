"""Speech truth tests on inputs made here (``speech_signals``), independent of ``modalities.speech.synthetic``:
the harmonics-to-noise ratio against the energy ratio of a voice's periodic and noise components, and the
voice check against a pure tone, mains hum, white noise and voices."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess

import numpy as np
import pytest
from scipy.signal import resample_poly

from modalities import registry
from modalities.base import AnalysisContext, AnalysisError, InputError, InputFile, PatientFacts

from . import speech_signals as signals

FACTS = PatientFacts(
    age=50,
    sex_at_birth="female",
    bmi=None,
    has_diabetes=False,
    treated_hypertension=False,
    current_smoker=False,
    on_statin=False,
    prior_cardiovascular_disease=False,
)


def analyze(data: bytes, task: str = "sustained_vowel"):
    file = InputFile("voice", "audio/x-wav", len(data), lambda: contextlib.nullcontext(io.BytesIO(data)))
    analyzer = registry.get("speech")
    result = analyzer.analyze(
        AnalysisContext(inputs={"task": task}, files=[file], patient=FACTS, stage=lambda _: contextlib.nullcontext())
    )
    result.check(analyzer.modality.catalogue)
    return result


def prepare(data: bytes, name: str = "voice.wav"):
    """The upload hook, as the service calls it after the type check."""
    from assessments.uploads import PreparedUpload

    upload = PreparedUpload(name, "audio/x-wav", "wav", len(data), "", "", io.BytesIO(data))
    return registry.get("speech").prepare_files([upload])


def refusal(data: bytes) -> str:
    with pytest.raises(InputError) as caught:
        prepare(data)
    [message] = caught.value.errors.values()
    return message


# --- HNR against the energy ratio ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rate, f0", [(44100, 150.0), (48000, 200.0), (16000, 160.0)])
@pytest.mark.parametrize("ratio_db", [20.0, 15.0, 10.0])
def test_hnr_of_a_glottal_vowel_plus_white_noise_is_the_energy_ratio_within_1_db(rate, f0, ratio_db):
    voice = signals.glottal_vowel(f0, rate, 3.0)
    noise = signals.white_noise(voice, ratio_db, seed=int(ratio_db))
    truth = signals.energy_ratio_db(voice, noise)
    result = analyze(signals.encoded(voice + noise, rate))
    # Praat's cross-correlation HNR of a periodic signal plus white noise is its signal-to-noise ratio (Praat
    # manual, 'Voice 4. Additive noise'); measured 0.0-0.4 dB high here (at 16 kHz, 44.1 kHz and 48 kHz).
    assert result.biomarkers["hnr"] == pytest.approx(truth, abs=1.0)
    assert result.details["hnr_sample_rate_hz"] == rate and result.details["hnr_time_step_s"] == 0.01


def test_hnr_is_measured_at_the_recordings_own_rate_not_after_resampling():
    # The same voice and noise at 44.1 kHz, and resampled to 16 kHz (which removes the noise between 8 and
    # 22 kHz, not the harmonics): each file's HNR is its own energy ratio. Measured after resampling to 16 kHz,
    # the 44.1 kHz recording read about 4.4 dB high before issue 9.
    voice = signals.glottal_vowel(150.0, 44100, 3.0)
    noise = signals.white_noise(voice, 15.0, seed=7)
    voice_16k, noise_16k = resample_poly(voice, 160, 441), resample_poly(noise, 160, 441)
    truth_44k, truth_16k = signals.energy_ratio_db(voice, noise), signals.energy_ratio_db(voice_16k, noise_16k)
    assert truth_16k - truth_44k > 4.0
    at_44k = analyze(signals.encoded(voice + noise, 44100)).biomarkers["hnr"]
    at_16k = analyze(signals.encoded(voice_16k + noise_16k, 16000)).biomarkers["hnr"]
    assert at_44k == pytest.approx(truth_44k, abs=1.0) and at_16k == pytest.approx(truth_16k, abs=1.0)


def test_a_long_vowel_is_measured_on_a_regular_sample_of_its_frames_and_stays_within_1_db():
    # 12 s of voice is over the 6 s the standard 0.01 s step is kept for: the step widens, the truth holds.
    voice = signals.glottal_vowel(150.0, 44100, 12.0)
    noise = signals.white_noise(voice, 15.0, seed=8)
    result = analyze(signals.encoded(voice + noise, 44100))
    assert result.details["hnr_time_step_s"] > 0.01 and result.details["hnr_frames"] <= 600
    assert result.biomarkers["hnr"] == pytest.approx(signals.energy_ratio_db(voice, noise), abs=1.0)


# --- is it a voice? ------------------------------------------------------------------------------------------------
def test_a_pure_150_hz_tone_is_refused_at_upload_for_its_missing_harmonics():
    message = refusal(signals.encoded(signals.tone(150.0, 44100, 3.0), 44100))
    assert message.startswith("voice.wav: No voice found")
    assert "at least 3 harmonics within 20 dB of its fundamental" in message and "about 150 Hz" in message


def test_mains_hum_is_refused_at_upload():
    message = refusal(signals.encoded(signals.mains_hum(44100, 3.0), 44100))
    assert message.startswith("voice.wav: No voice found") and "between 75 and 600 Hz" in message


def test_white_noise_is_refused_at_upload():
    noise = 0.1 * np.random.default_rng(3).standard_normal(5 * 44100)
    assert refusal(signals.encoded(noise, 44100)).startswith("voice.wav: No voice found")


@pytest.mark.parametrize("rate, f0, ratio_db", [(44100, 150.0, 20.0), (16000, 400.0, 10.0), (8000, 100.0, 0.0)])
def test_a_vowel_with_its_harmonics_is_accepted_at_upload(rate, f0, ratio_db):
    voice = signals.glottal_vowel(f0, rate, 2.0)
    [stored] = prepare(signals.encoded(voice + signals.white_noise(voice, ratio_db, seed=4), rate))
    assert stored.size > 0


def test_a_tone_that_reaches_the_worker_fails_with_the_reason():
    # A file stored before the upload check existed: the worker applies the same rule.
    with pytest.raises(AnalysisError, match=r"^No voice found: only 0\.00 s .* at least 3 harmonics"):
        analyze(signals.encoded(signals.tone(150.0, 16000, 3.0), 16000))


def test_a_spoken_vowel_is_accepted_and_analysed():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng (Debian package espeak-ng) is not installed: no spoken vowel to test with")
    spoken = subprocess.run(
        ["espeak-ng", "-v", "en+f3", "-s", "60", "--stdout", "aaaaaaaaaaaaaaaaaaaa"], capture_output=True, check=True
    ).stdout
    [stored] = prepare(spoken)
    stored.content.seek(0)
    result = analyze(stored.content.read())
    assert 140 < result.biomarkers["f0_mean"] < 300 and result.biomarkers["voiced_fraction"] > 50
