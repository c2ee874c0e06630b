"""Audit events for reads of patient data: one event per request, bulk reads included.

A read event names what was read by id: its target, and in ``details["patients"]`` the ids of every
patient whose data the response showed (the bulk-access monitor counts those). A list records the ids it
returned; past ``AUDIT_READ_IDS_MAX`` ids it records the query and the count instead. Queries are
recorded by their filters, never by what was typed into a search box (that could be a name): only how
many search terms there were.

``AUDIT_READS_ENABLED`` exists only for the read benchmark's baseline (benchmarks/audit_reads.py); it is
on everywhere else and writes are always audited.
"""

from django.conf import settings

from .services import record


def enabled() -> bool:
    return getattr(settings, "AUDIT_READS_ENABLED", True)


def _ids_max() -> int:
    return int(getattr(settings, "AUDIT_READ_IDS_MAX", 200))


def _strings(values) -> list[str]:
    seen, out = set(), []
    for value in values:
        if value is None:
            continue
        text = str(value)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def search_summary(text: str) -> dict:
    terms = (text or "").split()
    return {"search_terms": len(terms)} if terms else {}


def record_read(*, action: str, actor, organization, target=None, patients=(), details: dict | None = None) -> None:
    """One read of one thing (a patient, an assessment, a file), with the patients it showed."""
    if not enabled():
        return
    record(
        action=action,
        actor=actor,
        organization=organization,
        target=target,
        details={**(details or {}), "patients": _strings(patients)},
    )


def record_list(
    *, action: str, actor, organization, ids, patients=(), query: dict | None = None, target=None
) -> None:
    """One list response: the ids it returned and the patients they belong to, with the query's filters."""
    if not enabled():
        return
    ids, patients = _strings(ids), _strings(patients)
    details = {"query": dict(query or {}), "count": len(ids)}
    if len(ids) <= _ids_max() and len(patients) <= _ids_max():
        details.update({"ids": ids, "patients": patients})
    else:
        details.update({"ids_omitted": True, "patient_count": len(patients)})
    record(action=action, actor=actor, organization=organization, target=target, details=details)


def patients_of(event) -> list[str]:
    """The patient ids a read event names (for the bulk-access monitor)."""
    details = event.details if isinstance(event.details, dict) else {}
    patients = details.get("patients")
    if isinstance(patients, list):
        return [str(value) for value in patients]
    return []


def omitted_patient_count(event) -> int:
    details = event.details if isinstance(event.details, dict) else {}
    return int(details.get("patient_count", 0) or 0) if details.get("ids_omitted") else 0
