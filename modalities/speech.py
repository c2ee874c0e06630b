"""The speech modality: one voice recording in, Praat's voice and fluency measures out.

What is measured, and by which published method (Praat 6.1.38 through praat-parselmouth: Boersma P, Weenink D,
Praat: doing phonetics by computer; Jadoul Y, Thompson B, de Boer B, J Phonetics 2018;71:1-15):

* F0 mean and variability (SD in Hz and on the semitone scale): "Sound: To Pitch (ac)" with Praat's standard
  settings (autocorrelation, Boersma 1993, Proc Inst Phonetic Sci Amsterdam 17:97-110), pitch range 75-600 Hz
  (the manual's standard range for voice analysis, "Voice" page).
* Jitter (local) and shimmer (local): glottal pulses by waveform matching ("Sound & Pitch: To PointProcess
  (cc)"; with the AC pitch this is Praat's "Sound: To PointProcess (periodic, cc)"), then "PointProcess: Get
  jitter (local)" and "PointProcess & Sound: Get shimmer (local)" with the voice-report settings the manual
  gives ("Voice 2. Jitter"): period floor 0.8 / pitch ceiling, period ceiling 1.25 / pitch floor, maximum period
  factor 1.3, maximum amplitude factor 1.6.
* Harmonics-to-noise ratio: as Praat's Voice report computes it ("Mean harmonics-to-noise ratio",
  Pitch_getMeanStrength in dB): the mean over voiced frames of 10 log10(r / (1 - r)), r the normalised
  autocorrelation peak of the chosen pitch candidate (Boersma 1993, who derives HNR from r). It comes from the
  pitch analysis already made; "To Harmonicity (cc)" gives the same values on test signals (within 0.3 dB up
  to 20 dB HNR) but searches lags up to the Nyquist frequency and takes about 3 s per 30 s of speech.
* Voiced fraction: the share of pitch frames inside the sounding (non-pause) part of the recording that the
  pitch analysis calls voiced (the complement of Praat's "fraction of unvoiced frames", "Voice 1").
* Pauses and speaking rate: de Jong NH, Wempe T, Behav Res Methods 2009;41:385-390 (Praat script "Syllable
  Nuclei" v2, 2010): intensity (minimum pitch 50 Hz, mean subtracted); silence threshold 25 dB below the
  0.99 quantile of intensity; a pause is a silent interval of at least 0.3 s between sounding intervals
  (at least 0.1 s); a syllable nucleus is an intensity peak above the threshold, followed by a dip of more
  than 2 dB before the next peak, inside a sounding interval and voiced by the script's own pitch analysis
  (To Pitch (ac) 0.02 s, 30-450 Hz, voicing threshold 0.25). One documented difference from the script: the
  script never tests its last peak (its loop stops one short); here the last peak is tested against the
  intensity minimum after it, so the final syllable counts.

The recording is told apart by task (an input): a sustained vowel (/a/ held 3-5 s, the protocol jitter,
shimmer and HNR norms were made on: Patel et al., Am J Speech Lang Pathol 2018;27:887-905) or connected
speech (reading or conversation, where pauses and speaking rate mean something). Jitter, shimmer and HNR of
connected speech are reported under their own names, without reference ranges: the sustained-vowel norms do
not apply to them.

The recording is analysed at 16 kHz at most (resampled with an anti-aliasing polyphase filter when higher):
Praat's waveform matching interpolates between samples, so period and amplitude precision are not tied to the
sample interval, and the analysis time of a 30 s recording stays within the 2 s budget (cross-correlation
analyses grow with the square of the rate: at 44.1 kHz they take five times longer).

Risk rule (voice-quality concern; sustained vowel only; a screening convention, not a validated disease-risk
model): each of jitter (local) > 1.04 %, shimmer (local) > 3.81 % (MDVP thresholds quoted in the Praat manual)
and HNR < 20 dB (the conventional lower limit for a healthy sustained vowel) is a finding. A finding adds
up to 33.3 points, in proportion to how far beyond its threshold the value lies, reaching the full 33.3 at
twice the threshold (2.08 %, 7.62 %) or 10 dB below it (HNR 10 dB). risk_score = the sum (0-100); risk_level by
the number of findings: 0 low, 1 borderline, 2 intermediate, 3 high. No score for connected speech (no
norms), for a clipped recording (clipping distorts amplitude and noise measures) or when a measure is
undefined. Confidence: none (the rule gives no calibrated probability).
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from typing import IO, Any

from django import forms

from .base import (
    AnalysisContext,
    AnalysisError,
    AnalysisResult,
    Analyzer,
    BiomarkerSpec,
    DemoCase,
    InputError,
    StageSpec,
)
from .registry import register

METHOD_VERSION = "speech 1.0 (Praat 6.1.38 via parselmouth; de Jong & Wempe 2009 syllable nuclei)"

# --- limits of what the analysis accepts --------------------------------------------------------------------
MIN_SAMPLE_RATE = 8000  # telephone band: F0 and its low harmonics are kept; lower rates lose HNR's harmonics
ANALYSIS_RATE = 16000  # see the module docstring
MIN_DURATION_S = 1.0  # a second holds 75+ periods at the lowest F0 analysed: enough for jitter and shimmer
MAX_DURATION_S = 300.0  # five minutes: keeps one analysis within the worker's deadline
# Encoders pad a few frames (an MP3 or OGG made as exactly 5 minutes decodes a few tens of ms longer): a
# second of slack so such a recording is not refused, and no more, so the message's limit is the real one.
DURATION_SLACK_S = 1.0
MIN_VOICED_S = 0.5  # less voice than this gives perturbation measures from a handful of periods
# Peak level below which a recording holds nothing audible (16-bit audio at -60 dBFS uses its lowest 5 bits).
SILENT_PEAK_DBFS = -60.0
# A sample this close to full scale is taken as clipped; more than 0.1 % of them marks the recording clipped
# (a normalised, unclipped recording touches full scale on a handful of samples at most).
CLIP_LEVEL = 0.99
CLIPPED_FRACTION = 0.001
# A WAV/FLAC/MP3 whose decodable audio falls short of its declared length by more than this is truncated.
TRUNCATION_TOLERANCE = 0.02

# --- Praat settings (see the module docstring for the sources) ----------------------------------------------
PITCH_FLOOR = 75.0
PITCH_CEILING = 600.0
PERIOD_FLOOR = 0.8 / PITCH_CEILING
PERIOD_CEILING = 1.25 / PITCH_FLOOR
MAX_PERIOD_FACTOR = 1.3
MAX_AMPLITUDE_FACTOR = 1.6
# de Jong & Wempe (2009) / Syllable Nuclei v2 defaults.
SILENCE_DB = -25.0
MIN_DIP_DB = 2.0
MIN_PAUSE_S = 0.3
MIN_SOUNDING_S = 0.1
INTENSITY_MIN_PITCH = 50.0

# --- norms --------------------------------------------------------------------------------------------------
JITTER_MAX_PERCENT = 1.04
SHIMMER_MAX_PERCENT = 3.81
HNR_MIN_DB = 20.0
# Typical adult speaking F0 (Baken RJ, Clinical Measurement of Speech and Voice, 1987; 2nd ed. with Orlikoff
# RF, 2000): shown beside the F0 result for the patient's sex, not a catalogue range (one range cannot serve
# both sexes).
F0_RANGES = {"male": (85.0, 180.0), "female": (165.0, 255.0)}
F0_SOURCE = "Baken RJ, Clinical Measurement of Speech and Voice (1987; 2nd ed. Baken & Orlikoff 2000)"

TASKS = {
    "sustained_vowel": "Sustained vowel (/a/ held 3-5 s)",
    "connected_speech": "Connected speech (reading or conversation)",
}
DEFAULT_TASK = "connected_speech"

# libmagic's names for the accepted formats differ between versions (audio/x-wav vs audio/wav, audio/x-flac
# vs audio/flac, application/ogg for older Ogg detection); the decoder decides in the end.
ACCEPTED_TYPES = {
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "application/ogg": "ogg",
    "audio/mpeg": "mp3",
}

PRAAT = "Boersma & Weenink, Praat 6.1.38 (via parselmouth, Jadoul et al. J Phonetics 2018;71:1)"
PRAAT_PITCH = f"{PRAAT}: To Pitch (ac), 75-600 Hz (Boersma 1993, Proc Inst Phonetic Sci Amsterdam 17:97)"
PRAAT_JITTER = (
    f"{PRAAT}: PointProcess Get jitter (local), voice-report settings; norm < 1.04 % = MDVP Jitt threshold "
    "quoted in the Praat manual 'Voice 2. Jitter' (sustained /a/)"
)
PRAAT_SHIMMER = (
    f"{PRAAT}: Get shimmer (local), voice-report settings; norm < 3.81 % = MDVP Shim threshold quoted in the "
    "Praat manual 'Voice 3. Shimmer' (sustained /a/)"
)
PRAAT_HNR = (
    f"{PRAAT}: Voice report mean HNR (Boersma 1993); >= 20 dB: conventional lower limit for a "
    "healthy sustained vowel (a screening convention, not one normative study)"
)
CONNECTED = "no accepted norm for connected speech: shown for trend"
DE_JONG = "de Jong & Wempe, Behav Res Methods 2009;41:385 (Praat Syllable Nuclei v2)"

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec("f0_mean", "Mean F0", "voice_pitch", "Hz", f"{PRAAT_PITCH}; sex-specific range in results"),
        BiomarkerSpec("f0_sd", "F0 variability (SD)", "voice_pitch", "Hz", f"{PRAAT_PITCH}; no single norm"),
        BiomarkerSpec(
            "f0_semitone_sd",
            "F0 variability (SD, semitone scale)",
            "voice_pitch",
            "semitones",
            f"{PRAAT_PITCH}; monopitch measure as in Rusz et al., J Acoust Soc Am 2011;129:350; no single norm",
        ),
        BiomarkerSpec(
            "jitter_local",
            "Jitter (local), sustained vowel",
            "voice_quality",
            "%",
            PRAAT_JITTER,
            reference_high=JITTER_MAX_PERCENT,
        ),
        BiomarkerSpec(
            "shimmer_local",
            "Shimmer (local), sustained vowel",
            "voice_quality",
            "%",
            PRAAT_SHIMMER,
            reference_high=SHIMMER_MAX_PERCENT,
        ),
        BiomarkerSpec(
            "hnr",
            "Harmonics-to-noise ratio, sustained vowel",
            "voice_quality",
            "dB",
            PRAAT_HNR,
            reference_low=HNR_MIN_DB,
        ),
        BiomarkerSpec(
            "jitter_local_connected",
            "Jitter (local), connected speech",
            "voice_quality",
            "%",
            f"{PRAAT}: Get jitter (local); {CONNECTED}",
        ),
        BiomarkerSpec(
            "shimmer_local_connected",
            "Shimmer (local), connected speech",
            "voice_quality",
            "%",
            f"{PRAAT}: Get shimmer (local); {CONNECTED}",
        ),
        BiomarkerSpec(
            "hnr_connected",
            "Harmonics-to-noise ratio, connected speech",
            "voice_quality",
            "dB",
            f"{PRAAT}: Voice report mean HNR; {CONNECTED}",
        ),
        BiomarkerSpec(
            "voiced_fraction",
            "Voiced fraction of speaking time",
            "voice_quality",
            "%",
            f"{PRAAT}: voiced pitch frames in the sounding part (complement of 'fraction of unvoiced frames', "
            "Praat manual 'Voice 1'); norm depends on the task",
        ),
        BiomarkerSpec(
            "pause_rate",
            "Pause rate",
            "fluency",
            "pauses/min",
            f"{DE_JONG}: silences >= 0.3 s, 25 dB below the 0.99 intensity quantile; no single norm",
        ),
        BiomarkerSpec(
            "speaking_rate",
            "Speaking rate",
            "fluency",
            "syllables/s",
            f"{DE_JONG}: syllable nuclei per second of recording; no single norm",
        ),
        BiomarkerSpec(
            "articulation_rate",
            "Articulation rate",
            "fluency",
            "syllables/s",
            f"{DE_JONG}: syllable nuclei per second of speaking time (pauses excluded); no single norm",
        ),
    ]
}

DYSPHONIA_GUIDELINE = (
    "Stachler et al., Clinical Practice Guideline: Hoarseness (Dysphonia) (Update), "
    "Otolaryngol Head Neck Surg 2018;158(1 suppl):S1-S42"
)
PROTOCOL = (
    "Patel et al., Recommended protocols for instrumental assessment of voice, Am J Speech Lang Pathol 2018;27:887"
)
REFER_TEXT = (
    "Acoustic voice measures beyond norms support, but do not establish, dysphonia: assess the voice perceptually "
    "and examine the larynx (laryngoscopy) if hoarseness persists beyond 4 weeks or a serious cause is suspected."
)


class AudioRejected(ValueError):
    """The file is not a recording this analysis can use; the message says why, for the clinician."""


# --- decoding -----------------------------------------------------------------------------------------------
@dataclass
class Recording:
    samples: Any  # numpy float64, mono, at ``sample_rate``
    sample_rate: int  # analysis rate
    original_rate: int
    channels: int
    duration: float
    peak_dbfs: float
    clipped_fraction: float
    format: str


def _wav_declared_end(fileobj: IO[bytes]) -> int | None:
    """Where a RIFF/WAVE file's data chunk says it ends (bytes), or None when unknown. libsndfile silently
    shortens a truncated WAV to the bytes present, so truncation is read from the header here."""
    fileobj.seek(0)
    head = fileobj.read(65536)
    fileobj.seek(0)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position = 12
    while position + 8 <= len(head):
        chunk, size = head[position : position + 4], int.from_bytes(head[position + 4 : position + 8], "little")
        if chunk == b"data":
            # Writers that stream (espeak-ng --stdout, sox to a pipe) cannot know the length and write 0 or a
            # placeholder near 2 or 4 GiB; no complete recording we accept comes near that size.
            if size == 0 or size >= 0x7F000000:
                return None
            return position + 8 + size
        position += 8 + size + (size & 1)
    return None


def _size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


def _dbfs(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def read_recording(fileobj: IO[bytes], *, keep_samples: bool = True) -> Recording:
    """Decode and check a recording. Raises AudioRejected with a reason a clinician can read.

    With ``keep_samples=False`` (the upload check) the audio is decoded block by block and only measured, so a
    long upload is never held in memory whole.
    """
    import numpy as np
    import soundfile

    fileobj.seek(0)
    try:
        audio = soundfile.SoundFile(fileobj)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        raise AudioRejected("the audio cannot be decoded (not a readable WAV, FLAC, OGG or MP3 recording).") from None
    with audio:
        rate, channels, declared = audio.samplerate, audio.channels, audio.frames
        if rate < MIN_SAMPLE_RATE:
            raise AudioRejected(f"sampling rate {rate} Hz is below the {MIN_SAMPLE_RATE} Hz this analysis needs.")
        if declared > 0 and declared / rate > MAX_DURATION_S + DURATION_SLACK_S:
            raise AudioRejected(
                f"the recording is {declared / rate:.0f} s long; this analysis takes at most {MAX_DURATION_S:.0f} s."
            )
        blocks, decoded, peak, clipped = [], 0, 0.0, 0
        try:
            while True:
                block = audio.read(65536, dtype="float32", always_2d=True)
                if not len(block):
                    break
                decoded += len(block)
                magnitude = np.abs(block)
                peak = max(peak, float(magnitude.max()))
                # Per channel, before mixing: a channel clips on its own.
                clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
                if keep_samples:
                    blocks.append(block.mean(axis=1))  # mono as it comes: 5 min at 48 kHz stays under 60 MB
                if decoded / rate > MAX_DURATION_S + DURATION_SLACK_S:
                    raise AudioRejected(f"the recording is longer than the {MAX_DURATION_S:.0f} s this analysis takes.")
        except (soundfile.LibsndfileError, RuntimeError):
            raise AudioRejected("the audio data is corrupt or truncated: it cannot be decoded to the end.") from None
        file_format = audio.format
    if declared > 0 and decoded < declared * (1 - TRUNCATION_TOLERANCE):
        raise AudioRejected(
            f"the file is truncated: it declares {declared / rate:.1f} s of audio but only {decoded / rate:.1f} s "
            "can be decoded."
        )
    if file_format == "WAV":
        declared_end = _wav_declared_end(fileobj)
        size = _size(fileobj)
        if declared_end is not None and size < declared_end * (1 - TRUNCATION_TOLERANCE):
            raise AudioRejected(
                f"the file is truncated: its header declares {declared_end:,} bytes but the file holds {size:,}."
            )
    fileobj.seek(0)
    duration = decoded / rate
    if duration < MIN_DURATION_S:
        raise AudioRejected(
            f"the recording is {duration:.2f} s long; this analysis needs at least {MIN_DURATION_S:.0f} s."
        )
    peak_dbfs = _dbfs(peak)
    if peak_dbfs < SILENT_PEAK_DBFS:
        level = "digital silence" if peak == 0 else f"peak level {peak_dbfs:.0f} dBFS"
        raise AudioRejected(
            f"the recording is silent ({level}; below {SILENT_PEAK_DBFS:.0f} dBFS nothing audible was recorded)."
        )
    samples = None
    analysis_rate = rate
    if keep_samples:
        samples = np.concatenate(blocks).astype(np.float64)
        if rate > ANALYSIS_RATE:
            from scipy.signal import resample_poly

            divisor = math.gcd(rate, ANALYSIS_RATE)
            samples = resample_poly(samples, ANALYSIS_RATE // divisor, rate // divisor)
            analysis_rate = ANALYSIS_RATE
    return Recording(
        samples=samples,
        sample_rate=analysis_rate,
        original_rate=rate,
        channels=channels,
        duration=duration,
        peak_dbfs=peak_dbfs,
        clipped_fraction=clipped / max(decoded * channels, 1),
        format=file_format,
    )


# --- measurement ----------------------------------------------------------------------------------------------
@dataclass
class Segmentation:
    """Intensity contour and the sounding / silent intervals of de Jong & Wempe's silence detection."""

    intensity: Any  # parselmouth Intensity
    threshold_db: float
    sounding: list[tuple[float, float]]
    pauses: list[tuple[float, float]]  # silent intervals between two sounding ones


@dataclass
class VoiceMeasures:
    f0_mean: float
    f0_sd: float
    f0_semitone_sd: float
    jitter_percent: float
    shimmer_percent: float
    hnr_db: float
    voiced_fraction_percent: float
    voiced_seconds: float
    periods: int
    pitch_times: Any
    pitch_values: Any
    analysed: tuple[float, float]


@dataclass
class Fluency:
    syllables: list[float] = field(default_factory=list)
    speaking_time: float = 0.0


def _praat():
    import parselmouth
    from parselmouth.praat import call

    return parselmouth, call


def segment(sound) -> Segmentation:
    """Silence detection as in de Jong & Wempe (2009): 'To TextGrid (silences)' on the intensity, threshold
    25 dB below the 0.99 quantile (written relative to the maximum, as Praat's command wants it)."""
    parselmouth, call = _praat()
    intensity = call(sound, "To Intensity", INTENSITY_MIN_PITCH, 0.0, True)
    min_db = call(intensity, "Get minimum", 0, 0, "Parabolic")
    max_db = call(intensity, "Get maximum", 0, 0, "Parabolic")
    max99 = call(intensity, "Get quantile", 0, 0, 0.99)
    threshold = max(max99 + SILENCE_DB, min_db)
    relative = SILENCE_DB - (max_db - max99)
    with warnings.catch_warnings():
        # Praat warns when loudest and softest parts differ little (a sustained vowel): expected, not a fault.
        warnings.simplefilter("ignore", parselmouth.PraatWarning)
        grid = call(intensity, "To TextGrid (silences)", relative, MIN_PAUSE_S, MIN_SOUNDING_S, "silent", "sounding")
    intervals = []
    for index in range(1, int(call(grid, "Get number of intervals", 1)) + 1):
        intervals.append(
            (
                call(grid, "Get label of interval", 1, index),
                call(grid, "Get start time of interval", 1, index),
                call(grid, "Get end time of interval", 1, index),
            )
        )
    sounding = [(start, end) for label, start, end in intervals if label == "sounding"]
    pauses = []
    if sounding:
        first, last = sounding[0][0], sounding[-1][1]
        pauses = [(s, e) for label, s, e in intervals if label == "silent" and s >= first and e <= last]
    return Segmentation(intensity=intensity, threshold_db=threshold, sounding=sounding, pauses=pauses)


def measure_voice(sound, segmentation: Segmentation) -> VoiceMeasures:
    """F0, jitter, shimmer, HNR and voiced fraction with Praat's standard voice-analysis settings."""
    import numpy as np

    _, call = _praat()
    pitch = call(sound, "To Pitch (ac)", 0.0, PITCH_FLOOR, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, PITCH_CEILING)
    frequencies = pitch.selected_array["frequency"]
    times = pitch.xs()
    voiced = frequencies > 0
    step = pitch.time_step
    voiced_seconds = float(np.count_nonzero(voiced) * step)
    if not voiced.any():
        raise AnalysisError(
            "No voice found: Praat's pitch analysis found no voiced (periodic) sound in the recording. "
            "Check that the recording holds the patient's voice."
        )
    if voiced_seconds < MIN_VOICED_S:
        raise AnalysisError(
            f"Too little voice: only {voiced_seconds:.2f} s of the recording is voiced; this analysis needs at "
            f"least {MIN_VOICED_S} s."
        )
    in_speech = np.zeros_like(voiced)
    for start, end in segmentation.sounding:
        in_speech |= (times >= start) & (times <= end)
    speech_frames = int(np.count_nonzero(in_speech)) or len(times)
    voiced_fraction = 100.0 * np.count_nonzero(voiced & in_speech) / speech_frames
    pulses = call([sound, pitch], "To PointProcess (cc)")
    jitter = call(pulses, "Get jitter (local)", 0, 0, PERIOD_FLOOR, PERIOD_CEILING, MAX_PERIOD_FACTOR)
    shimmer = call(
        [sound, pulses],
        "Get shimmer (local)",
        0,
        0,
        PERIOD_FLOOR,
        PERIOD_CEILING,
        MAX_PERIOD_FACTOR,
        MAX_AMPLITUDE_FACTOR,
    )
    periods = call(pulses, "Get number of periods", 0, 0, PERIOD_FLOOR, PERIOD_CEILING, MAX_PERIOD_FACTOR)
    # Praat clamps r to [1e-15, 1 - 1e-15] before converting (Pitch strength unit "harmonics-to-noise dB").
    strength = np.clip(pitch.selected_array["strength"][voiced], 1e-15, 1 - 1e-15)
    hnr = float(np.mean(10 * np.log10(strength / (1 - strength))))
    return VoiceMeasures(
        f0_mean=call(pitch, "Get mean", 0, 0, "Hertz"),
        f0_sd=call(pitch, "Get standard deviation", 0, 0, "Hertz"),
        f0_semitone_sd=call(pitch, "Get standard deviation", 0, 0, "semitones"),
        jitter_percent=100.0 * jitter,
        shimmer_percent=100.0 * shimmer,
        hnr_db=hnr,
        voiced_fraction_percent=float(voiced_fraction),
        voiced_seconds=voiced_seconds,
        periods=int(periods),
        pitch_times=times + 0.0,
        pitch_values=np.where(voiced, frequencies, np.nan),
        analysed=(sound.xmin, sound.xmax),
    )


def syllable_nuclei(sound, segmentation: Segmentation) -> Fluency:
    """de Jong & Wempe (2009): intensity peaks above the threshold, each followed by a dip of more than 2 dB,
    inside a sounding interval, and voiced (their pitch settings)."""
    import numpy as np

    _, call = _praat()
    intensity = segmentation.intensity
    threshold = segmentation.threshold_db
    contour = call(call(intensity, "Down to Matrix"), "To Sound (slice)", 1)
    extrema = call(contour, "To PointProcess (extrema)", 1, True, False, "Sinc70")
    count = int(call(extrema, "Get number of points"))
    peaks = []
    for index in range(1, count + 1):
        time = call(extrema, "Get time from index", index)
        value = call(intensity, "Get value at time", time, "Cubic")
        if value > threshold:
            peaks.append((time, value))
    valid = []
    end = intensity.xmax
    for index, (time, value) in enumerate(peaks):
        following = peaks[index + 1][0] if index + 1 < len(peaks) else end
        dip = call(intensity, "Get minimum", time, following, "None")
        if math.isfinite(dip) and abs(value - dip) > MIN_DIP_DB:
            valid.append(time)
    pitch = call(sound, "To Pitch (ac)", 0.02, 30, 4, "no", 0.03, 0.25, 0.01, 0.35, 0.25, 450)
    nuclei = []
    for time in valid:
        if not any(start <= time <= stop for start, stop in segmentation.sounding):
            continue
        if math.isnan(pitch.get_value_at_time(time)):
            continue
        nuclei.append(time)
    speaking = float(sum(stop - start for start, stop in segmentation.sounding))
    return Fluency(syllables=[float(t) for t in np.asarray(nuclei)], speaking_time=speaking)


# --- risk rule ------------------------------------------------------------------------------------------------
# name: (threshold, direction, the distance beyond the threshold that earns the full share)
RULE = {
    "jitter_local": (JITTER_MAX_PERCENT, "above", JITTER_MAX_PERCENT),
    "shimmer_local": (SHIMMER_MAX_PERCENT, "above", SHIMMER_MAX_PERCENT),
    "hnr": (HNR_MIN_DB, "below", 10.0),
}
SHARE = 100.0 / len(RULE)
LEVELS = {0: "low", 1: "borderline", 2: "intermediate", 3: "high"}


def voice_quality_risk(values: dict[str, float]) -> tuple[float, str, list[dict]]:
    """(risk_score, risk_level, contributions) by the rule in the module docstring."""
    contributions, findings, score = [], 0, 0.0
    for name, (threshold, direction, full) in RULE.items():
        value = values[name]
        excess = value - threshold if direction == "above" else threshold - value
        points = SHARE * min(max(excess, 0.0) / full, 1.0)
        findings += excess > 0
        score += points
        contributions.append(
            {
                "factor": name,
                "current_value": round(value, 3),
                "optimal_value": threshold,
                "beyond_norm": excess > 0,
                "contribution_points": round(points, 2),
            }
        )
    score = round(min(score, 100.0), 1)
    for item in contributions:
        item["risk_with_optimal"] = round(score - item["contribution_points"], 1)
    return score, LEVELS[findings], contributions


# --- explanation image ----------------------------------------------------------------------------------------
def render_explanation(
    *, duration: float, voice: VoiceMeasures, segmentation: Segmentation, fluency: Fluency | None, title: str
) -> bytes:
    """F0 contour (top) and intensity with the silence threshold, pauses and syllable nuclei (bottom)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    width, height = 960, 490
    left, right = 70, 20
    panels = [(56, 220), (270, 420)]  # top, bottom of each plot area
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.load_default(size=13)
    except (TypeError, OSError):  # Pillow without FreeType
        font = ImageFont.load_default()
    ink, grid, pause_fill = (33, 37, 41), (222, 226, 230), (236, 239, 242)
    f0_colour, intensity_colour, nucleus_colour = (15, 97, 115), (90, 90, 90), (166, 27, 27)
    span = max(duration, 1e-6)

    def x_of(t):
        return left + (width - left - right) * (t / span)

    draw.text((left, 12), title, fill=ink, font=font)
    for top, bottom in panels:
        for start, end in segmentation.pauses:
            draw.rectangle([x_of(start), top, x_of(end), bottom], fill=pause_fill)
        draw.rectangle([left, top, width - right, bottom], outline=ink)
    step = 1.0 if duration <= 12 else 5.0 if duration <= 60 else 30.0
    tick = 0.0
    while tick <= duration + 1e-9:
        x = x_of(tick)
        for top, bottom in panels:
            draw.line([x, top, x, bottom], fill=grid)
        draw.text((x - 6, panels[1][1] + 6), f"{tick:g}", fill=ink, font=font)
        tick += step
    draw.text(((left + width - right) // 2 - 24, panels[1][1] + 22), "time (s)", fill=ink, font=font)

    def axis(top, bottom, low, high, unit):
        for fraction in (0.0, 0.5, 1.0):
            value = low + (high - low) * fraction
            y = bottom - (bottom - top) * fraction
            draw.text((6, y - 7), f"{value:.0f}", fill=ink, font=font)
        draw.text((left, top - 17), unit, fill=ink, font=font)

    # F0
    top, bottom = panels[0]
    values = voice.pitch_values
    finite = values[np.isfinite(values)]
    low = max(0.0, float(np.floor(finite.min() / 25) * 25) - 25) if finite.size else 0.0
    high = float(np.ceil(finite.max() / 25) * 25) + 25 if finite.size else PITCH_CEILING
    axis(top, bottom, low, high, "F0 (Hz)")
    for t, f in zip(voice.pitch_times, values, strict=True):
        if np.isfinite(f):
            x, y = x_of(t), bottom - (bottom - top) * (f - low) / (high - low)
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=f0_colour)
    # intensity
    top, bottom = panels[1]
    intensity = segmentation.intensity
    levels = intensity.values[0]
    times = intensity.xs()
    floor_db = segmentation.threshold_db - 15
    peak_db = float(levels.max()) + 3
    axis(top, bottom, floor_db, peak_db, "Intensity (dB)")

    def y_of(level):
        level = min(max(level, floor_db), peak_db)
        return bottom - (bottom - top) * (level - floor_db) / (peak_db - floor_db)

    points = [(x_of(t), y_of(v)) for t, v in zip(times, levels, strict=True)]
    if len(points) > 1:
        draw.line(points, fill=intensity_colour, width=1)
    threshold_y = y_of(segmentation.threshold_db)
    for x in range(left, width - right, 8):
        draw.line([x, threshold_y, min(x + 4, width - right), threshold_y], fill=nucleus_colour)
    if fluency is not None:
        for t in fluency.syllables:
            x = x_of(t)
            draw.polygon([(x, top + 10), (x - 4, top + 2), (x + 4, top + 2)], fill=nucleus_colour)
    legend = "grey bands: pauses >= 0.3 s; dashed: silence threshold"
    if fluency is not None:
        legend += "; red marks: syllable nuclei"
    draw.text((left, height - 20), legend, fill=ink, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- synthetic voices (demo and tests) ----------------------------------------------------------------------
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


# --- the analyzer ---------------------------------------------------------------------------------------------
class SpeechInputForm(forms.Form):
    task = forms.ChoiceField(
        label="Recording task",
        choices=list(TASKS.items()),
        initial=DEFAULT_TASK,
        required=False,
        help_text="Jitter, shimmer and HNR norms (and the voice-quality score) apply to a sustained vowel only; "
        "pause and speaking rate to connected speech only.",
    )


@register
class SpeechAnalyzer(Analyzer):
    name = "speech"
    no_confidence_reason = "Not applicable: a screening rule on measured voice parameters, not a calibrated probability"
    label = "Speech and voice"
    description = (
        "F0, jitter, shimmer, harmonics-to-noise ratio and voiced fraction (Praat), pause rate and speaking rate "
        "(de Jong & Wempe 2009) from one WAV, FLAC, OGG or MP3 recording."
    )
    queue = "default"
    accepted_types = ACCEPTED_TYPES
    requires_files = True
    deadline_seconds = 120
    stages = (
        StageSpec("decode", "Decode and check the recording"),
        StageSpec("segment", "Find speech and pauses"),
        StageSpec("voice", "Pitch, jitter, shimmer and HNR"),
        StageSpec("rate", "Syllable nuclei and speaking rate"),
        StageSpec("explain", "Voice-quality rule and explanation"),
    )
    catalogue = CATALOGUE
    form_class = SpeechInputForm

    def initial_inputs(self, patient) -> dict[str, Any]:
        return {"task": DEFAULT_TASK}

    def validate_inputs(self, *, inputs: dict[str, Any], patient) -> dict[str, Any]:
        if not isinstance(inputs, dict):
            raise InputError({"inputs": "Inputs must be a JSON object."})
        unknown = sorted(set(inputs) - {"task"})
        if unknown:
            raise InputError(
                {name: "Unknown input for the speech analysis (it takes only 'task')." for name in unknown}
            )
        task = inputs.get("task") or DEFAULT_TASK
        if not isinstance(task, str) or task not in TASKS:
            raise InputError({"task": f"Choose one of: {', '.join(TASKS)}."})
        return {"task": task}

    def prepare_files(self, files: list) -> list:
        if len(files) != 1:
            raise InputError({"files": f"Upload exactly one recording per speech assessment ({len(files)} given)."})
        upload = files[0]
        try:
            read_recording(upload.content, keep_samples=False)
        except AudioRejected as error:
            raise InputError({"files": f"{upload.original_filename}: {error}"}) from None
        finally:
            upload.content.seek(0)
        return files

    def demo_cases(self) -> list[DemoCase]:
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

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        task = context.inputs.get("task") or DEFAULT_TASK
        sustained = task == "sustained_vowel"
        with context.stage("decode"):
            if len(context.files) != 1:
                raise AnalysisError(f"Expected one recording, found {len(context.files)}.")
            with context.files[0].open() as handle:
                data = io.BytesIO(handle.read())
            try:
                recording = read_recording(data)
            except AudioRejected as error:
                raise AnalysisError(f"The recording cannot be analysed: {error}") from None
            parselmouth, _ = _praat()
            sound = parselmouth.Sound(recording.samples, sampling_frequency=recording.sample_rate)
            clipped = recording.clipped_fraction > CLIPPED_FRACTION
        with context.stage("segment"):
            segmentation = segment(sound)
            if not segmentation.sounding:
                raise AnalysisError("No voice found: the recording holds no sound above its noise floor.")
        with context.stage("voice"):
            # A sustained vowel is measured from its first to its last sounding moment, without the silences
            # around it (Praat manual, 'Voice 1': leading and trailing silences are not part of the vowel).
            analysed = sound
            if sustained:
                start, end = segmentation.sounding[0][0], segmentation.sounding[-1][1]
                if end - start < sound.xmax - sound.xmin - 1e-6:
                    analysed = sound.extract_part(start, end, parselmouth.WindowShape.RECTANGULAR, 1.0, True)
            voice = measure_voice(analysed, segmentation)
        with context.stage("rate"):
            fluency = None if sustained else syllable_nuclei(sound, segmentation)
        with context.stage("explain"):
            return self._result(task, recording, segmentation, voice, fluency, clipped, context.patient)

    def _result(self, task, recording, segmentation, voice, fluency, clipped, patient) -> AnalysisResult:
        sustained = task == "sustained_vowel"
        suffix = "" if sustained else "_connected"
        measured = {
            f"jitter_local{suffix}": voice.jitter_percent,
            f"shimmer_local{suffix}": voice.shimmer_percent,
            f"hnr{suffix}": voice.hnr_db,
        }
        biomarkers = {
            "f0_mean": voice.f0_mean,
            "f0_sd": voice.f0_sd,
            "f0_semitone_sd": voice.f0_semitone_sd,
            "voiced_fraction": voice.voiced_fraction_percent,
            **measured,
        }
        not_applicable, notes, recommendations = {}, [], []
        minutes = recording.duration / 60.0
        results: dict[str, Any] = {
            "task": task,
            "duration_s": round(recording.duration, 2),
            "sample_rate_hz": recording.original_rate,
            "analysis_sample_rate_hz": recording.sample_rate,
            "channels": recording.channels,
            "peak_level_dbfs": round(recording.peak_dbfs, 1),
            "clipped_samples_percent": round(100 * recording.clipped_fraction, 3),
            "voiced_s": round(voice.voiced_seconds, 2),
            "glottal_periods": voice.periods,
            "analysed_from_s": round(voice.analysed[0], 3),
            "analysed_to_s": round(voice.analysed[1], 3),
        }
        if fluency is not None:
            biomarkers["pause_rate"] = len(segmentation.pauses) / minutes
            biomarkers["speaking_rate"] = len(fluency.syllables) / recording.duration
            if fluency.speaking_time > 0:
                biomarkers["articulation_rate"] = len(fluency.syllables) / fluency.speaking_time
            results.update(
                syllable_nuclei=len(fluency.syllables),
                pauses=len(segmentation.pauses),
                speaking_time_s=round(fluency.speaking_time, 2),
                pause_intervals_s=[[round(s, 3), round(e, 3)] for s, e in segmentation.pauses],
            )
        else:
            for name in ("pause_rate", "speaking_rate", "articulation_rate"):
                not_applicable[name] = "Not measured on a sustained vowel (no syllables or pauses to count)."
        undefined = sorted(name for name, value in biomarkers.items() if not math.isfinite(value))
        for name in undefined:
            del biomarkers[name]
            not_applicable[name] = "Undefined: too few regular glottal periods for Praat to measure it."
        biomarkers = {name: round(float(value), 4) for name, value in biomarkers.items()}
        # F0 against the typical adult speaking range of the patient's sex.
        sex, age = patient.sex_at_birth, patient.age
        if sex in F0_RANGES and (age is None or age >= 18):
            low, high = F0_RANGES[sex]
            flag = "low" if voice.f0_mean < low else "high" if voice.f0_mean > high else "normal"
            results.update(
                f0_reference_low_hz=low, f0_reference_high_hz=high, f0_flag=flag, f0_reference_source=F0_SOURCE
            )
        else:
            notes.append("No F0 reference range: typical ranges are given for adult women and men only.")
        if clipped:
            notes.append(
                f"The recording is clipped ({100 * recording.clipped_fraction:.2f} % of samples at full scale): "
                "shimmer and HNR are distorted by clipping."
            )
            recommendations.append(
                {
                    "text": "Re-record with lower input gain (peaks below full scale) for reliable shimmer and HNR.",
                    "source": "Recording quality check (clipping)",
                }
            )
        score, level, contributions = None, "", []
        if not sustained:
            not_applicable["risk_score"] = (
                "No voice-quality score for connected speech: the jitter, shimmer and HNR norms are for sustained "
                "vowels."
            )
            recommendations.append(
                {
                    "text": "For a voice-quality screen, also record a sustained /a/ (3-5 s at comfortable pitch and "
                    "loudness) as a 'sustained vowel' assessment.",
                    "source": PROTOCOL,
                }
            )
        elif clipped:
            not_applicable["risk_score"] = "Withheld: the recording is clipped."
        elif undefined:
            not_applicable["risk_score"] = f"Withheld: {', '.join(undefined)} could not be measured."
        else:
            score, level, contributions = voice_quality_risk({n: biomarkers[n] for n in RULE})
            beyond = [c for c in contributions if c["beyond_norm"]]
            if beyond:
                recommendations.append(
                    {
                        "text": REFER_TEXT,
                        "source": DYSPHONIA_GUIDELINE,
                    }
                )
        results["not_applicable"] = not_applicable
        results["notes"] = notes
        summary = self._summary(task, voice, biomarkers, fluency, segmentation, score, level, contributions, clipped)
        title = (
            f"{TASKS[task]}: mean F0 {voice.f0_mean:.0f} Hz, jitter {voice.jitter_percent:.2f} %, "
            f"shimmer {voice.shimmer_percent:.2f} %, HNR {voice.hnr_db:.1f} dB"
        )
        image = render_explanation(
            duration=recording.duration, voice=voice, segmentation=segmentation, fluency=fluency, title=title
        )
        return AnalysisResult(
            method_version=METHOD_VERSION,
            risk_score=score,
            risk_level=level,
            confidence=None,  # a screening rule, not a calibrated probability: none is invented
            recommendations=recommendations,
            results=results,
            biomarkers=biomarkers,
            explanation_summary=summary,
            contributions=contributions,
            explanation_image_png=image,
        )

    @staticmethod
    def _summary(task, voice, biomarkers, fluency, segmentation, score, level, contributions, clipped) -> str:
        parts = [
            f"{TASKS[task]}, {voice.voiced_seconds:.1f} s voiced: mean F0 {voice.f0_mean:.0f} Hz "
            f"(SD {voice.f0_sd:.1f} Hz, {voice.f0_semitone_sd:.2f} semitones)."
        ]
        if task == "sustained_vowel":
            parts.append(
                f"Jitter {voice.jitter_percent:.2f} % (norm < {JITTER_MAX_PERCENT} %), shimmer "
                f"{voice.shimmer_percent:.2f} % (< {SHIMMER_MAX_PERCENT} %), HNR {voice.hnr_db:.1f} dB "
                f"(>= {HNR_MIN_DB:.0f} dB)."
            )
            if score is not None:
                beyond = [c["factor"].replace("_", " ") for c in contributions if c["beyond_norm"]]
                if beyond:
                    parts.append(f"Voice-quality concern {level} ({score:.0f}/100): {', '.join(beyond)} beyond norm.")
                else:
                    parts.append("All three voice-quality measures are within their norms (concern low).")
        else:
            parts.append(
                f"Jitter {voice.jitter_percent:.2f} %, shimmer {voice.shimmer_percent:.2f} %, HNR "
                f"{voice.hnr_db:.1f} dB (connected speech: no norms, no score)."
            )
        if fluency is not None:
            parts.append(
                f"{len(fluency.syllables)} syllable nuclei ({biomarkers.get('speaking_rate', 0):.2f} per second), "
                f"{len(segmentation.pauses)} pauses of 0.3 s or more ({biomarkers.get('pause_rate', 0):.1f} per "
                "minute)."
            )
        if clipped:
            parts.append("The recording is clipped: no score.")
        return " ".join(parts)
