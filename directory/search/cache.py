"""Search results in the cache (Redis in production), keyed by the dataset searched: the current import's
id is part of the key, so a new import (or a rollback) is never answered from the old data's results;
those expire on their own.

A database restore breaks that promise: the import ids after the restored one are handed out again, to
other data, while the cache still holds answers under them. ``forget_all`` drops every cached answer; the
restore (``medilens.backup.hooks.after_database_rollback``) calls it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

TIMEOUT_SECONDS = 24 * 3600
_VERSION = 1  # change when what is stored under a key changes shape


PREFIX = "directory:search:"


def key(kind: str, dataset_id: int, query) -> str:
    digest = hashlib.sha256(repr(query).encode()).hexdigest()[:32]
    return f"{PREFIX}v{_VERSION}:{kind}:{dataset_id}:{digest}"


def remembered(kind: str, dataset_id: int, query, compute: Callable[[], object], timeout: int = TIMEOUT_SECONDS):
    """``compute()``'s value for this query of this dataset, from the cache when it holds it."""
    name = key(kind, dataset_id, query)
    value = cache.get(name)
    if value is None:
        value = compute()
        cache.set(name, value, timeout)
    return value


def forget_all() -> int | None:
    """Drop every cached directory answer; how many were dropped (None where the backend cannot count: a
    file or memory cache, which is this installation's own and is cleared whole)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return None
    # Only the directory's keys: the Redis database may hold the Celery broker and other caches.
    client = backend._cache.get_client(None, write=True)
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", backend.make_key(PREFIX)) + "*"
    dropped, batch = 0, []
    for name in client.scan_iter(match=pattern, count=1000):
        batch.append(name)
        if len(batch) == 500:
            dropped += client.delete(*batch)
            batch = []
    if batch:
        dropped += client.delete(*batch)
    return dropped
