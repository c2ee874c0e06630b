"""The backup key: an age X25519 identity in ``BACKUP_ENCRYPTION_KEY``.

Archives are encrypted to the identity's public key (its recipient) and opened with the identity. Any
age implementation opens them too (``age -d -i key.txt archive.tar.age | tar -x``), so a restore never
depends on this code being runnable. Make a key with::

    python -c "from pyrage import x25519; print(x25519.Identity.generate())"
"""

from __future__ import annotations

from django.conf import settings
from pyrage import IdentityError, x25519


class BackupKeyError(Exception):
    pass


def identity() -> x25519.Identity:
    value = (getattr(settings, "BACKUP_ENCRYPTION_KEY", "") or "").strip()
    if not value:
        raise BackupKeyError(
            "BACKUP_ENCRYPTION_KEY is not set: set it to an age identity (AGE-SECRET-KEY-1...); README says how "
            "to make one"
        )
    try:
        return x25519.Identity.from_str(value)
    except (IdentityError, ValueError):
        raise BackupKeyError("BACKUP_ENCRYPTION_KEY is not an age X25519 identity (AGE-SECRET-KEY-1...)") from None


def recipient() -> x25519.Recipient:
    return identity().to_public()
