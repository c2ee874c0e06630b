"""The sealing key: HMAC-SHA256 with a secret the database never holds (``AUDIT_HMAC_KEY``).

``AUDIT_HMAC_KEY`` is a comma-separated list: the first key seals and signs from now on, the others are
older keys kept so that what they sealed still verifies (rotation: put the new key first, keep the old
one after it). Each seal and checkpoint names the key it was made with by a key id derived from the key
(an HMAC of a fixed label), so a wrong key is told apart from tampering: its id is not the one recorded.
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

MIN_KEY_LENGTH = 32
_KEY_ID_LABEL = b"medilens audit key id v1"


class KeyProblem(Exception):
    """The key is missing, too short, or not the one the chain was sealed with."""


@dataclass(frozen=True)
class Key:
    key_id: str
    secret: bytes

    def mac(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def __repr__(self):  # never print the secret
        return f"Key(key_id={self.key_id!r})"


def key_id_of(secret: bytes) -> str:
    return hmac.new(secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def configured() -> list[Key]:
    """Every configured key, the signing key first. Raises KeyProblem when none is usable."""
    raw = getattr(settings, "AUDIT_HMAC_KEY", None) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    values = [value.strip() for value in raw if value and value.strip()]
    if not values:
        raise KeyProblem("AUDIT_HMAC_KEY is not set: sealed events and checkpoints cannot be made or checked")
    short = [n for n, value in enumerate(values, start=1) if len(value) < MIN_KEY_LENGTH]
    if short:
        raise KeyProblem(
            f"AUDIT_HMAC_KEY entry {short[0]} is shorter than {MIN_KEY_LENGTH} characters: use a random key, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    keys = []
    for value in values:
        secret = value.encode()
        keys.append(Key(key_id=key_id_of(secret), secret=secret))
    return keys


def signing_key() -> Key:
    return configured()[0]


def by_id() -> dict[str, Key]:
    return {key.key_id: key for key in configured()}


def constant_time_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())
