"""Where a clinician meets the directory: from a result to the facilities to refer to and the medicines a
recommendation names.

- A high-risk cardiovascular result (the CVD risk panel or the ECG) offers "Find a facility": hospitals
  (FINESS categories below) near the patient's postcode (resolved by the search page on the server).
- A recommendation naming a drug class links to the medicines of that class's ATC codes (WHO ATC index).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.urls import reverse

from .search import facilities

REFERRAL_MODALITIES = frozenset({"cvd_risk", "cardiology"})
# FINESS establishment categories with cardiology departments: regional university hospitals (101),
# hospital centres (355) and multi-specialty private clinics (365). Only those present in the current
# import are put in the link (an unknown category is a 400 on the search page).
REFERRAL_CATEGORIES = ("101", "355", "365")

# (words in a recommendation, what the link says, ATC codes): WHO ATC/DDD index classes.
DRUG_CLASSES = (
    (r"\bstatins?\b", "Statins", ("C10AA",)),
    (r"\bezetimibe\b", "Ezetimibe", ("C10AX09",)),
    (r"\banticoagula(?:nt|nts|tion)\b", "Anticoagulants", ("B01AA", "B01AE", "B01AF")),
    (r"\b(?:antiplatelet|aspirin)\b", "Antiplatelet agents", ("B01AC",)),
    (
        r"\b(?:antihypertensive|blood[- ]pressure[- ]lowering)\b",
        "Antihypertensives",
        ("C02", "C03", "C07", "C08", "C09"),
    ),
    (r"\bbeta[- ]blockers?\b", "Beta blockers", ("C07",)),
    (r"\bdiuretics?\b", "Diuretics", ("C03",)),
    (r"\bACE inhibitors?\b", "ACE inhibitors", ("C09A", "C09B")),
    (r"\bmetformin\b", "Metformin", ("A10BA02",)),
    (r"\bSGLT2\b", "SGLT2 inhibitors", ("A10BK",)),
    (r"\bGLP-1\b", "GLP-1 analogues", ("A10BJ",)),
)
_PATTERNS = tuple((re.compile(words, re.IGNORECASE), label, codes) for words, label, codes in DRUG_CLASSES)


def medicine_links(text: str) -> list[dict]:
    """Links to the medicines of each drug class ``text`` names, in the order of DRUG_CLASSES."""
    url = reverse("directory:medicine_list")
    return [
        {"label": label, "atc": ", ".join(codes), "url": f"{url}?{urlencode({'atc': ','.join(codes)})}"}
        for pattern, label, codes in _PATTERNS
        if pattern.search(text or "")
    ]


def with_medicine_links(recommendations: list[dict]) -> list[dict]:
    return [{**item, "medicines": medicine_links(item.get("text", ""))} for item in recommendations]


def facility_link(assessment) -> dict | None:
    """The "Find a facility" link of a high-risk cardiovascular result, or None."""
    if assessment.modality not in REFERRAL_MODALITIES or assessment.risk_level != "high":
        return None
    known = facilities.categories()
    codes = [code for code in REFERRAL_CATEGORIES if code in known]
    query = {"patient": str(assessment.patient_id)}
    if codes:
        query["category"] = ",".join(codes)
    return {
        "url": f"{reverse('directory:facility_list')}?{urlencode(query)}",
        "categories": [known[code] or code for code in codes],
    }
