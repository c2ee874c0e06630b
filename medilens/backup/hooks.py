"""Where backup, restore and the purge ledger meet the work of other issues.

The encryption of PHI (its master keys) and the sealed audit trail (its HMAC key and its checkpoints in
storage) are built elsewhere; this module is the one place this package touches them, so the wiring is
a few lines here when they land:

* ``SECRET_SETTINGS``: settings whose values must never be written into an archive. A backup refuses to
  finish an archive in which one of these values appears (``archive.SecretGuard``).
* ``kept_prefixes()``: object prefixes that are not the application's data but records about it (the purge
  ledger, the audit checkpoints). A restore target may already hold them; a restore never overwrites
  them.
* ``after_restore(manifest)``: called once a restore has put back the database and the objects and
  migrated, before the purge ledger is re-applied. The audit trail writes its signed "restored to sequence
  N at time T" checkpoint here (``audit.checkpoints.write_restore_checkpoint``).
* ``ledger_signing_keys()``: the secrets the purge ledger is signed with (the first signs, all verify).
* ``after_database_rollback()``: whatever outside the database was keyed by ids the database hands out
  again once it is rolled back (the reference directory's cached searches, keyed by import id). Called by
  ``after_restore`` and by ``manage.py reapply_purges``, the step a point-in-time recovery runs (README).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings

logger = logging.getLogger(__name__)

SECRET_SETTINGS = (
    "FIELD_ENCRYPTION_KEYS",
    "AUDIT_HMAC_KEY",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "BACKUP_ENCRYPTION_KEY",
)
# Values shorter than this are not looked for: a short value would match by chance.
_MIN_SECRET_LENGTH = 16

def kept_prefixes() -> tuple[str, ...]:
    """The purge ledger's prefix and the audit checkpoints' (read when called: a deployment, or a test,
    may point the checkpoints elsewhere)."""
    return ("ledger/", f"{settings.AUDIT_CHECKPOINT_PREFIX.strip('/')}/")


def secret_values() -> list[bytes]:
    """The values of SECRET_SETTINGS as bytes (lists flattened), long enough to be looked for."""
    found: list[bytes] = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, None)
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, bytes | str) and len(item) >= _MIN_SECRET_LENGTH:
                found.append(item.encode() if isinstance(item, str) else item)
    return found


def ledger_signing_keys() -> list[str]:
    """The audit trail's HMAC key when it is configured (the ledger sits beside its checkpoints), then
    SECRET_KEY and its fallbacks, so entries signed before a key change still verify."""
    audit_keys = getattr(settings, "AUDIT_HMAC_KEY", None) or []
    if isinstance(audit_keys, str):
        audit_keys = [audit_keys]
    keys = [*audit_keys, settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [key for key in keys if key]


def after_restore(manifest: dict) -> None:
    """Record that the database was restored: the audit trail writes its signed "restored to sequence N at
    time T" checkpoint, so ``verify_audit_chain`` reports the window the restore lost as a restore, not as
    tampering (the checkpoints live outside the database and outlive it)."""
    from audit.checkpoints import write_restore_checkpoint
    from medilens.crypto.checks import verify_at_startup

    # The archive never holds the field-encryption master keys: this environment's must open its data keys,
    # or the restored patients cannot be read. Said now, naming FIELD_ENCRYPTION_KEYS, not at first use.
    verify_at_startup()

    after_database_rollback()
    taken_at = datetime.fromisoformat(manifest["created_at"]) if manifest.get("created_at") else None
    checkpoint = write_restore_checkpoint(backup_taken_at=taken_at, note="manage.py restore")
    heads = manifest.get("audit_heads", {})
    logger.info(
        "restored archive of %s: %d audit chain(s) restored to their heads; restore checkpoint %s",
        manifest.get("created_at"),
        len(heads),
        getattr(checkpoint, "name", ""),
    )


def after_database_rollback() -> None:
    """The database went back in time: the directory's import ids after the restored one will be handed out
    again, to other data, so its cached searches (keyed by import id) are dropped."""
    from directory.search import cache as directory_cache

    dropped = directory_cache.forget_all()
    logger.info("dropped the reference directory's cached searches (%s)", "all" if dropped is None else dropped)
