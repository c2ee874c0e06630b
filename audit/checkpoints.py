"""Checkpoints: signed snapshots of every chain's head, kept outside the database.

A checkpoint is a small JSON object (``<prefix>/YYYY/MM/DD/HH/<time>-<kind>-<random>.json``) in the
checkpoint storage: the organization, last sequence, last MAC and event count of every chain, the time,
the previous checkpoint's name and MAC, and every database restore recorded so far, all under an HMAC
with the sealing key. Objects are only ever added; with ``AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS`` set, S3
Object Lock (compliance mode) headers ask the store to refuse their deletion too. Verification never
relies on that: it checks the signature and compares the database with the newest valid checkpoint, so
removing the newest events, removing a whole chain, or rewriting a chain shows whatever the store did.

Kinds: ``seal`` (after a seal that sealed something: the chains it touched are read again, the others
carried forward unchanged), ``heartbeat`` (every minute from beat: every chain read again) and
``restore`` (after a database restore: the heads as restored, and what the restore lost).

A new checkpoint is written only if the database still holds the head the newest checkpoint recorded
for every chain it re-reads; otherwise the database lost or changed sealed events, and writing would
hide it. The sealer then logs the refusal and the verifier reports the damage. A restore is the one
legitimate way back: ``write_restore_checkpoint`` records it.
"""

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from . import keys
from .models import AuditEvent, AuditSeal, ChainCutover, canonical_json
from .sealing import chain_head

logger = logging.getLogger(__name__)

FORMAT = "medilens-audit-checkpoint/1"
KINDS = ("seal", "heartbeat", "restore")
# How many unreadable or badly signed objects the reader skips while looking for the newest valid one.
MAX_INVALID_SKIPPED = 100


class CheckpointUnavailable(Exception):
    """The checkpoint storage could not be read or written."""


class CheckpointRefused(Exception):
    """The database no longer holds what the newest checkpoint recorded: a new checkpoint would hide it."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Checkpoint:
    name: str
    payload: dict

    @property
    def written_at(self) -> str:
        return self.payload["written_at"]

    def chains(self) -> dict:
        return {entry["organization"]: entry for entry in self.payload.get("chains", [])}


@dataclass
class Latest:
    checkpoint: Checkpoint | None
    # Newer objects that failed their signature or could not be parsed (name, reason).
    invalid: list = field(default_factory=list)
    # Newer objects signed with a key AUDIT_HMAC_KEY does not hold (name, key id).
    unknown_key: list = field(default_factory=list)


# --- storage -----------------------------------------------------------------------------------------
def _storage():
    return storages[getattr(settings, "AUDIT_CHECKPOINT_STORAGE", "default")]


def _prefix() -> str:
    return getattr(settings, "AUDIT_CHECKPOINT_PREFIX", "audit-checkpoints").strip("/")


def _object_name(kind: str, when: datetime) -> str:
    when = when.astimezone(UTC)
    stamp = when.strftime("%Y%m%dT%H%M%S%fZ")
    # Hour folders: the newest checkpoint is found by listing a few small folders, never a long one (a busy
    # system writes one every few seconds).
    return f"{_prefix()}/{when:%Y/%m/%d/%H}/{stamp}-{kind}-{secrets.token_hex(4)}.json"


def _lock_parameters(now: datetime) -> dict:
    days = int(getattr(settings, "AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS", 0) or 0)
    if days <= 0:
        return {}
    return {
        "ObjectLockMode": getattr(settings, "AUDIT_CHECKPOINT_OBJECT_LOCK_MODE", "COMPLIANCE"),
        "ObjectLockRetainUntilDate": now + timedelta(days=days),
    }


def _put(name: str, data: bytes, now: datetime) -> None:
    from storages.backends.s3 import S3Storage
    from storages.utils import clean_name

    storage = _storage()
    try:
        if isinstance(storage, S3Storage):
            storage.connection.meta.client.put_object(
                Bucket=storage.bucket_name,
                Key=storage._normalize_name(clean_name(name)),
                Body=data,
                ContentType="application/json",
                **_lock_parameters(now),
            )
        else:
            saved = storage.save(name, ContentFile(data))
            if saved != name:
                raise CheckpointUnavailable(f"storage renamed checkpoint {name} to {saved}")
    except CheckpointUnavailable:
        raise
    except Exception as error:
        raise CheckpointUnavailable(f"could not write checkpoint {name} ({type(error).__name__})") from error


def _listdir(path: str) -> tuple[list[str], list[str]]:
    try:
        return _storage().listdir(path)
    except FileNotFoundError:
        return [], []


def _names_newest_first():
    """Checkpoint object names, newest first, walking year/month/day/hour folders so that only the newest
    folders are listed in the usual case."""
    prefix = _prefix()

    def walk(path: str, depth: int):
        directories, files = _listdir(path)
        if depth == 4:
            for name in sorted((f for f in files if f.endswith(".json")), reverse=True):
                yield f"{path}/{name}"
            return
        for directory in sorted(directories, reverse=True):
            yield from walk(f"{path}/{directory}", depth + 1)

    yield from walk(prefix, 0)


def _read(name: str) -> dict:
    with _storage().open(name, "rb") as handle:
        return json.loads(handle.read().decode())


# --- signatures --------------------------------------------------------------------------------------
def _signed_part(payload: dict) -> bytes:
    return canonical_json({k: v for k, v in payload.items() if k != "mac"})


def check_signature(payload: dict, known: dict[str, keys.Key]) -> str | None:
    """None when the signature holds; else what is wrong. A key id that is not configured raises
    KeyProblem: that is a wrong key, not a forged checkpoint."""
    if payload.get("format") != FORMAT:
        return "not a MediLens audit checkpoint"
    key_id = payload.get("key_id")
    if key_id not in known:
        raise keys.KeyProblem(f"checkpoint signed with key id {key_id}, which AUDIT_HMAC_KEY does not hold")
    expected = known[key_id].mac(_signed_part(payload))
    if not keys.constant_time_equal(expected, str(payload.get("mac", ""))):
        return "its signature does not match (the object was forged or edited)"
    return None


def read_latest() -> Latest:
    """The newest checkpoint whose signature holds, with the newer objects that did not."""
    known = keys.by_id()
    latest = Latest(None)
    try:
        for name in _names_newest_first():
            if len(latest.invalid) + len(latest.unknown_key) >= MAX_INVALID_SKIPPED:
                break
            try:
                payload = _read(name)
                problem = check_signature(payload, known)
            except keys.KeyProblem:
                latest.unknown_key.append((name, payload.get("key_id")))
                continue
            except (ValueError, UnicodeDecodeError, AttributeError):
                latest.invalid.append((name, "it is not valid JSON"))
                continue
            if problem:
                latest.invalid.append((name, problem))
                continue
            latest.checkpoint = Checkpoint(name, payload)
            return latest
    except Exception as error:
        raise CheckpointUnavailable(f"checkpoint storage could not be read ({type(error).__name__})") from error
    return latest


# --- the database side -------------------------------------------------------------------------------
def _slugs() -> dict:
    from accounts.models import Organization

    return dict(Organization.objects.values_list("pk", "slug"))


def chain_entry(organization_id: int | None, slugs: dict) -> dict | None:
    head = chain_head(organization_id)
    if head.sequence == 0:
        return None
    return {
        "organization": organization_id,
        "slug": slugs.get(organization_id, "") if organization_id is not None else "",
        "sequence": head.sequence,
        "mac": head.mac,
        # Chains are gapless from 1, so the count is the head's sequence; stated so a reader need not know.
        "count": head.sequence,
    }


def database_value_at(organization_id: int | None, sequence: int) -> str | None:
    """The MAC (or legacy hash) the database holds at one place of a chain, or None."""
    mac = (
        AuditSeal.objects.filter(organization_id=organization_id, sequence=sequence)
        .values_list("mac", flat=True)
        .first()
    )
    if mac is not None:
        return mac
    cutover = ChainCutover.objects.filter(organization_id=organization_id).values_list("sequence", flat=True).first()
    if cutover is not None and sequence <= cutover:
        return (
            AuditEvent.objects.filter(organization_id=organization_id, sequence=sequence)
            .values_list("legacy_hash", flat=True)
            .first()
        )
    return None


def discontinuities(checkpoint: Checkpoint, chain_ids) -> list[str]:
    """For each chain named, whether the database still holds the head the checkpoint recorded."""
    recorded = checkpoint.chains()
    problems = []
    for chain in chain_ids:
        entry = recorded.get(chain)
        if entry is None:
            continue
        if database_value_at(chain, entry["sequence"]) != entry["mac"]:
            problems.append(
                f"chain {chain if chain is not None else 'platform'} no longer holds sequence "
                f"{entry['sequence']} as checkpoint {checkpoint.name} recorded it"
            )
    return problems


# --- writing -----------------------------------------------------------------------------------------
def _sign_and_put(kind: str, chains: list[dict], previous: Checkpoint | None, restores: list, now) -> Checkpoint:
    key = keys.signing_key()
    payload = {
        "format": FORMAT,
        "kind": kind,
        "written_at": now.isoformat(timespec="microseconds"),
        "key_id": key.key_id,
        "previous": {"name": previous.name, "mac": previous.payload["mac"]} if previous else None,
        "chains": sorted(chains, key=lambda entry: (entry["organization"] is not None, entry["organization"] or 0)),
        "restores": restores,
    }
    payload["mac"] = key.mac(_signed_part(payload))
    name = _object_name(kind, now)
    _put(name, json.dumps(payload, indent=1, sort_keys=True).encode(), now)
    return Checkpoint(name, payload)


def _all_chain_ids() -> list:
    from accounts.models import Organization

    return [None, *Organization.objects.order_by("pk").values_list("pk", flat=True)]


def write_checkpoint(*, kind: str = "heartbeat", chains=None) -> Checkpoint:
    """Write a checkpoint of every chain (``chains=None``) or re-read only ``chains`` and carry the others
    forward from the newest checkpoint. Raises CheckpointRefused when the database no longer holds what
    the newest checkpoint recorded for a chain re-read, CheckpointUnavailable when storage fails."""
    if kind not in ("seal", "heartbeat"):
        raise ValueError(f"unknown checkpoint kind {kind!r}")
    keys.signing_key()  # a missing key is said before any work
    latest = read_latest()
    previous = latest.checkpoint
    if latest.unknown_key and previous is None:
        raise keys.KeyProblem(
            f"the newest checkpoints are signed with key id {latest.unknown_key[0][1]}, which AUDIT_HMAC_KEY "
            "does not hold: refusing to start a new series of checkpoints under another key"
        )
    reread = _all_chain_ids() if chains is None or previous is None else list(chains)
    if previous is not None:
        problems = discontinuities(previous, reread)
        if problems:
            raise CheckpointRefused(problems)
    slugs = _slugs()
    entries = {chain: entry for chain in reread if (entry := chain_entry(chain, slugs)) is not None}
    if previous is not None:
        for chain, entry in previous.chains().items():
            entries.setdefault(chain, entry)
    restores = list(previous.payload.get("restores", [])) if previous else []
    return _sign_and_put(kind, list(entries.values()), previous, restores, timezone.now())


def write_restore_checkpoint(*, backup_taken_at: datetime | None = None, note: str = "") -> Checkpoint:
    """Record a database restore: the heads as restored, and for every chain the newest checkpoint holds
    further than the database now does, the window the restore lost. Call it once the restored database
    is in place and before workers start sealing again; ``verify_audit_chain`` then reports the lost
    window as a restore, not as tampering. The restore is also recorded as a platform audit event."""
    from . import record

    keys.signing_key()
    previous = read_latest().checkpoint
    now = timezone.now()
    slugs = _slugs()
    entries = {chain: entry for chain in _all_chain_ids() if (entry := chain_entry(chain, slugs)) is not None}
    lost = []
    for chain, before in (previous.chains() if previous else {}).items():
        if database_value_at(chain, before["sequence"]) == before["mac"]:
            continue
        after = entries.get(chain)
        lost.append(
            {
                "organization": chain,
                "slug": before.get("slug", ""),
                "checkpointed_sequence": before["sequence"],
                "restored_sequence": after["sequence"] if after else 0,
                "checkpoint": previous.name,
                "checkpoint_written_at": previous.written_at,
            }
        )
    restore = {
        "restored_at": now.isoformat(timespec="microseconds"),
        "backup_taken_at": backup_taken_at.isoformat(timespec="microseconds") if backup_taken_at else None,
        "note": note[:500],
        "lost": lost,
    }
    restores = [*(previous.payload.get("restores", []) if previous else []), restore]
    checkpoint = _sign_and_put("restore", list(entries.values()), previous, restores, now)
    record(
        action="audit.database_restored",
        actor="system:restore",
        details={
            "checkpoint": checkpoint.name,
            "backup_taken_at": restore["backup_taken_at"],
            "chains_with_lost_events": len(lost),
        },
    )
    return checkpoint
