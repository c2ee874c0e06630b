"""The shared shape of an ECG upload: a source file, named leads in millivolts, a record; lead names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..base import InputError

TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


@dataclass
class Source:
    """One input file as both upload and worker see it: its display name, libmagic type and bytes."""

    name: str
    content_type: str
    data: bytes
    kind: str = ""


@dataclass
class Lead:
    label: str
    samples: object  # numpy array, millivolts
    sampling_rate: float

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sampling_rate


@dataclass
class EcgRecord:
    source_format: str
    leads: list[Lead]
    ignored: list[str] = field(default_factory=list)

    def rhythm_lead(self) -> tuple[Lead, str]:
        """Lead II when present (the conventional rhythm lead, and the lead in which intervals are usually
        measured), else the first lead."""
        for wanted in ("II", "MLII"):
            for lead in self.leads:
                if canonical_lead(lead.label) == wanted:
                    return lead, f"lead II (labelled '{lead.label}')"
        first = self.leads[0]
        return first, f"no lead II in the record: the first lead, '{first.label}', was analysed"


def canonical_lead(label: str) -> str:
    """'Lead II (Einthoven)', 'ECG II', 'ii' -> 'II'; 'MLII' (modified lead II) stays 'MLII'."""
    text = re.sub(r"\(.*?\)", "", label).strip()
    text = re.sub(r"^(lead|ecg|ekg)[\s_:-]*", "", text, flags=re.IGNORECASE)
    return text.strip().upper()


def text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def named(leads: list[Lead]) -> list[Lead]:
    if not leads:
        raise InputError({"files": "The record has no ECG lead."})
    labels = [canonical_lead(lead.label) for lead in leads]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InputError({"files": f"Lead names must be unique; repeated: {', '.join(duplicates)}."})
    return leads
