"""Blind index tokens: equality search on encrypted values without decrypting them.

A token is HMAC-SHA256, under the organization's own index key, of a kind and a normalised value,
truncated to 128 bits (ample for equality; the database sees only tokens). The same value in two
organizations gives unrelated tokens, and the kind keeps an MRN prefix from matching a name prefix.

Normalising folds case and accents (anyascii transliterates "Łukasz" and "Lukasz", "Müller" and
"Muller" alike), so a query matches however it was typed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from anyascii import anyascii
from django.db import models

from . import keyring

TOKEN_BYTES = 16
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Case- and accent-folded ASCII."""
    return anyascii(unicodedata.normalize("NFKC", text or "")).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def compact(text: str) -> str:
    """The folded text with everything but letters and digits removed ("O'Brien" -> "obrien")."""
    return "".join(words(text))


def exact(text: str) -> str:
    """For unique identifiers: only surrounding space and Unicode composition are ignored."""
    return unicodedata.normalize("NFC", (text or "").strip())


def prefixes(value: str, *, minimum: int, maximum: int) -> set[str]:
    """Every prefix from ``minimum`` to ``maximum`` characters long, and the value itself (cut to
    ``maximum``) however short."""
    found = {value[:length] for length in range(minimum, min(len(value), maximum) + 1)}
    if value:
        found.add(value[:maximum])
    return found


def token(organization_id: int, kind: str, value: str) -> bytes:
    key = keyring.store().index_key(organization_id)
    message = kind.encode("ascii") + b"\x00" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()[:TOKEN_BYTES]


class BlindIndexField(models.BinaryField):
    """The token of another (encrypted) field's exact value, recomputed on every save that writes it: a
    column a unique constraint can hold. Save it with its source (``update_fields`` must name both)."""

    def __init__(self, *args, source: str = "", kind: str = "", **kwargs):
        self.source, self.kind = source, kind
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, kind=self.kind)
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.source)
        if value is None:
            return None
        token_value = token(model_instance.organization_id, self.kind, exact(str(value)))
        setattr(model_instance, self.attname, token_value)
        return token_value
