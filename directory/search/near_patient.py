""" "Near this patient": the portal's facility search centred on a patient's postcode, resolved on the server
so the postcode never travels in a URL (URLs reach logs and browser history; the link carries the patient's
id, which every patient page already does).

The location is an approximation: the centroid of the current FINESS establishments registered with that
postcode (FINESS publishes no postcode areas). A postcode no establishment has, or no postcode, gives a
search without ``near``, and the page says why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from assessments.models import Patient

from .facilities import postcode_location

NOT_FOUND = "No such patient."


@dataclass
class Outcome:
    params: dict
    note: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    patient: Patient | None = None  # the patient whose record was read (the caller audits the read)


def near_patient(values: dict, *, may_read_patients: bool) -> Outcome:
    """``values`` with ``near`` set from the patient's postcode (unless the caller gave ``near``)."""
    values = dict(values)
    raw = values.pop("patient", "")
    try:
        pk = uuid.UUID(raw)
    except ValueError:
        return Outcome(values, errors={"patient": [NOT_FOUND]})
    # The scoped manager: a patient of another organization is not found, as a missing one.
    patient = Patient.objects.filter(pk=pk).first() if may_read_patients else None
    if patient is None:
        return Outcome(values, errors={"patient": [NOT_FOUND]})
    if values.get("near"):
        return Outcome(values, note="Searching near the point given, not the patient's postcode.")
    if not patient.postcode:
        note = "The patient has no postcode on record: showing facilities anywhere."
        return Outcome(values, note=note, patient=patient)
    location = postcode_location(patient.postcode)
    if location is None:
        return Outcome(
            values,
            note="No establishment in the directory has the patient's postcode, so its location is unknown: "
            "showing facilities anywhere.",
            patient=patient,
        )
    values["near"] = f"{location[0]},{location[1]}"
    return Outcome(
        values,
        note="Near the patient's postcode: its location is approximate (the centre of the establishments "
        "registered with that postcode).",
        patient=patient,
    )
