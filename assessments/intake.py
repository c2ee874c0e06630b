"""What the new-assessment page offers before anything is submitted: one card per modality (what it measures,
the files it takes, a sample input to try it with, where it is done) and, for the chosen modality, the reason
a request can never succeed when the patient's record alone already decides it.

Nothing here validates: the record check runs the modality's own ``validate_inputs`` (the same one the
service runs at submission) on the schema's published example completed from the patient's record, so the
page says in advance what the service would say after the form was filled in. Nothing here is stored or
audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.templatetags.static import static
from django.urls import reverse

from modalities import registry
from modalities.base import InputError

from . import samples

# Modalities the portal administers on a page of their own instead of the upload form: the cognitive battery
# is done by the patient on the kiosk (its raw responses only a device sends), so the form could never
# succeed for it. The value is the URL name, taking the patient's pk.
ADMINISTERED_ELSEWHERE = {"cognitive": ("kiosk:start", "Done by the patient in patient (kiosk) mode")}

# Formats named as clinicians know them; a content type not listed reads as its stored extension.
_FORMAT_NAMES = {"hea": "WFDB (.hea + .dat)", "dat": "", "dcm": "DICOM", "jpg": "JPEG", "tif": "TIFF", "edf": "EDF"}


def title(label: str) -> str:
    """A modality's label as it reads inside a sentence: "ECG (cardiology)" -> "ECG", "Chest X-ray" ->
    "chest X-ray" (the parenthesis is a gloss for the chooser, an acronym keeps its capitals)."""
    short = label.split(" (", 1)[0].strip()
    if len(short) > 1 and short[:2].isupper():
        return short
    return short[:1].lower() + short[1:]


def accepted_formats(modality) -> list[str]:
    names: list[str] = []
    for extension in modality.accepted_types.values():
        name = _FORMAT_NAMES.get(extension, extension.upper())
        if name and name not in names:
            names.append(name)
    return names


@dataclass(frozen=True)
class Card:
    name: str
    label: str
    description: str
    formats: list[str]
    structured_inputs: bool
    sample_url: str
    sample_name: str
    url: str
    elsewhere: str  # how it is done when not through this form ("" when it is)


def cards(patient) -> list[Card]:
    """One card per registered modality, in the registry's order."""
    out = []
    for name, label in registry.choices():
        modality = registry.get(name).modality
        sample = samples.SAMPLES.get(name)
        elsewhere = ADMINISTERED_ELSEWHERE.get(name)
        url = (
            reverse(elsewhere[0], args=[patient.pk])
            if elsewhere
            else reverse("assessments:assessment_create", args=[patient.pk]) + f"?modality={name}"
        )
        out.append(
            Card(
                name=name,
                label=label,
                description=modality.description,
                formats=accepted_formats(modality),
                structured_inputs=modality.input_schema is not None,
                sample_url=static(f"samples/{sample.filename}") if sample else "",
                sample_name=sample.filename if sample else "",
                url=url,
                elsewhere=elsewhere[1] if elsewhere else "",
            )
        )
    return out


def elsewhere_url(modality: str, patient) -> str | None:
    """The page a modality is done on when it is not this form (the kiosk), else None."""
    target = ADMINISTERED_ELSEWHERE.get(modality)
    return reverse(target[0], args=[patient.pk]) if target else None


def record_refusal(analyzer, facts) -> dict[str, list[str]]:
    """Why a request for this patient would be refused whatever is typed into the form, as the service's field
    errors ({} when the record does not decide it). The schema's example stands for plausible typed values;
    what the record supplies (age, sex, history) comes from the record, as at submission."""
    schema = analyzer.modality.input_schema if analyzer else None
    if schema is None or not schema.example or schema.json_schema is not None:
        return {}
    from_record = schema.initial(facts)
    decided = {"inputs"} | (set(from_record) - set(schema.example) - set(schema.unit_fields.values()))
    try:
        analyzer.validate_inputs(inputs={**schema.example, **from_record}, patient=facts)
    except InputError as error:
        # Only what the record supplies: a field the clinician has to fill in (sex not on record) is not a
        # refusal, it is a question the form asks.
        return {key: [message] for key, message in error.errors.items() if key in decided}
    except Exception:  # noqa: BLE001 - a modality needing history or files: the submission check decides
        return {}
    return {}


def record_needs(analyzer, facts) -> dict[str, list[str]]:
    """What this patient's record makes required beyond the form's required fields (e.g. an eGFR when only
    the equation that needs one covers the patient's age), as field errors, or {}. Only meaningful when
    ``record_refusal`` is empty."""
    schema = analyzer.modality.input_schema if analyzer else None
    if schema is None or not schema.example or schema.json_schema is not None:
        return {}
    fields = schema().fields
    required_only = {k: v for k, v in schema.example.items() if k in fields and fields[k].required}
    try:
        analyzer.validate_inputs(inputs={**required_only, **schema.initial(facts)}, patient=facts)
    except InputError as error:
        return {key: [message] for key, message in error.errors.items() if key in fields}
    except Exception:  # noqa: BLE001 - see record_refusal
        return {}
    return {}
