"""The speech analyzer: one voice recording in; Praat's voice and fluency measures, a voice-quality screening
count and an F0 / intensity picture out.

Inputs: one WAV, FLAC, OGG or MP3 recording (``decoding``) and the task, a sustained vowel (/a/ held 3-5 s, the
protocol jitter, shimmer and HNR norms were made on: Patel et al., Am J Speech Lang Pathol 2018;27:887-905) or
connected speech (reading or conversation, where pauses and speaking rate mean something). At upload the
recording is decoded and checked, refused when it is not a voice (``voicing``) and stored without its tags
(``deidentify``). In the worker: Praat's measures (``measurement``), HNR at the recording's own rate
(``harmonicity``), the rule (``rule``) and the result (``report``, ``explain``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io

from ..base import AnalysisContext, AnalysisError, AnalysisResult, Analyzer, InputError, Modality, StageSpec
from ..registry import register
from . import catalogue, decoding, deidentify, measurement, report, voicing
from .catalogue import DEFAULT_TASK
from .harmonicity import harmonicity
from .inputs import SpeechInputs


@register
class SpeechAnalyzer(Analyzer):
    modality = Modality(
        name="speech",
        label="Speech and voice",
        description=(
            "F0, jitter, shimmer, harmonics-to-noise ratio and voiced fraction (Praat), pause rate and speaking "
            "rate (de Jong & Wempe 2009) from one WAV, FLAC, OGG or MP3 recording."
        ),
        stages=(
            StageSpec("decode", "Decode and check the recording"),
            StageSpec("segment", "Find speech and pauses"),
            StageSpec("voice", "Pitch, jitter, shimmer and HNR"),
            StageSpec("rate", "Syllable nuclei and speaking rate"),
            StageSpec("explain", "Voice-quality rule and explanation"),
        ),
        catalogue=catalogue.CATALOGUE,
        accepted_types=decoding.ACCEPTED_TYPES,
        requires_files=True,
        deadline_seconds=120,
        no_confidence_reason="Not applicable: a screening rule on measured voice parameters, not a calibrated "
        "probability",
        input_schema=SpeechInputs,
        demo_module="modalities.speech.synthetic",
    )

    def prepare_files(self, files: list) -> list:
        """Decode and check the recording, refuse it when it is not a voice, and store it without its tags."""
        if len(files) != 1:
            raise InputError({"files": f"Upload exactly one recording per speech assessment ({len(files)} given)."})
        upload = files[0]
        try:
            recording = decoding.read_recording(upload.content, keep_samples=False)
            refusal = voicing.preview_evidence(recording).refusal()
            if refusal is None:
                cleaned = deidentify.clean(upload.content)
                _same_audio(cleaned, recording)
        except decoding.AudioRejected as error:
            raise InputError({"files": f"{upload.original_filename}: {error}"}) from None
        finally:
            upload.content.seek(0)
        if refusal is not None:
            raise InputError({"files": f"{upload.original_filename}: {refusal}"})
        size, digest = _measure(cleaned)
        return [dataclasses.replace(upload, content=cleaned, size=size, sha256_stored=digest)]

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        task = context.inputs.get("task") or DEFAULT_TASK
        sustained = task == "sustained_vowel"
        parselmouth, _ = measurement.praat()
        with context.stage("decode"):
            recording = _read(context)
            samples, rate = recording.analysis_samples()
            sound = parselmouth.Sound(samples, sampling_frequency=rate)
        with context.stage("segment"):
            segmentation = measurement.segment(sound)
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
            voice = measurement.measure_voice(analysed, segmentation)
            refusal = voicing.evidence(samples, rate, voice.pitch_times, voice.pitch_values).refusal()
            if refusal is not None:
                raise AnalysisError(refusal)
            hnr = harmonicity(recording.native, recording.original_rate, voice.voiced_intervals(), voice.analysed)
        with context.stage("rate"):
            fluency = None if sustained else measurement.syllable_nuclei(sound, segmentation)
        with context.stage("explain"):
            return report.build(
                task=task,
                recording=recording,
                segmentation=segmentation,
                voice=voice,
                hnr=hnr,
                fluency=fluency,
                patient=context.patient,
            )


def _read(context: AnalysisContext) -> decoding.Recording:
    if len(context.files) != 1:
        raise AnalysisError(f"Expected one recording, found {len(context.files)}.")
    with context.files[0].open() as handle:
        data = io.BytesIO(handle.read())
    try:
        return decoding.read_recording(data)
    except decoding.AudioRejected as error:
        raise AnalysisError(f"The recording cannot be analysed: {error}") from None


def _same_audio(cleaned, recording: decoding.Recording) -> None:
    """The cleaned copy decodes as the upload did: same rate, channels and number of frames (a guard: the
    cleaning cuts tags only; header estimates of an MP3's length are not trusted, the copy is decoded)."""
    try:
        rate, channels, frames = decoding.decoded_length(cleaned)
    except decoding.AudioRejected:
        rate = channels = frames = None
    expected = (recording.original_rate, recording.channels, recording.frames)
    if (rate, channels, frames) != expected:
        raise decoding.AudioRejected(f"removing its tags would change its audio: {deidentify.UNREADABLE}.")


def _measure(content) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    content.seek(0)
    for block in iter(lambda: content.read(deidentify.COPY_BYTES), b""):
        digest.update(block)
        size += len(block)
    content.seek(0)
    return size, digest.hexdigest()
