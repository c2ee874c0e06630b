"""Search results in the cache (Redis in production), keyed by the dataset searched: the current import's
id is part of the key, so a new import (or a rollback) is never answered from the old data's results;
those expire on their own."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache

TIMEOUT_SECONDS = 24 * 3600
_VERSION = 1  # change when what is stored under a key changes shape


def key(kind: str, dataset_id: int, query) -> str:
    digest = hashlib.sha256(repr(query).encode()).hexdigest()[:32]
    return f"directory:search:v{_VERSION}:{kind}:{dataset_id}:{digest}"


def remembered(kind: str, dataset_id: int, query, compute: Callable[[], object], timeout: int = TIMEOUT_SECONDS):
    """``compute()``'s value for this query of this dataset, from the cache when it holds it."""
    name = key(kind, dataset_id, query)
    value = cache.get(name)
    if value is None:
        value = compute()
        cache.set(name, value, timeout)
    return value
