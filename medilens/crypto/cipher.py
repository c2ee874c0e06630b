"""Seal and open one value: AES-256-GCM under the organization's data key, a random 96-bit nonce per
value, and associated data naming where the value lives (table, column, primary key, organization) and
which data key version sealed it. A ciphertext copied anywhere else fails its authentication tag.

Stored form (text, so it survives any dump or export unchanged): ``e1:<key version>:<base64url(nonce ||
ciphertext || tag)>``.
"""

from __future__ import annotations

import base64
import os
from typing import NamedTuple

from cryptography.exceptions import InvalidTag

from . import keyring

PREFIX = "e1"
NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """The value does not open in this place: altered, moved from another row, column or organization, or
    its organization's keys were destroyed. The message names the place, never the value."""


class Place(NamedTuple):
    # A named tuple, not a dataclass: one is built for every value opened (300 per search result).
    table: str
    column: str
    pk: str
    organization_id: int

    def associated_data(self, key_version: int) -> bytes:
        where = f"{self.table}\x1f{self.column}\x1f{self.pk}\x1f{self.organization_id}"
        return f"medilens-field-v1\x1f{where}\x1f{key_version}".encode()

    def __str__(self) -> str:
        return f"{self.table}.{self.column} of row {self.pk} (organization {self.organization_id})"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(plaintext: bytes, place: Place) -> str:
    version, aead = keyring.store().current_data_key(place.organization_id)
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, plaintext, place.associated_data(version))
    return f"{PREFIX}:{version}:{_b64(nonce + sealed)}"


def key_version(token: str) -> int | None:
    """The data key version a stored value names (None when it is no ciphertext of ours)."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1])


def open_sealed(token: str, place: Place) -> bytes:
    prefix, _, rest = token.partition(":")
    version_text, _, body = rest.partition(":")
    if prefix != PREFIX or not version_text.isdigit() or not body:
        raise DecryptionFailed(f"{place}: not a sealed value")
    version = int(version_text)
    try:
        blob = _unb64(body)
        aead = keyring.store().data_key(place.organization_id, version)
        return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], place.associated_data(version))
    except keyring.KeyNotFound:
        raise DecryptionFailed(f"{place}: its data key v{version} does not exist (destroyed?)") from None
    except (InvalidTag, ValueError):
        raise DecryptionFailed(f"{place}: does not open here (altered, or moved from another place)") from None
