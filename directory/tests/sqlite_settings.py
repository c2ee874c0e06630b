"""Embedded-default settings for the directory search tests' SQLite run (test_search_sqlite.py starts it in
a subprocess): no DATABASE_URL (SQLite), the file cache in the run's own var/ directory, as ``make demo``
runs. The test database is a file in that var/."""

import os

# The parent's environment is a PostgreSQL one: none of it may leak into the embedded settings.
for _name in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "AUDIT_HMAC_KEY", "SECRET_KEY",
              "CELERY_BROKER_URL", "AUDIT_CHECKPOINT_BUCKET"):
    os.environ.pop(_name, None)

from medilens.settings import *  # noqa: E402,F403

assert EMBEDDED and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-directory.sqlite3")}  # noqa: F405
ALLOWED_HOSTS = ["*"]
