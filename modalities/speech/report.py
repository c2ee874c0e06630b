"""From measurements to the typed result: biomarkers at their display precision, what could not be measured and
why, the score or why it is withheld, notes, recommendations, the numbers worth showing and the raw record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..base import AnalysisResult, rounded
from ..results import Measurement, NotApplicable
from . import rule
from .catalogue import (
    CATALOGUE,
    DYSPHONIA_GUIDELINE,
    F0_RANGES,
    F0_SOURCE,
    METHOD_VERSION,
    PROTOCOL,
    REFER_TEXT,
)
from .explain import picture_title, render_explanation, summary
from .harmonicity import Harmonicity
from .measurement import Fluency, Segmentation, VoiceMeasures

FLUENCY = ("pause_rate", "speaking_rate", "articulation_rate")


@dataclass
class _Parts:
    biomarkers: dict[str, float]
    undefined: list[str]
    not_applicable: list[NotApplicable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recommendations: list[dict] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def build(
    *,
    task: str,
    recording,
    segmentation: Segmentation,
    voice: VoiceMeasures,
    hnr: Harmonicity,
    fluency: Fluency | None,
    patient,
) -> AnalysisResult:
    parts = _values(task, recording, segmentation, voice, hnr, fluency)
    _f0_range(parts, voice, patient)
    _recording_quality(parts, recording)
    score, level, contributions, withheld = _score(task, parts, recording)
    findings = None if score is None else [c.label for c in contributions if c.change]
    text = summary(
        task=task,
        voice=voice,
        biomarkers=parts.biomarkers,
        fluency=fluency,
        segmentation=segmentation,
        findings=findings,
        clipped=recording.clipped,
    )
    title = picture_title(task, voice, parts.biomarkers)
    image = render_explanation(
        duration=recording.duration, voice=voice, segmentation=segmentation, fluency=fluency, title=title
    )
    return AnalysisResult(
        method_version=METHOD_VERSION,
        score=score,
        score_withheld=withheld,
        risk_level=level,
        confidence=None,  # a screening rule, not a calibrated probability: none is invented
        recommendations=parts.recommendations,
        biomarkers=parts.biomarkers,
        measurements=parts.measurements,
        not_applicable=parts.not_applicable,
        notes=parts.notes,
        details=parts.details,
        explanation_summary=text,
        contributions=contributions,
        explanation_image_png=image,
    )


def _quality_names(task: str) -> tuple[str, ...]:
    suffix = "" if task == "sustained_vowel" else "_connected"
    return (f"jitter_local{suffix}", f"shimmer_local{suffix}", f"hnr{suffix}")


def _values(task, recording, segmentation, voice: VoiceMeasures, hnr: Harmonicity, fluency) -> _Parts:
    jitter, shimmer, harmonics = _quality_names(task)
    raw = {
        "f0_mean": voice.f0_mean,
        "f0_sd": voice.f0_sd,
        "f0_semitone_sd": voice.f0_semitone_sd,
        "voiced_fraction": voice.voiced_fraction_percent,
        jitter: voice.jitter_percent,
        shimmer: voice.shimmer_percent,
        harmonics: hnr.mean_db,
    }
    not_applicable = []
    details: dict[str, Any] = {
        "task": task,
        "duration_s": round(recording.duration, 2),
        "sample_rate_hz": recording.original_rate,
        "analysis_sample_rate_hz": min(recording.original_rate, 16000),
        "hnr_sample_rate_hz": hnr.sample_rate,
        "hnr_time_step_s": round(hnr.time_step, 4),
        "hnr_frames": hnr.frames,
        "channels": recording.channels,
        "peak_level_dbfs": round(recording.peak_dbfs, 1),
        "clipped_samples_percent": round(100 * recording.clipped_fraction, 3),
        "voiced_s": round(voice.voiced_seconds, 2),
        "glottal_periods": voice.periods,
        "analysed_from_s": round(voice.analysed[0], 3),
        "analysed_to_s": round(voice.analysed[1], 3),
    }
    if fluency is not None:
        raw["pause_rate"] = len(segmentation.pauses) / (recording.duration / 60.0)
        raw["speaking_rate"] = len(fluency.syllables) / recording.duration
        if fluency.speaking_time > 0:
            raw["articulation_rate"] = len(fluency.syllables) / fluency.speaking_time
        details.update(
            syllable_nuclei=len(fluency.syllables),
            pauses=len(segmentation.pauses),
            speaking_time_s=round(fluency.speaking_time, 2),
            pause_intervals_s=[[round(s, 3), round(e, 3)] for s, e in segmentation.pauses],
        )
    else:
        for name in FLUENCY:
            not_applicable.append(
                NotApplicable(
                    name, CATALOGUE[name].label, "Not measured on a sustained vowel (no syllables or pauses to count)."
                )
            )
    undefined = sorted(name for name, value in raw.items() if not math.isfinite(value))
    for name in undefined:
        reason = (
            "Undefined: no voiced frame could be measured by the harmonicity analysis."
            if name == harmonics
            else "Undefined: too few regular glottal periods for Praat to measure it."
        )
        not_applicable.append(NotApplicable(name, CATALOGUE[name].label, reason))
    values = rounded(CATALOGUE, {name: value for name, value in raw.items() if name not in undefined})
    parts = _Parts(biomarkers=values, undefined=undefined, not_applicable=not_applicable, details=details)
    parts.measurements = _measurements(recording, voice, hnr, fluency, segmentation)
    return parts


def _measurements(recording, voice: VoiceMeasures, hnr: Harmonicity, fluency, segmentation) -> list[Measurement]:
    shown = [
        Measurement("duration", "Recording length", round(recording.duration, 2), "s", decimals=1),
        Measurement("sample_rate", "Sampling rate", recording.original_rate, "Hz", decimals=0),
        Measurement("voiced_time", "Voiced time analysed", round(voice.voiced_seconds, 2), "s", decimals=1),
        Measurement("glottal_periods", "Glottal periods (jitter, shimmer)", voice.periods, "periods", decimals=0),
        Measurement("hnr_frames", "Voiced frames averaged for HNR", hnr.frames, "frames", decimals=0),
    ]
    if fluency is not None:
        shown += [
            Measurement("syllable_nuclei", "Syllable nuclei", len(fluency.syllables), "syllables", decimals=0),
            Measurement("pauses", "Pauses of 0.3 s or more", len(segmentation.pauses), "pauses", decimals=0),
            Measurement("speaking_time", "Speaking time (pauses excluded)", fluency.speaking_time, "s", decimals=1),
        ]
    return shown


def _f0_range(parts: _Parts, voice: VoiceMeasures, patient) -> None:
    """F0 against the typical adult speaking range of the patient's sex."""
    sex, age = patient.sex_at_birth, patient.age
    if sex in F0_RANGES and (age is None or age >= 18):
        low, high = F0_RANGES[sex]
        flag = "low" if voice.f0_mean < low else "high" if voice.f0_mean > high else "normal"
        parts.details.update(
            f0_reference_low_hz=low, f0_reference_high_hz=high, f0_flag=flag, f0_reference_source=F0_SOURCE
        )
        people = "men" if sex == "male" else "women"
        parts.measurements.append(
            Measurement("f0_typical_range", f"Typical speaking F0, adult {people} (Baken)", f"{low:g}-{high:g}", "Hz")
        )
    else:
        parts.notes.append("No F0 reference range: typical ranges are given for adult women and men only.")


def _recording_quality(parts: _Parts, recording) -> None:
    if recording.clipped:
        parts.notes.append(
            f"The recording is clipped ({100 * recording.clipped_fraction:.2f} % of samples at full scale): "
            "shimmer and HNR are distorted by clipping."
        )
        parts.recommendations.append(
            {
                "text": "Re-record with lower input gain (peaks below full scale) for reliable shimmer and HNR.",
                "source": "Recording quality check (clipping)",
            }
        )


def _score(task: str, parts: _Parts, recording):
    """(score, level, contributions, why withheld)."""
    if task != "sustained_vowel":
        parts.recommendations.append(
            {
                "text": "For a voice-quality screen, also record a sustained /a/ (3-5 s at comfortable pitch and "
                "loudness) as a 'sustained vowel' assessment.",
                "source": PROTOCOL,
            }
        )
        withheld = (
            "No voice-quality score for connected speech: the jitter, shimmer and HNR norms are for sustained vowels."
        )
        return None, "", [], withheld
    if recording.clipped:
        return None, "", [], "Withheld: the recording is clipped, which distorts shimmer and HNR."
    if parts.undefined:
        labels = ", ".join(CATALOGUE[name].label for name in parts.undefined)
        return None, "", [], f"Withheld: {labels} could not be measured."
    score, level, contributions = rule.voice_quality({t.name: parts.biomarkers[t.name] for t in rule.RULE})
    if score.value > 0:
        parts.recommendations.append({"text": REFER_TEXT, "source": DYSPHONIA_GUIDELINE})
    return score, level, contributions, ""
