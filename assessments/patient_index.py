"""The blind index of patients: the tokens a patient is found by, and the tokens a search asks for.

Indexed (each as an HMAC under the organization's index key, medilens.crypto.blind):

* the exact MRN and its prefixes of 3 characters or more (case- and accent-folded, punctuation kept:
  "abc-10" finds "ABC-1001" as the plaintext search did);
* every word of the given and family names, and each name part with its punctuation removed
  ("O'Brien" is "o", "brien" and "obrien"), with their prefixes of 2 characters or more;
* the exact date of birth (a search term written YYYY-MM-DD or DD/MM/YYYY; day first, as the portal
  prints dates; see ``parse_date``).

An MRN prefix search works with the blind index because every prefix of 3 to 32 characters is itself a
token (kind MRN_PREFIX): a 12-character MRN stores 10 prefix tokens, and "P-00" looks up one token. A
prefix shorter than 3 characters finds only an MRN that short, whole (kind MRN): two characters would
name too many patients to be a useful search and would multiply the tokens a patient stores.

A search is split into terms at spaces and commas; every term must match one token of the patient
(so "cast", "Castillo, Nadia" and "nadia castillo" all find Nadia Castillo), or the whole search must
match the MRN (an MRN that contains a space).
"""

from __future__ import annotations

import datetime
import re

from django.db.models import Q
from django_scopes import get_scope

from accounts.tenancy import TenantScopeMissing
from medilens.crypto import blind

from .models import Patient, PatientSearchToken

Kind = PatientSearchToken.Kind
NAME_MINIMUM, NAME_MAXIMUM = 2, 24
MRN_MINIMUM, MRN_MAXIMUM = 3, 32
MAX_TERMS = 6
_TERM_SPLIT = re.compile(r"[\s,;]+")
# What a person typing a date writes: 1961-05-30 (ISO) or 30/05/1961 (day first; also with dots).
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST_DATE = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def parse_date(term: str) -> datetime.date | None:
    """The date a search term writes (YYYY-MM-DD or DD/MM/YYYY), or None when the term is not written as a
    date. A term written as a date that names no day (31/02/1980, 1980-13-01) raises ValueError, so the page
    can say so instead of silently finding nobody."""
    term = term.strip()
    if match := _ISO_DATE.match(term):
        year, month, day = match.groups()
    elif match := _DAY_FIRST_DATE.match(term):
        day, month, year = match.groups()
    else:
        return None
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"“{term}” is not a date: write a date of birth as YYYY-MM-DD or DD/MM/YYYY.") from None


def malformed_dates(search: str) -> list[str]:
    """Messages for the terms of a search that are written as dates but name no day."""
    problems = []
    for term in _terms(search):
        try:
            parse_date(term)
        except ValueError as error:
            problems.append(str(error))
    return problems


def _mrn(text: str) -> str:
    return " ".join(blind.fold(text).split())


def _name_words(text: str) -> set[str]:
    found = set()
    for part in blind.fold(text).split():
        found.update(blind.words(part))
        found.add(blind.compact(part))
    found.discard("")
    return found


def entries(patient: Patient) -> set[tuple[str, str]]:
    """(kind, normalised value) pairs a patient is found by."""
    found = set()
    mrn = _mrn(patient.mrn)
    if mrn:
        found.add((Kind.MRN, mrn[:MRN_MAXIMUM * 2]))
        found.update((Kind.MRN_PREFIX, p) for p in blind.prefixes(mrn, minimum=MRN_MINIMUM, maximum=MRN_MAXIMUM))
    for word in _name_words(f"{patient.given_name} {patient.family_name}"):
        found.update((Kind.NAME, p) for p in blind.prefixes(word, minimum=NAME_MINIMUM, maximum=NAME_MAXIMUM))
    if patient.date_of_birth:
        found.add((Kind.DATE_OF_BIRTH, patient.date_of_birth.isoformat()))
    return found


def tokens(patient: Patient) -> list[PatientSearchToken]:
    organization_id = patient.organization_id
    return [
        PatientSearchToken(
            organization_id=organization_id,
            patient=patient,
            kind=kind,
            token=blind.token(organization_id, kind, value),
            last_activity_at=patient.last_activity_at,
        )
        for kind, value in sorted(entries(patient))
    ]


def reindex(patient: Patient) -> None:
    """Replace a patient's tokens (inside the caller's transaction)."""
    PatientSearchToken.objects.filter(patient=patient).delete()
    PatientSearchToken.objects.bulk_create(tokens(patient))


def _term_values(term: str) -> set[tuple[str, str]]:
    wanted = set()
    name = blind.compact(term)
    if name:
        wanted.add((Kind.NAME, name[:NAME_MAXIMUM]))
    wanted.update(_mrn_values(term))
    try:
        day = parse_date(term)
    except ValueError:
        day = None  # malformed_dates() tells the person; here it simply matches no date of birth
    if day is not None:
        wanted.add((Kind.DATE_OF_BIRTH, day.isoformat()))
    return wanted


def _mrn_values(text: str) -> set[tuple[str, str]]:
    mrn = _mrn(text)
    wanted = {(Kind.MRN, mrn[:MRN_MAXIMUM * 2])} if mrn else set()
    if len(mrn) >= MRN_MINIMUM:
        wanted.add((Kind.MRN_PREFIX, mrn[:MRN_MAXIMUM]))
    return wanted


def _scoped_organization_id() -> int:
    scope = get_scope()
    if not scope.get("_enabled") or scope.get("organization") is None:
        raise TenantScopeMissing("a patient search needs an organization scope")
    return int(scope["organization"])


def _matching(organization_id: int, values: set[tuple[str, str]]):
    found = [blind.token(organization_id, kind, value) for kind, value in sorted(values)]
    return PatientSearchToken.objects.filter(token__in=found).values("patient_id")


def _terms(search: str) -> list[str]:
    return [t for t in _TERM_SPLIT.split(search) if t][:MAX_TERMS]


def most_recent_matches(search: str, limit: int) -> list | None:
    """Up to ``limit`` ids of the most recently active patients a one-term search finds, read from the
    token index alone (ordered by its copy of last_activity_at); None for a search of several terms, which
    ``search_filter`` answers."""
    terms = _terms(search)
    if len(terms) != 1:
        return None
    values = _term_values(terms[0])
    if not values:
        return []
    organization_id = _scoped_organization_id()
    found = [blind.token(organization_id, kind, value) for kind, value in sorted(values)]
    rows = (
        PatientSearchToken.objects.filter(token__in=found)
        .order_by("-last_activity_at", "-patient_id")
        .values_list("patient_id", "last_activity_at")
        .distinct()[:limit]
    )
    return list(dict.fromkeys(patient_id for patient_id, _ in rows))


def search_filter(search: str) -> Q | None:
    """The filter on Patient for a search, or None when the search names nothing to look for.

    One set expression on the token index (INTERSECT across terms, UNION with the whole search as an
    MRN), so PostgreSQL computes the matching ids once: an OR of per-term subqueries instead made it test
    every patient of the organization (170 ms at 100,000 patients, benchmarks/patient_search.py)."""
    terms = _terms(search)
    organization_id = _scoped_organization_id()
    per_term = [_matching(organization_id, values) for values in map(_term_values, terms) if values]
    if not per_term:
        return None
    matching = per_term[0].intersection(*per_term[1:]) if len(per_term) > 1 else per_term[0]
    if len(terms) > 1 and (whole := _mrn_values(search)):
        matching = matching.union(_matching(organization_id, whole))
    return Q(pk__in=matching)
