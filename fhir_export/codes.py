"""The code systems and vocabularies the FHIR export speaks: LOINC (from the biomarker catalogue), UCUM units,
HL7's interpretation and category codes, and MediLens's own code systems where no standard code exists.

MediLens's systems live under ``FHIR_SYSTEM_BASE`` (a setting: an installation names its own URIs); an
organization's MRNs are identified under it by the organization's slug, so two clinics' MRN 123 differ.
"""

from __future__ import annotations

from django.conf import settings

from modalities import registry
from modalities.base import BiomarkerSpec

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ADMINISTRATIVE_GENDER = {"female": "female", "male": "male", "unknown": "unknown"}


def _base() -> str:
    return settings.FHIR_SYSTEM_BASE.rstrip("/")


def biomarker_system() -> str:
    return f"{_base()}/CodeSystem/biomarker"


def flag_system() -> str:
    return f"{_base()}/CodeSystem/flag"


def modality_system() -> str:
    return f"{_base()}/CodeSystem/modality"


def score_system() -> str:
    return f"{_base()}/CodeSystem/score"


def risk_level_system() -> str:
    return f"{_base()}/CodeSystem/risk-level"


def mrn_system(organization) -> str:
    return f"{_base()}/organization/{organization.slug}/mrn"


# Catalogue units -> UCUM codes (https://ucum.org). Annotations in braces are UCUM's way of naming a count
# of things; "1" is a dimensionless number. A unit missing here is a test failure, not a guess at run time.
UCUM_CODES = {
    "": "1",
    "bpm": "/min",
    "ms": "ms",
    "s": "s",
    "%": "%",
    "% of list": "%",
    "ratio": "1",
    "r": "1",
    "fraction": "1",
    "probability": "1",
    "mg/dL": "mg/dL",
    "mmol/L": "mmol/L",
    "mmHg": "mm[Hg]",
    "kg/m²": "kg/m2",
    "mL/min/1.73 m²": "mL/min/{1.73_m2}",
    "Hz": "Hz",
    "dB": "dB",
    "semitones": "{semitones}",
    "pauses/min": "{pauses}/min",
    "syllables/s": "{syllables}/s",
    "mm": "mm",
    "mm2": "mm2",
    # The body scan's lengths, areas and volume.
    "cm": "cm",
    "m2": "m2",
    "L": "L",
    "px": "{pixels}",
    "points": "{points}",
    "axes": "{axes}",
    "segments": "{segments}",
    "colours": "{colours}",
    "trials": "{trials}",
    "digits": "{digits}",
    "words": "{words}",
    "findings": "{findings}",
    "criteria": "{criteria}",
}

# HL7 observation categories (terminology.hl7.org observation-category): by modality, where all of its
# values are one kind (an ECG or a voice recording is an electrodiagnostic "procedure", photos and films are
# "imaging", a test battery is an assessment tool, "survey"); by catalogue category for a lab-and-vitals panel.
MODALITY_CATEGORIES = {
    "cardiology": "procedure",
    "speech": "procedure",
    "radiology": "imaging",
    "retinal": "imaging",
    "dermatology": "imaging",
    "cognitive": "survey",
}
CATEGORY_CODES = {
    "lipids": "laboratory",
    "kidney": "laboratory",
    "blood_pressure": "vital-signs",
    "anthropometry": "vital-signs",
    "risk_estimate": "survey",
}


def quantity(value: float, unit: str) -> dict:
    """A FHIR Quantity with its UCUM code; a unit UCUM cannot express keeps its text only."""
    result = {"value": value, "unit": unit or "1"}
    code = UCUM_CODES.get(unit)
    if code is not None:
        result.update(system=UCUM, code=code)
    return result


def spec_of(modality: str, name: str) -> BiomarkerSpec | None:
    """The catalogue entry a stored value was measured against; None for a modality or name that the
    catalogue no longer has (the value is then exported under its stored name)."""
    try:
        return registry.get(modality).modality.catalogue.get(name)
    except registry.UnknownModality:
        return None


def biomarker_code(name: str, spec: BiomarkerSpec | None) -> dict:
    label = spec.label if spec else name.replace("_", " ")
    codings = []
    if spec and spec.loinc:
        # No display: LOINC's is its own long name, and a display that differs from it is an error to a
        # terminology-checking validator; the text and MediLens's coding carry the label.
        codings.append({"system": LOINC, "code": spec.loinc})
    codings.append({"system": biomarker_system(), "code": name, "display": label})
    return {"coding": codings, "text": label}


def names_for_code(system: str | None, code: str) -> set[str]:
    """Biomarker names a search's ``code`` token matches: a LOINC code through the catalogue, MediLens's
    own code by name; with no system, either."""
    names = set()
    for modality in registry.names():
        for spec in registry.get(modality).modality.catalogue.values():
            if system in (None, LOINC) and spec.loinc and spec.loinc == code:
                names.add(spec.name)
            if system in (None, biomarker_system()) and spec.name == code:
                names.add(spec.name)
    return names


def interpretation(flag: str, value: float, low: float | None, high: float | None) -> list[dict]:
    """The flag as HL7 interpretation codes (with MediLens's own flag beside it); none for a value with no
    range. A "critical" flag names its side where the stored range shows it."""
    if flag == "none":
        return []
    hl7 = {"normal": "N", "low": "L", "high": "H"}.get(flag)
    if flag == "critical":
        hl7 = "HH" if high is not None and value > high else "LL" if low is not None and value < low else "AA"
    codings = [{"system": INTERPRETATION, "code": hl7}] if hl7 else []
    codings.append({"system": flag_system(), "code": flag})
    return [{"coding": codings, "text": flag}]


def category(modality: str, stored_category: str) -> list[dict]:
    name = stored_category
    hl7 = MODALITY_CATEGORIES.get(modality) or CATEGORY_CODES.get(name, "exam")
    return [
        {"coding": [{"system": OBSERVATION_CATEGORY, "code": hl7}]},
        {"coding": [{"system": f"{_base()}/CodeSystem/biomarker-category", "code": name}], "text": name},
    ]
