"""How results read on a page: numbers at their catalogue precision, ranges as clinicians write them, and the
typed result document (``modalities.results``) turned into rows. Views and reports call these; nothing here
queries the database or knows a modality by name.

A result document carries its schema version. Version 2 is the typed document; rows written before it were
converted by migration 0006, so every stored result renders through ``result_view``; a document of an
unknown version renders as "stored in a format this version cannot show", never as a guess.
"""

from __future__ import annotations

import re

from modalities import registry
from modalities.results import RESULT_SCHEMA_VERSION

RISK_LEVEL_BADGES = {"low": "success", "borderline": "info", "intermediate": "warning", "high": "danger"}
FLAG_BADGES = {
    "normal": "success",
    "low": "warning",
    "high": "warning",
    "critical": "danger",
    "borderline": "info",
    "intermediate": "warning",
}
# Chart marker colours: the palette's primary, warning and danger text colours (3:1 or more on white).
FLAG_COLORS = {"normal": "#0f6173", "low": "#7c4a03", "high": "#7c4a03", "critical": "#a61b1b", "none": "#0f6173"}
REFERENCE_MODEL_NOTICE = "Reference model, not for clinical use"
# Abbreviations kept as clinicians write them when a name is turned into a label.
_WORDS = {"bp": "BP", "bmi": "BMI", "cvd": "CVD", "egfr": "eGFR", "hdl": "HDL", "ldl": "LDL", "ascvd": "ASCVD",
          "pce": "PCE", "dl": "dL", "10y": "10-year", "ecg": "ECG", "qt": "QT", "qtc": "QTc", "pr": "PR",
          "qrs": "QRS", "rr": "RR", "hrv": "HRV", "f0": "F0", "hnr": "HNR", "tds": "TDS", "id": "ID",
          "dicom": "DICOM", "cxr": "CXR", "sdnn": "SDNN", "rmssd": "RMSSD", "pnn50": "pNN50"}  # fmt: skip
# A name's last word that is its unit reads as the unit, in brackets ("sampling_rate_hz": "Sampling rate (Hz)").
_UNIT_WORDS = {"hz": "Hz", "ms": "ms", "mm": "mm", "px": "px", "bpm": "bpm", "pct": "%", "percent": "%",
               "mmhg": "mmHg", "kg": "kg", "cm": "cm", "mv": "mV", "db": "dB", "s": "s"}  # fmt: skip
# Settings that depend on the patient read what they depend on ("qtc_thresholds_sex": "QTc thresholds by sex").
_BY_WORDS = {"sex", "age"}
# Categories of quality-control figures: shown apart from the clinical ones, collapsed.
QUALITY_CATEGORIES = {"signal_quality", "image_quality"}
# Flags that make a biomarker a finding for the summary.
FINDING_FLAGS = {"low", "high", "critical", "borderline", "intermediate"}


def humanize(name: str) -> str:
    parts = str(name).split("_")
    unit = ""
    if len(parts) > 1 and parts[-1].lower() in _UNIT_WORDS and parts[-2] != "per":
        unit = f" ({_UNIT_WORDS[parts.pop().lower()]})"
    if len(parts) > 2 and parts[-1] in _BY_WORDS:
        parts.insert(len(parts) - 1, "by")
    text = " ".join(_WORDS.get(word.lower(), word) for word in parts) + unit
    if parts and parts[0].lower() in _WORDS:  # "eGFR" stays as clinicians write it
        return text
    return text[:1].upper() + text[1:]


def unit_text(text: str) -> str:
    """One spelling of squared units everywhere on a page: "kg/m2" and "1.73m2" read "kg/m²", "1.73 m²"."""
    text = re.sub(r"(?<=\d)m2\b", " m²", str(text or ""))
    return re.sub(r"(?<=[/ ])m2\b", "m²", text)


def number(value, decimals: int | None = None) -> str:
    """A value as shown: at ``decimals`` places when the catalogue gives them, else up to two decimals with
    no trailing zeros (7.53, 213, 120.5). Booleans read Yes/No, text as it is, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if not isinstance(value, (int, float)):
        return str(value)
    if decimals is not None:
        text = f"{float(value):.{decimals}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def value_range(low, high, low_inclusive=True, high_inclusive=True, decimals: int | None = None) -> str:
    """The range as a clinician reads it; a limit that is itself out of range reads "<" or ">"."""
    if low is not None and high is not None:
        if low_inclusive and high_inclusive:
            return f"{number(low, decimals)}–{number(high, decimals)}"
        low_text = f"{'' if low_inclusive else '> '}{number(low, decimals)}"
        return f"{low_text} to {'' if high_inclusive else '< '}{number(high, decimals)}"
    if low is not None:
        return f"{'≥' if low_inclusive else '>'} {number(low, decimals)}"
    if high is not None:
        return f"{'≤' if high_inclusive else '<'} {number(high, decimals)}"
    return "—"


def marker_range(marker, spec=None) -> str:
    """A stored biomarker value's range as it was applied; a score biomarker reads its risk categories."""
    if spec is not None and spec.bands is not None:
        return spec.bands.describe(marker.unit)
    return value_range(
        marker.reference_low,
        marker.reference_high,
        marker.reference_low_inclusive,
        marker.reference_high_inclusive,
        spec.decimals if spec is not None else None,
    )


def analyzer_for(modality: str):
    try:
        return registry.get(modality)
    except registry.UnknownModality:
        return None


def biomarker_spec(name: str, modality: str | None = None):
    """The catalogue entry of a biomarker name (of one modality when given: names may repeat)."""
    modalities = [modality] if modality else registry.names()
    for candidate in modalities:
        analyzer = analyzer_for(candidate)
        spec = analyzer.modality.catalogue.get(name) if analyzer else None
        if spec is not None:
            return spec
    return None


def biomarker_rows(analyzer, biomarkers, previous: dict | None = None) -> list[dict]:
    """Table rows of an assessment's biomarkers; with ``previous`` (selectors.previous_values), each row says
    its change since the patient's previous value of the same biomarker."""
    catalogue = analyzer.modality.catalogue if analyzer else {}
    rows, category = [], None
    for marker in biomarkers:
        spec = catalogue.get(marker.name)
        rows.append({
            **change_since_last(marker, (previous or {}).get(marker.name), spec.decimals if spec else 2),
            "category": humanize(marker.category) if marker.category != category else None,
            "category_key": marker.category,
            "name": marker.name,
            "label": unit_text(spec.label if spec else humanize(marker.name)),
            "value": number(marker.value, spec.decimals if spec else None),
            "unit": unit_text(marker.unit),
            "range": marker_range(marker, spec),
            "flag": marker.flag,
            "flag_label": marker.get_flag_display(),
            "flag_badge": FLAG_BADGES.get(marker.flag, "neutral"),
            "source": spec.source if spec else "",
        })
        category = marker.category
    return rows


def biomarker_groups(rows: list[dict]) -> list[dict]:
    """Rows by category, in the catalogue's order, the clinical categories first and quality control last (the
    page collapses those); each group says how many of its rows are flagged."""
    groups: dict[str, dict] = {}
    for row in rows:
        key = row.get("category_key") or ""
        group = groups.setdefault(key, {
            "key": key,
            "label": humanize(key) if key else "Biomarkers",
            "quality": key in QUALITY_CATEGORIES,
            "rows": [],
            "flagged": 0,
        })
        group["rows"].append(row)
        group["flagged"] += row["flag"] in FINDING_FLAGS
    return sorted(groups.values(), key=lambda group: group["quality"])


def findings(rows: list[dict], score_biomarker: str | None = None) -> list[dict]:
    """The flagged clinical biomarkers, for the summary: critical first; the headline's own biomarker is the
    headline already, and quality-control figures are no findings."""
    order = {"critical": 0}
    flagged = [
        row for row in rows
        if row["flag"] in FINDING_FLAGS and row["name"] != score_biomarker
        and row.get("category_key") not in QUALITY_CATEGORIES
    ]
    return sorted(flagged, key=lambda row: order.get(row["flag"], 1))


def change_since_last(marker, before, decimals: int) -> dict:
    """"+12 ms since 3 Mar 2025": the difference from the previous value, with its sign and unit. Nothing
    when there is no previous value or its unit differs (a difference across units would be wrong)."""
    if before is None or before.unit != marker.unit:
        return {"change": "", "change_since": None}
    unit = change_unit(marker.unit)
    text = signed(round(marker.value - before.value, decimals), decimals)
    return {"change": f"{text} {unit}".strip(), "change_since": before.measured_at}


def is_reference_result(assessment) -> bool:
    """A result produced by a reference model (trained on generated data): never for clinical use."""
    model = getattr(assessment, "model_version", None)
    return bool(model is not None and model.is_reference)


def headline(assessment) -> dict | None:
    """The headline score of a completed assessment as every list and page shows it: value with its unit and
    label, and whether it is MediLens's own rule or a reference model's output. None when there is none."""
    document = assessment.results or {}
    score = document.get("score") if document.get("schema_version") == RESULT_SCHEMA_VERSION else None
    if assessment.risk_score is None or not score:
        return None
    return {
        "value": number(assessment.risk_score, score.get("decimals")),
        "biomarker": score.get("biomarker"),
        "unit": unit_text(score["unit"]),
        "label": score["label"],
        "source": score.get("source", ""),
        "bands": score.get("bands", ""),
        "note": score.get("note", ""),
        "own_rule": bool(score.get("own_rule")),
        "reference_model": is_reference_result(assessment),
    }


def signed(value, decimals: int) -> str:
    """A change with its sign: "+3.2", "−0.1" (an equation can lower a risk when a factor moves to its
    usual optimum, e.g. HDL in the PCE at some ages), "0.0"."""
    if value is None:
        return "—"
    text = number(abs(float(value)), decimals)
    if float(text) == 0:
        return text
    return f"+{text}" if value > 0 else f"−{text}"


def change_unit(score_unit: str) -> str:
    """The unit of a difference between two scores: a change in a percentage is in percentage points."""
    return "percentage points" if score_unit == "%" else score_unit


def result_view(assessment, contributions: list[dict]) -> dict:
    """Everything the results part of a page shows from the typed document."""
    document = assessment.results or {}
    if document.get("schema_version") != RESULT_SCHEMA_VERSION:
        return {"unreadable": True}
    score = headline(assessment)
    decimals = (document.get("score") or {}).get("decimals", 1)
    return {
        "unreadable": False,
        "score": score,
        "score_withheld": document.get("score_withheld", ""),
        "measurements": [
            {**row, "label": unit_text(row.get("label", "")), "unit": unit_text(row.get("unit", "")),
             "value": number(row["value"], row.get("decimals"))}
            for row in document.get("measurements", [])
        ],
        "not_applicable": document.get("not_applicable", []),
        "notes": document.get("notes", []),
        "contributions": contribution_rows(contributions, score, decimals),
        "change_unit": change_unit(score["unit"]) if score else "",
    }


def contribution_rows(contributions: list[dict], score: dict | None, decimals: int) -> list[dict]:
    """Rows of what adds to the score, in the score's own unit; the bar is each row's share of the score."""
    if not score or not contributions:
        return []
    total = float(score["value"]) if score["value"] not in ("", "—") else 0.0
    changes = [max(float(item.get("change") or 0), 0.0) for item in contributions]
    scale = max([total, *changes]) or 1.0
    rows = []
    for item, change in zip(contributions, changes, strict=True):
        unit = item.get("current_unit") or ""
        rows.append({
            "label": unit_text(item.get("label") or humanize(item.get("factor", ""))),
            "current": number(item.get("current")),
            "optimal": number(item.get("optimal")) if item.get("optimal") is not None else "",
            "unit": unit_text(unit),
            "change": signed(item.get("change"), decimals),
            "score_without": number(total - float(item.get("change") or 0), decimals)
            if item.get("optimal") is not None
            else "",
            "width": round(100 * change / scale, 1),
            "source": item.get("source", ""),
        })
    return rows


def recommendations(items) -> list[dict]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            out.append({"text": item.get("text", ""), "source": item.get("source", "")})
        else:
            out.append({"text": str(item), "source": ""})
    return out


def input_rows(analyzer, inputs: dict) -> list[dict]:
    """The stored inputs as label and value, labelled by the input schema; a value with a unit field shows its
    unit in the label (the unit field itself is not a row)."""
    schema = analyzer.modality.input_schema if analyzer else None
    fields = schema().fields if schema is not None else {}
    units = schema.unit_fields if schema is not None else {}
    catalogue = analyzer.modality.catalogue if analyzer else {}
    rows = []
    for key, value in (inputs or {}).items():
        if isinstance(value, (dict, list)) or key in units.values():
            continue
        field = fields.get(key)
        label = str(field.label) if field is not None and field.label else humanize(key)
        if inputs.get(units.get(key)):
            label = f"{label} ({inputs[units[key]]})"
        label = unit_text(label)
        # A typed value that is also a biomarker reads at the biomarker's precision (eGFR 56, not 56.11).
        display = number(value, catalogue[key].decimals if key in catalogue and not isinstance(value, bool) else None)
        choices = dict(getattr(field, "choices", None) or {})
        if isinstance(value, str) and value in choices:
            display = str(choices[value])
        rows.append({"label": label, "value": display})
    return rows
