"""The master keys, from the ``FIELD_ENCRYPTION_KEYS`` setting (environment variable of the same name).

A list: the first key wraps new and re-wrapped data keys, every key in the list unwraps. Each key is 32
random bytes in base64 (standard or URL-safe alphabet). A key is known by its id, an HMAC of the key
itself, which is stored beside each wrapped data key: it tells which master key to unwrap with, and an
operator which keys are still needed, without revealing anything about the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "FIELD_ENCRYPTION_KEYS"
KEY_BYTES = 32
GENERATE_HINT = (
    'generate one with: python -c "import base64, secrets; '
    'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
)


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: bytes = b""

    def __repr__(self) -> str:  # never the key itself, in a traceback or a log line
        return f"MasterKey(id={self.id!r})"


def key_id(key: bytes) -> str:
    return hmac.new(key, b"medilens field-encryption master key id", hashlib.sha256).hexdigest()[:16]


def _decode(text: str, position: int) -> bytes:
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(
            f"{SETTING}: entry {position} is not a base64-encoded {KEY_BYTES}-byte key; {GENERATE_HINT}"
        )
    return raw


@lru_cache(maxsize=8)
def _parse(entries: tuple[str, ...]) -> tuple[MasterKey, ...]:
    if not entries:
        raise ImproperlyConfigured(
            f"{SETTING} is empty: field encryption needs at least one master key (there is no plaintext "
            f"fallback); {GENERATE_HINT}"
        )
    keys = tuple(MasterKey(key_id(raw), raw) for raw in (_decode(e, i + 1) for i, e in enumerate(entries)))
    if len({k.id for k in keys}) != len(keys):
        raise ImproperlyConfigured(f"{SETTING} lists the same key twice.")
    return keys


def master_keys() -> tuple[MasterKey, ...]:
    """Every configured key, the primary (wrapping) key first. Raises ImproperlyConfigured naming the
    setting when it is missing, empty or malformed."""
    value = getattr(settings, SETTING, None)
    if value is None:
        raise ImproperlyConfigured(f"{SETTING} is not set; {GENERATE_HINT}")
    if isinstance(value, str):
        value = value.split(",")
    return _parse(tuple(str(entry) for entry in value if str(entry).strip()))


def primary() -> MasterKey:
    return master_keys()[0]


def by_id(identifier: str) -> MasterKey | None:
    return next((k for k in master_keys() if k.id == identifier), None)
