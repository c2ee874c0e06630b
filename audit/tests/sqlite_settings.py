"""Embedded-default settings for the audit tests' SQLite run (test_sqlite.py starts it in a subprocess).

What ``make demo`` runs: no DATABASE_URL (SQLite in var/, BEGIN IMMEDIATE), files on the local disk, the
file cache, and the sealing key generated into var/ on first use, as the demo does. The only test-only
changes: the test database is a file in that var/ (so threads and triggers behave as on disk), email stays
in memory and passwords hash fast.
"""

import os

# The parent's environment is a PostgreSQL one: none of it may leak into the embedded settings.
for _name in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "AUDIT_HMAC_KEY", "SECRET_KEY",
              "CELERY_BROKER_URL", "AUDIT_CHECKPOINT_BUCKET"):
    os.environ.pop(_name, None)

from medilens.settings import *  # noqa: E402,F403

assert EMBEDDED and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-audit.sqlite3")}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
