"""What a report says: the context of its template, built from the same presenters as the results page
(``assessments.presenters``), so a score reads the same with its label and unit on paper and on screen.
Nothing here queries beyond what the selectors loaded, or renders."""

from __future__ import annotations

from django.utils import dateformat, timezone

from assessments import presenters
from assessments.models import BiomarkerValue
from modalities import registry

from .resources import static_url, storage_url
from .selectors import TREND_ROWS
from .trend import chart

# Flags that put a biomarker in the report's first table: out of its range or in a raised risk category.
_UNFLAGGED = {BiomarkerValue.Flag.NORMAL, BiomarkerValue.Flag.NO_RANGE}


STYLESHEET = "reports/report.css"


def generated_at() -> dict:
    now = timezone.localtime(timezone.now())
    return {"when": now, "text": dateformat.format(now, "j M Y, H:i T")}


def header(organization, patient) -> dict:
    """What the running header repeats on every page."""
    return {
        "clinic": organization.name,
        "patient_name": f"{patient.family_name}, {patient.given_name}",
        "date_of_birth": patient.date_of_birth,
        "mrn": patient.mrn,
    }


def sign_off(assessment) -> dict | None:
    if assessment.reviewed_at is None:
        return None
    reviewer = assessment.reviewed_by
    return {
        "by": (reviewer.get_full_name() or reviewer.email) if reviewer else "a clinician",
        "when": timezone.localtime(assessment.reviewed_at),
        "note": assessment.review_note,
        "acknowledged_reference_model": assessment.review_acknowledged_reference_model,
    }


def biomarker_tables(analyzer, biomarkers) -> dict:
    """The biomarkers as the results page shows them, flagged ones first (in their own table)."""
    rows = presenters.biomarker_rows(analyzer, biomarkers)
    flagged = [row for row in rows if row["flag"] not in _UNFLAGGED]
    others = [row for row in rows if row["flag"] in _UNFLAGGED]
    return {"flagged": flagged, "others": others}


def assessment_section(assessment) -> dict:
    """One completed assessment: its headline, flags, explanation, sign-off and warnings."""
    analyzer = presenters.analyzer_for(assessment.modality)
    explanation = getattr(assessment, "explanation", None)
    image_key = explanation.image_key if explanation is not None else ""
    return {
        "assessment": assessment,
        "modality_label": analyzer.modality.label if analyzer else assessment.modality,
        "result": presenters.result_view(assessment, explanation.contributions if explanation else []),
        "risk_level": assessment.risk_level,
        "confidence": (
            f"{assessment.confidence * 100:.0f}%" if assessment.confidence is not None
            else (analyzer.modality.no_confidence_reason if analyzer else "Not given")
        ),
        "biomarkers": biomarker_tables(analyzer, assessment.biomarkers.all()),
        "explanation": explanation,
        "image_url": storage_url(image_key) if image_key else "",
        "recommendations": presenters.recommendations(assessment.recommendations),
        "reference_model": presenters.is_reference_result(assessment),
        "sign_off": sign_off(assessment),
        "preliminary": assessment.is_preliminary,
        "completed_at": timezone.localtime(assessment.completed_at) if assessment.completed_at else None,
    }


def assessment_report(assessment) -> tuple[dict, list[str]]:
    """The context of one assessment's report and the storage keys it may load."""
    section = assessment_section(assessment)
    context = {
        "title": f"{section['modality_label']} assessment report",
        "header": header(assessment.organization, assessment.patient),
        "patient": assessment.patient,
        "section": section,
        "preliminary": section["preliminary"],
        "reference_model_notice": presenters.REFERENCE_MODEL_NOTICE,
        "generated": generated_at(),
        "stylesheet": static_url(STYLESHEET),
    }
    return context, _image_keys([assessment])


def patient_summary(patient, completed) -> tuple[dict, list[str]]:
    """The patient summary: the latest completed result of each modality, and each modality's recent
    headline scores as a trend table (oldest first, as a chart reads)."""
    by_modality: dict[str, list] = {}
    for assessment in completed:  # most recently completed first
        by_modality.setdefault(assessment.modality, []).append(assessment)
    labels = dict(registry.choices())
    modalities = []
    for modality, assessments in sorted(by_modality.items(), key=lambda item: labels.get(item[0], item[0])):
        latest = assessments[0]
        trend = [_trend_row(a) for a in reversed(assessments[:TREND_ROWS])]
        modalities.append({
            "label": labels.get(modality, modality),
            "latest": assessment_section(latest),
            "trend": trend if len(trend) > 1 else [],
            "chart": chart(trend),
            "trend_total": len(assessments),
        })
    latest = [entry["latest"]["assessment"] for entry in modalities]
    context = {
        "title": "Patient summary report",
        "header": header(patient.organization, patient),
        "patient": patient,
        "modalities": modalities,
        "preliminary": any(section["latest"]["preliminary"] for section in modalities),
        "reference_model_notice": presenters.REFERENCE_MODEL_NOTICE,
        "trend_rows": TREND_ROWS,
        "generated": generated_at(),
        "stylesheet": static_url(STYLESHEET),
    }
    return context, _image_keys(latest)


def _trend_row(assessment) -> dict:
    score = presenters.headline(assessment)
    return {
        "when": timezone.localtime(assessment.completed_at) if assessment.completed_at else None,
        "raw": assessment.risk_score if score else None,
        "value": score["value"] if score else "",
        "score": score,
        "risk_level": assessment.risk_level,
        "signed_off": assessment.reviewed_at is not None,
    }


def _image_keys(assessments) -> list[str]:
    keys = []
    for assessment in assessments:
        explanation = getattr(assessment, "explanation", None)
        if explanation is not None and explanation.image_key:
            keys.append(explanation.image_key)
    return keys
