"""Start-up verification: the configured master keys open the stored data keys.

A missing or malformed ``FIELD_ENCRYPTION_KEYS`` already stopped the process in ``CryptoConfig.ready``.
A well-formed but wrong key (another deployment's, a typo'd rotation) is found here, against the
database: ``manage.py migrate`` and ``manage.py check --database default`` run it as a system check, and
the web and worker processes call ``verify_at_startup`` before serving. With no database reachable yet
the check is left to the first use of a key, which fails with the same message.
"""

from __future__ import annotations

import logging

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, connections

from medilens.rls import maintenance

from . import keyring, masterkeys

logger = logging.getLogger(__name__)


def problems(limit: int = 5) -> list[str]:
    """Why stored keys do not open with the configured master keys, each message naming the setting: one
    per master key missing from it, one per key that does not open (altered or moved). Every wrapped key
    is tried (a few microseconds each)."""
    from .models import OrganizationKey

    missing: dict[str, set[int]] = {}
    counts: dict[str, int] = {}
    found = []
    # Every organization's keys: through the maintenance role (BYPASSRLS) when configured; the application
    # role would see none of them under Row-Level Security and pass the check without trying a key.
    every_key = OrganizationKey.all_organizations.using(maintenance.alias())
    for row in every_key.order_by("pk").iterator(chunk_size=1000):
        if masterkeys.by_id(row.master_key_id) is None:
            missing.setdefault(row.master_key_id, set()).add(row.organization_id)
            counts[row.master_key_id] = counts.get(row.master_key_id, 0) + 1
            continue
        try:
            keyring.unwrap(row)
        except keyring.MasterKeyMismatch as error:
            found.append(str(error))
    configured = ", ".join(k.id for k in masterkeys.master_keys())
    for key_id, organizations in sorted(missing.items()):
        listed = ", ".join(str(o) for o in sorted(organizations)[:10]) + (", ..." if len(organizations) > 10 else "")
        found.insert(0, (
            f"{masterkeys.SETTING} holds no master key with id {key_id}, which wrapped {counts[key_id]} stored "
            f"key(s) of organization(s) {listed} (configured key ids: {configured}). Put that key back in "
            f"{masterkeys.SETTING}."
        ))
    return found[:limit]


def _database_check(app_configs=None, databases=None, **kwargs):
    if not databases:
        return []
    try:
        found = problems()
    except DatabaseError:
        return []  # not migrated yet: nothing is wrapped
    return [checks.Error(message, id="crypto.E001") for message in found]


def register() -> None:
    checks.register(_database_check, checks.Tags.database)


def verify_at_startup() -> None:
    """Raise ImproperlyConfigured (naming FIELD_ENCRYPTION_KEYS) when a stored data key does not open."""
    masterkeys.master_keys()
    try:
        found = problems()
    except DatabaseError as error:
        logger.warning("field encryption keys not verified at start-up (database: %s)", type(error).__name__)
        return
    finally:
        # A worker's parent process forks after this: its children must not share this connection.
        if not connection.in_atomic_block:
            connections.close_all()
    if found:
        raise ImproperlyConfigured(" ".join(found))
