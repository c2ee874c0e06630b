"""The cardiology (ECG) analyzer: an ECG record in; heart rate, HRV, PR/QRS/QT/QTc, rhythm flags, signal
quality, a rule-based risk level and a rhythm strip out.

Inputs (see ``records``): a WFDB record (.hea with its .dat), an EDF file, or CSV/JSON samples with the
sampling rate inside the file; no structured inputs. Measurements (see ``measure``) are made on one lead: II
when present, else the first lead, and the result says which. Ranges, flags and the risk rule are in
``interpret``.
"""

from __future__ import annotations

from typing import Any

from ..base import AnalysisContext, AnalysisResult, Analyzer, DemoCase, InputError, StageSpec
from ..registry import register
from . import interpret, records

MAX_FILES = 20


@register
class CardiologyAnalyzer(Analyzer):
    name = "cardiology"
    no_confidence_reason = "Not applicable: a rule on measured intervals and rhythm, not a probability"
    label = "ECG (cardiology)"
    description = (
        "Resting ECG (WFDB, EDF, CSV or JSON, 8 s to 5 min, at least 250 Hz): heart rate, HRV, PR, QRS, QT and "
        "QTc (Bazett, Fridericia), rhythm flags and signal quality on lead II (or the first lead)."
    )
    queue = "default"
    accepted_types = records.ACCEPTED_TYPES
    requires_files = True
    deadline_seconds = 120
    stages = (
        StageSpec("read", "Read the ECG and choose the rhythm lead"),
        StageSpec("detect", "Clean the lead and detect the heartbeats"),
        StageSpec("measure", "Heart rate, HRV and PR/QRS/QT intervals"),
        StageSpec("interpret", "Rhythm flags, risk rule and rhythm strip"),
    )
    catalogue = interpret.CATALOGUE

    def validate_inputs(self, *, inputs: dict[str, Any], patient) -> dict[str, Any]:
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
        if len(files) > MAX_FILES:
            raise InputError({"files": f"{len(files)} files: upload one ECG record (at most {MAX_FILES} files)."})
        sources = records.sources_from_uploads(files)
        records.read_record(sources)  # raises InputError (a 400, nothing stored) for anything unusable
        for upload, source in zip(files, sources, strict=True):
            upload.extension = records.EXTENSIONS[source.kind]
        return files

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        from . import measure, strip

        with context.stage("read"):
            record = records.load_for_analysis(context.files)
            lead, lead_choice = record.rhythm_lead()
        with context.stage("detect"):
            measurement = measure.detect_beats(lead.samples, lead.sampling_rate, lead_name=lead.label)
        with context.stage("measure"):
            measure.measure_beats(measurement)
            values = _values(measurement)
        with context.stage("interpret"):
            sex = context.patient.sex_at_birth
            rr_count = len(measurement.rr_ms)
            found = interpret.findings(
                heart_rate=measurement.heart_rate,
                nrmssd=measurement.nrmssd,
                rr_count=rr_count,
                pr=values.get("pr_interval"),
                qrs=values.get("qrs_duration"),
                qtc_fridericia=values.get("qtc_fridericia"),
                sex=sex,
            )
            score, level, points = interpret.risk(found)
            flags = interpret.rhythm_flags(
                heart_rate=measurement.heart_rate, nrmssd=measurement.nrmssd, rr_count=rr_count
            )
            title = (
                f"Lead {lead.label} (cleaned)  |  25 mm/s, 10 mm/mV  |  "
                f"heart rate {measurement.heart_rate:.0f} bpm  |  "
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
            not_measured = {
                name: measurement.notes[name]
                for name in ("pr_interval", "qrs_duration", "qt_interval", "hrv")
                if name in measurement.notes
            }
            results = {
                "source_format": record.source_format,
                "leads": [lead_.label for lead_ in record.leads],
                "ignored_channels": record.ignored,
                "rhythm_lead": lead.label,
                "rhythm_lead_choice": lead_choice,
                "lead_inverted": measurement.inverted,
                "sampling_rate_hz": lead.sampling_rate,
                "analysed_at_hz": measurement.sampling_rate,
                "duration_s": round(lead.duration, 2),
                "beats": len(measurement.rpeaks),
                "rr_intervals_ms": [round(v, 1) for v in measurement.rr_ms],
                "interval_beats": measurement.interval_beats,
                "not_measured": not_measured,
                "rhythm_flags": flags,
                "findings": found,
                "risk_points": points,
                "qtc_thresholds_ms": interpret.qtc_thresholds(sex),
                "qtc_thresholds_sex": sex if sex in ("female", "male") else "unknown (men's thresholds used)",
                "signal_quality": round(measurement.quality, 3),
            }
            summary = _summary(lead.label, lead.duration, measurement, values, found, level, not_measured)
        return AnalysisResult(
            method_version=interpret.METHOD_VERSION,
            risk_score=score,
            risk_level=level,
            # The signal-quality index gates the analysis but is no probability of correctness: none invented.
            confidence=None,
            recommendations=interpret.recommendations(found),
            results=results,
            biomarkers=values,
            explanation_summary=summary,
            contributions=[
                {
                    "factor": f["finding"],
                    "label": f["label"],
                    "points": f["points"],
                    "value": round(f["value"], 3),
                    "unit": f["unit"],
                    "source": f["source"],
                }
                for f in found
            ],
            explanation_image_png=image,
        )

    def demo_cases(self) -> list[DemoCase]:
        from . import synthetic

        normal = synthetic.ecg(
            synthetic.regular_r_times(72, 10), leads=tuple(synthetic.TWELVE_LEADS), qt_ms=390, seed=1
        )
        slow = synthetic.ecg(
            synthetic.regular_r_times(48, 10), leads=("I", "II", "III"), pr_ms=180, qrs_ms=96, qt_ms=440, seed=2
        )
        irregular = synthetic.ecg(
            synthetic.irregular_r_times(80, 10, seed=3),
            leads=("I", "II", "V1"),
            p_mv=0.0,
            qt_ms=360,
            fibrillation_mv=0.04,
            seed=3,
        )
        return [
            DemoCase(files=synthetic.wfdb_files("normal72", normal, 500)),
            DemoCase(files=[("bradycardia48.csv", synthetic.csv_bytes(slow, 500))]),
            DemoCase(files=[("irregular.json", synthetic.json_bytes(irregular, 500))]),
        ]


def _values(m) -> dict[str, float]:
    from . import formulas

    values = {"heart_rate": round(m.heart_rate, 1), "ecg_signal_quality": round(m.quality, 3)}
    if m.nrmssd is not None:
        values["rr_irregularity"] = round(m.nrmssd, 4)
    for name, value in (("hrv_sdnn", m.sdnn), ("hrv_rmssd", m.rmssd), ("hrv_pnn50", m.pnn50)):
        if value is not None:
            values[name] = round(value, 1)
    for name in ("pr_interval", "qrs_duration", "qt_interval"):
        if m.intervals.get(name) is not None:
            values[name] = round(m.intervals[name], 1)
    qt = m.intervals.get("qt_interval")
    if qt is not None:
        rr_s = sum(m.rr_ms) / len(m.rr_ms) / 1000.0
        values["qtc_bazett"] = round(formulas.qtc_bazett(qt_ms=qt, rr_s=rr_s), 1)
        values["qtc_fridericia"] = round(formulas.qtc_fridericia(qt_ms=qt, rr_s=rr_s), 1)
    return values


def _summary(lead_label, duration, m, values, found, level, not_measured) -> str:
    parts = [f"Lead {lead_label}, {duration:.0f} s, {len(m.rpeaks)} beats: heart rate {m.heart_rate:.0f} bpm."]
    intervals = []
    for name, label in (("pr_interval", "PR"), ("qrs_duration", "QRS"), ("qt_interval", "QT")):
        if name in values:
            intervals.append(f"{label} {values[name]:.0f} ms")
    if "qtc_fridericia" in values:
        intervals.append(f"QTc {values['qtc_fridericia']:.0f} ms (Fridericia), {values['qtc_bazett']:.0f} ms (Bazett)")
    if intervals:
        parts.append(", ".join(intervals) + ".")
    if not_measured:
        parts.append(
            "Not measured: " + "; ".join(f"{k.replace('_', ' ')} ({v})" for k, v in not_measured.items()) + "."
        )
    if found:
        parts.append("Findings: " + "; ".join(f["label"] for f in found) + f". Risk level {level}.")
    else:
        parts.append("No abnormal finding by these measurements (risk level low).")
    parts.append(f"Signal quality {m.quality:.2f} (acceptable from 0.66).")
    return " ".join(parts)
