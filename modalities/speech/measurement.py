"""Praat's voice and fluency measures (Praat 6.1.38 through praat-parselmouth: Boersma P, Weenink D, Praat:
doing phonetics by computer; Jadoul Y, Thompson B, de Boer B, J Phonetics 2018;71:1-15), on the 16 kHz analysis
signal. The harmonics-to-noise ratio is measured at the recording's own rate, in ``harmonicity``.

* F0 mean and variability (SD in Hz and on the semitone scale): "Sound: To Pitch (ac)" with Praat's standard
  settings (autocorrelation, Boersma 1993, Proc Inst Phonetic Sci Amsterdam 17:97-110), pitch range 75-600 Hz
  (the manual's standard range for voice analysis, "Voice" page).
* Jitter (local) and shimmer (local): glottal pulses by waveform matching ("Sound & Pitch: To PointProcess
  (cc)"; with the AC pitch this is Praat's "Sound: To PointProcess (periodic, cc)"), then "PointProcess: Get
  jitter (local)" and "PointProcess & Sound: Get shimmer (local)" with the voice-report settings the manual
  gives ("Voice 2. Jitter"): period floor 0.8 / pitch ceiling, period ceiling 1.25 / pitch floor, maximum period
  factor 1.3, maximum amplitude factor 1.6.
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
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..base import AnalysisError

PITCH_FLOOR = 75.0
PITCH_CEILING = 600.0
PERIOD_FLOOR = 0.8 / PITCH_CEILING
PERIOD_CEILING = 1.25 / PITCH_FLOOR
MAX_PERIOD_FACTOR = 1.3
MAX_AMPLITUDE_FACTOR = 1.6
MIN_VOICED_S = 0.5  # less voice than this gives perturbation measures from a handful of periods
# de Jong & Wempe (2009) / Syllable Nuclei v2 defaults.
SILENCE_DB = -25.0
MIN_DIP_DB = 2.0
MIN_PAUSE_S = 0.3
MIN_SOUNDING_S = 0.1
INTENSITY_MIN_PITCH = 50.0


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
    voiced_fraction_percent: float
    voiced_seconds: float
    periods: int
    pitch_times: Any  # frame centres (s)
    pitch_values: Any  # F0 per frame (Hz), NaN where unvoiced
    time_step: float
    analysed: tuple[float, float]

    def voiced_intervals(self) -> list[tuple[float, float]]:
        """Runs of voiced pitch frames, each from half a frame before its first centre to half a frame after
        its last."""
        import numpy as np

        voiced = np.isfinite(self.pitch_values).astype(int)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced, [0]])))
        half = self.time_step / 2
        return [
            (float(self.pitch_times[start]) - half, float(self.pitch_times[stop - 1]) + half)
            for start, stop in zip(edges[::2], edges[1::2], strict=True)
        ]


@dataclass
class Fluency:
    syllables: list[float] = field(default_factory=list)
    speaking_time: float = 0.0


def praat():
    import parselmouth
    from parselmouth.praat import call

    return parselmouth, call


def voice_pitch(sound):
    """Praat's standard pitch analysis for voice (To Pitch (ac), 75-600 Hz, the manual's standard values)."""
    _, call = praat()
    return call(sound, "To Pitch (ac)", 0.0, PITCH_FLOOR, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, PITCH_CEILING)


def pitch_track(pitch):
    """(frame times, F0 per frame with NaN where unvoiced) of a Praat Pitch."""
    import numpy as np

    frequencies = pitch.selected_array["frequency"]
    return pitch.xs() + 0.0, np.where(frequencies > 0, frequencies, np.nan)


def segment(sound) -> Segmentation:
    """Silence detection as in de Jong & Wempe (2009): 'To TextGrid (silences)' on the intensity, threshold
    25 dB below the 0.99 quantile (written relative to the maximum, as Praat's command wants it)."""
    parselmouth, call = praat()
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
    """F0, jitter, shimmer and voiced fraction with Praat's standard voice-analysis settings."""
    import numpy as np

    _, call = praat()
    pitch = voice_pitch(sound)
    times, values = pitch_track(pitch)
    voiced = np.isfinite(values)
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
    return VoiceMeasures(
        f0_mean=call(pitch, "Get mean", 0, 0, "Hertz"),
        f0_sd=call(pitch, "Get standard deviation", 0, 0, "Hertz"),
        f0_semitone_sd=call(pitch, "Get standard deviation", 0, 0, "semitones"),
        jitter_percent=100.0 * jitter,
        shimmer_percent=100.0 * shimmer,
        voiced_fraction_percent=float(voiced_fraction),
        voiced_seconds=voiced_seconds,
        periods=int(periods),
        pitch_times=times,
        pitch_values=values,
        time_step=step,
        analysed=(sound.xmin, sound.xmax),
    )


def syllable_nuclei(sound, segmentation: Segmentation) -> Fluency:
    """de Jong & Wempe (2009): intensity peaks above the threshold, each followed by a dip of more than 2 dB,
    inside a sounding interval, and voiced (their pitch settings)."""
    _, call = praat()
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
        nuclei.append(float(time))
    speaking = float(sum(stop - start for start, stop in segmentation.sounding))
    return Fluency(syllables=nuclei, speaking_time=speaking)
