"""After a database restore the directory's import ids are handed out again, to other data: its cached searches,
keyed by import id, are dropped then (directory/search/cache.forget_all, through
medilens.backup.hooks.after_database_rollback), and nothing else in the cache is."""

import io
import secrets

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

from directory.search import cache as directory_cache
from medilens.backup import hooks

pytestmark = pytest.mark.django_db


def _answer(dataset_id: int, query: str, calls: list) -> object:
    def compute():
        calls.append(query)
        return [len(calls)]

    return directory_cache.remembered("facilities", dataset_id, query, compute)


def test_a_rollback_drops_the_cached_searches_and_nothing_else():
    dataset_id, calls = 10_000_000 + secrets.randbelow(10_000_000), []
    first = _answer(dataset_id, "clinique", calls)
    assert _answer(dataset_id, "clinique", calls) == first and calls == ["clinique"]  # answered from the cache
    unrelated = f"throttle-{secrets.token_hex(4)}"
    cache.set(unrelated, "kept", 300)
    # Another installation's directory answers on the same Redis (another KEY_PREFIX): not this one's to drop.
    client = redis.Redis.from_url(settings.REDIS_URL)
    foreign = f"other-{secrets.token_hex(4)}:1:{directory_cache.PREFIX}v1:facilities:{dataset_id}:x"
    client.set(foreign, b"kept", ex=300)
    try:
        hooks.after_database_rollback()
        assert _answer(dataset_id, "clinique", calls) != first and calls == ["clinique", "clinique"]
        assert cache.get(unrelated) == "kept"
        assert client.get(foreign) == b"kept"
    finally:
        client.delete(foreign)
        cache.delete(unrelated)
        client.close()


def test_reapply_purges_the_step_after_a_point_in_time_recovery_drops_them_too():
    dataset_id, calls = 20_000_000 + secrets.randbelow(10_000_000), []
    _answer(dataset_id, "pharmacie", calls)
    call_command("reapply_purges", stdout=io.StringIO())
    _answer(dataset_id, "pharmacie", calls)
    assert calls == ["pharmacie", "pharmacie"]


@pytest.mark.parametrize("prefix", ["we*ird[1]?", "back\\slash"])
def test_a_key_prefix_with_pattern_characters_matches_only_itself(prefix):
    redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL}
    client = redis.Redis.from_url(settings.REDIS_URL)
    lookalike = f"weXXird1X:1:{directory_cache.PREFIX}v1:facilities:1:x"  # what an unescaped pattern would match
    client.set(lookalike, b"kept", ex=300)
    try:
        with override_settings(CACHES={"default": {**redis_cache, "KEY_PREFIX": prefix}}):
            cache.set(directory_cache.key("facilities", 1, "q"), [1], 300)
            assert directory_cache.forget_all() == 1
            assert cache.get(directory_cache.key("facilities", 1, "q")) is None
        assert client.get(lookalike) == b"kept"
    finally:
        client.delete(lookalike)
        client.close()


def test_a_file_or_memory_cache_is_this_installations_own_and_is_cleared_whole():
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "restore-test"}}
    with override_settings(CACHES=local):
        cache.set(directory_cache.key("medicines", 3, "tahor"), [1], 300)
        cache.set("other", 1, 300)
        assert directory_cache.forget_all() is None
        assert cache.get(directory_cache.key("medicines", 3, "tahor")) is None and cache.get("other") is None
