"""Settings for the test suite: the production code path against the real local services.

PostgreSQL and Redis on 127.0.0.1 (pytest-django creates a throwaway ``test_<name>`` database), an
S3-compatible server started by the session fixture (see conftest.py). Each test session gets its own
cache and broker key prefix on the shared Redis.
"""

import hashlib
import os
import uuid

_session = os.environ.setdefault("MEDILENS_TEST_SESSION", uuid.uuid4().hex[:10])
# Under pytest-xdist (`make test` runs two processes) each process is a session of its own: its own Redis
# prefixes (so one process's Celery worker never takes the other's tasks), its own test database (pytest-django
# adds the _gw0/_gw1 suffix) and its own S3 server. The controller set the variables above before the processes
# started, so they are replaced here, not defaulted.
if (_xdist := os.environ.get("PYTEST_XDIST_WORKER")) and not _session.endswith(f"-{_xdist}"):
    _session = os.environ["MEDILENS_TEST_SESSION"] = f"{_session}-{_xdist}"
    os.environ["CACHE_KEY_PREFIX"] = f"medilens-test-{_session}"
    os.environ["CELERY_KEY_PREFIX"] = f"medilens-test-{_session}:"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/medilens")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "test-only-" + "x" * 50)
# A fixed test-only master key (base64 of 32 bytes); worker subprocesses inherit it from this environment.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5MzI=")
os.environ.setdefault("CACHE_KEY_PREFIX", f"medilens-test-{_session}")
os.environ.setdefault("CELERY_KEY_PREFIX", f"medilens-test-{_session}:")
# The audit trail's sealing key (production reads it from a secret store; the demo generates one).
# Webhook receivers in tests listen on loopback over http (worker subprocesses inherit these).
os.environ.setdefault("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
os.environ.setdefault("WEBHOOK_REQUIRE_HTTPS", "false")
os.environ.setdefault("AUDIT_HMAC_KEY", "test-only-audit-key-" + "k" * 40)

from .settings import *  # noqa: E402,F403

# Tests talk plain HTTP to the test client and the live server.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["*"]
# Analyzers that only exist for the test suite (a slow one, a crashing one): see medilens/testing.
MEDILENS_TEST_ANALYZERS = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Many tests send invalid API keys from 127.0.0.1 within a minute; the throttle's own test lowers this.
API_INVALID_KEY_RATE = "100000/min"
# A fast hasher: the suite creates many users; production hashes with Argon2id (accounts/hashers.py).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# One test database per checkout (its path's hash), so two checkouts' suites on one machine (a developer's
# and CI's clone, say) never drop each other's database; a rerun in the same checkout reuses the name.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": f"test_medilens_{hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]}"  # noqa: F405
}
