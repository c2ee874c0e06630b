"""Sign-in, sessions, sign-in limits, second factors (django-allauth MFA), uploads and invitations."""

from datetime import timedelta

from .base import *  # noqa: F403 (these settings build on the base's)

# --- Authentication and sessions --------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
]
# Argon2id at OWASP's minimum costs (accounts/hashers.py); the others verify hashes stored before it, which
# are re-hashed with it at the next sign-in.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
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

# Idle timeout: requests push the expiry forward (accounts.sessions renews the session at most once a minute),
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
# No axes AccessLog: it wrote a row per sign-in (an INSERT) and per sign-out (an UPDATE) holding the email,
# address and browser, a second, unsealed record of what the audit log already holds (auth.login, auth.logout)
# and outside the retention policy. Failures (AccessAttempt), which the lockout counts, are still kept.
AXES_DISABLE_ACCESS_LOG = True
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
