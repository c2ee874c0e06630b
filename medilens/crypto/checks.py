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

from . import keyring, masterkeys

logger = logging.getLogger(__name__)


def problems(limit: int = 5) -> list[str]:
    """Why stored keys do not open with the configured master keys (each message names the setting): every
    wrapped key is tried, a few microseconds each, and the first ``limit`` problems are reported."""
    from .models import OrganizationKey

    found = []
    for row in OrganizationKey.all_organizations.order_by("pk").iterator(chunk_size=1000):
        try:
            keyring.unwrap(row)
        except keyring.MasterKeyMismatch as error:
            found.append(str(error))
            if len(found) >= limit:
                break
    return found


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
