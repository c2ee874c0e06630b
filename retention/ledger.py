"""The purge ledger: one signed entry per purged patient, kept outside the database.

A restore brings the database back as it was when its archive was made, so a patient purged since then
would come back with it. Each purge therefore also writes an entry here, and ``manage.py restore``
purges again every patient an entry names (medilens/backup/restore.py). The entries live in object
storage under ``PREFIX`` of the storage named by the ``PURGE_LEDGER_STORAGE`` setting (default: the
default storage; in production a bucket of its own, with object lock, so that losing or restoring the
main bucket never loses the ledger).

Each entry is signed with an HMAC (Django's ``salted_hmac``, SHA-256) so that a forged entry cannot make a
restore delete a patient and an altered one is refused. An entry holds ids and counts, never PHI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils.crypto import constant_time_compare, salted_hmac

from medilens.backup import hooks
from medilens.backup.objects import list_objects

PREFIX = "ledger/purges/"
_SALT = "medilens.retention.purge-ledger"
FORMAT = 1


class LedgerError(Exception):
    """An entry that cannot be trusted: unreadable, or its signature does not match."""


@dataclass(frozen=True)
class LedgerEntry:
    organization_id: int
    patient_id: str
    purged_at: datetime
    reason: str
    counts: dict

    def document(self) -> dict:
        return {
            "format": FORMAT,
            "organization_id": self.organization_id,
            "patient_id": self.patient_id,
            "purged_at": self.purged_at.isoformat(),
            "reason": self.reason,
            "counts": self.counts,
        }


def ledger_storage():
    return storages[getattr(settings, "PURGE_LEDGER_STORAGE", "default")]


def _canonical(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _signature(document: dict, secret: str) -> str:
    return salted_hmac(_SALT, _canonical(document), secret=secret, algorithm="sha256").hexdigest()


def entry_key(entry: LedgerEntry) -> str:
    stamp = entry.purged_at.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{PREFIX}{entry.organization_id}/{stamp}-{entry.patient_id}.json"


def write(entry: LedgerEntry) -> str:
    """Store one signed entry; returns its key. Raises if the storage refuses (the purge then rolls back)."""
    document = entry.document()
    keys = hooks.ledger_signing_keys()
    body = json.dumps({"entry": document, "signature": _signature(document, keys[0])}, sort_keys=True)
    key = entry_key(entry)
    saved = ledger_storage().save(key, ContentFile(body.encode()))
    if saved != key:
        raise LedgerError(f"the ledger storage renamed {key} to {saved}")
    return key


def read(key: str) -> LedgerEntry:
    try:
        with ledger_storage().open(key, "rb") as handle:
            stored = json.loads(handle.read())
        document, signature = stored["entry"], stored["signature"]
    except (ValueError, KeyError, TypeError) as error:
        raise LedgerError(f"ledger entry {key} is unreadable ({type(error).__name__})") from None
    secrets = hooks.ledger_signing_keys()
    if not any(constant_time_compare(signature, _signature(document, secret)) for secret in secrets):
        raise LedgerError(f"ledger entry {key} has a signature that does not match (altered, or signed elsewhere)")
    try:
        return LedgerEntry(
            organization_id=int(document["organization_id"]),
            patient_id=str(document["patient_id"]),
            purged_at=datetime.fromisoformat(document["purged_at"]),
            reason=str(document["reason"]),
            counts=dict(document["counts"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise LedgerError(f"ledger entry {key} is malformed ({type(error).__name__})") from None


def entries() -> list[LedgerEntry]:
    """Every entry, oldest first; the first entry that cannot be trusted raises LedgerError."""
    found = [read(item.key) for item in list_objects(ledger_storage(), PREFIX)]
    return sorted(found, key=lambda entry: entry.purged_at)
