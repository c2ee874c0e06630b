"""The cardiology (ECG) analyzer: an ECG record in; heart rate, HRV, PR/QRS/QT/QTc, rhythm flags, signal
quality, a rule-based risk level and a rhythm strip out.

Inputs (see ``records``): a WFDB record (.hea with its .dat), an EDF file, or CSV/JSON samples with the
sampling rate inside the file; no structured inputs. Measurements (see ``measure``) are made on one lead: II
when present, else the first lead, and the result says which. Ranges, flags and the risk rule are in
``interpret``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import Any

from ..base import AnalysisContext, AnalysisResult, Analyzer, InputError, Modality, StageSpec, rounded
from ..registry import register
from ..results import Score
from . import catalogue as ecg_catalogue
from . import deidentify, interpret, records

MAX_FILES = 20


@register
class CardiologyAnalyzer(Analyzer):
    modality = Modality(
        name="cardiology",
        label="ECG (cardiology)",
        description=(
            "Resting ECG (WFDB, EDF, CSV or JSON, 8 s to 5 min, at least 250 Hz): heart rate, HRV, PR, QRS, QT and "
            "QTc (Bazett, Fridericia), rhythm flags and signal quality on lead II (or the first lead)."
        ),
        stages=(
            StageSpec("read", "Read the ECG and choose the rhythm lead"),
            StageSpec("detect", "Clean the lead and detect the heartbeats"),
            StageSpec("measure", "Heart rate, HRV and PR/QRS/QT intervals"),
            StageSpec("interpret", "Rhythm flags, risk rule and rhythm strip"),
        ),
        catalogue=ecg_catalogue.CATALOGUE,
        accepted_types=records.ACCEPTED_TYPES,
        requires_files=True,
        deadline_seconds=120,
        no_confidence_reason="Not applicable: a rule on measured intervals and rhythm, not a probability",
        demo_module="modalities.cardiology.synthetic",
    )

    def validate_inputs(self, *, inputs: Any, patient, history=None) -> dict[str, Any]:
        if not isinstance(inputs, dict):
            raise InputError({"inputs": "Inputs must be a JSON object (the ECG takes none)."})
        if "sampling_rate_hz" in inputs:
            raise InputError(
                {
                    "sampling_rate_hz": "Give the sampling rate inside the file: a CSV's first line "
                    "'# sampling_rate_hz=500', a JSON file's sampling_rate_hz; WFDB and EDF files carry their own."
                }
            )
        if inputs:
            raise InputError({name: "The ECG analysis takes no structured inputs." for name in inputs})
        return {}

    def prepare_files(self, files: list) -> list:
        """Check the record (a 400, nothing stored, for anything unusable), set each file's stored extension, and
        replace each file by its copy without identifiers (see ``deidentify``), which must read to the same
        samples."""
        if len(files) > MAX_FILES:
            raise InputError({"files": f"{len(files)} files: upload one ECG record (at most {MAX_FILES} files)."})
        sources = records.sources_from_uploads(files)
        uploaded = records.read_record(sources)
        cleaned = [
            records.Source(source.name, source.content_type, deidentify.scrub(source, source.kind))
            for source in sources
        ]
        stored = records.read_record(cleaned)
        if not deidentify.same_samples(uploaded, stored):
            raise InputError(
                {"files": "The ECG file could not be cleared of identifiers without changing its samples; not stored."}
            )
        prepared = []
        for upload, source, clean in zip(files, sources, cleaned, strict=True):
            upload.extension = records.EXTENSIONS[source.kind]
            if clean.data != source.data:
                upload = dataclasses.replace(
                    upload,
                    size=len(clean.data),
                    sha256_stored=hashlib.sha256(clean.data).hexdigest(),
                    content=io.BytesIO(clean.data),
                )
            prepared.append(upload)
        return prepared

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        from . import explanation, measure, strip

        with context.stage("read"):
            record = records.load_for_analysis(context.files)
            lead, lead_choice = record.rhythm_lead()
        with context.stage("detect"):
            measurement = measure.detect_beats(lead.samples, lead.sampling_rate, lead_name=lead.label)
        with context.stage("measure"):
            measure.measure_beats(measurement)
            values = rounded(ecg_catalogue.CATALOGUE, explanation.biomarker_values(measurement))
        with context.stage("interpret"):
            sex = context.patient.sex_at_birth
            found = interpret.findings(
                heart_rate=values["heart_rate"],
                nrmssd=values.get("rr_irregularity"),
                rr_count=len(measurement.rhythm.normal_rr_ms),
                pr=values.get("pr_interval"),
                qrs=values.get("qrs_duration"),
                qtc_fridericia=values.get("qtc_fridericia"),
                sex=sex,
            )
            points, level = interpret.risk(found)
            title = (
                f"Lead {lead.label} (cleaned)  |  25 mm/s, 10 mm/mV  |  heart rate {values['heart_rate']:.0f} bpm  |  "
                f"{len(measurement.rpeaks)} R-peaks marked (red); QRS boundaries in blue"
            )
            image = strip.render(
                measurement.cleaned,
                measurement.sampling_rate,
                measurement.rpeaks,
                title=title,
                qrs_onsets=measurement.qrs_onsets,
                qrs_offsets=measurement.qrs_offsets,
            )
        return AnalysisResult(
            method_version=interpret.METHOD_VERSION,
            score=Score(float(points), ecg_catalogue.SCALE),
            risk_level=level,
            # The signal-quality index gates the analysis but is no probability of correctness: none invented.
            confidence=None,
            recommendations=interpret.recommendations(found),
            biomarkers=values,
            measurements=explanation.measurements(measurement, lead.duration),
            not_applicable=explanation.not_applicable(measurement),
            notes=explanation.notes(measurement, lead_choice, sex),
            details=explanation.details(record, lead, lead_choice, measurement, found, points, sex),
            explanation_summary=explanation.summary(lead.label, lead.duration, measurement, values, found, level),
            contributions=interpret.contributions(found),
            explanation_image_png=image,
            spec_overrides=ecg_catalogue.spec_overrides(sex),
        )
