"""Email, security headers (HSTS, CSP, Permissions-Policy) and the REST API."""

from .base import *  # noqa: F403 (these settings build on the base's)

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

# --- REST API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api_auth.OrganizationPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["assessments.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "medilens.api_schema.AutoSchema",  # descriptions: medilens/api_descriptions.py
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

# --- Static files in the embedded default ------------------------------------------------------------
# The demo runs with DEBUG off (a mistyped URL gets the portal's own 404, not Django's URL list), so
# runserver serves no static files: WhiteNoise serves them straight from the finders, with no
# collectstatic step for a newcomer. Production serves the collected, hashed files (STATIC_ROOT).
WHITENOISE_USE_FINDERS = EMBEDDED  # noqa: F405
if EMBEDDED:  # noqa: F405
    import warnings

    # WhiteNoise warns at start-up that STATIC_ROOT does not exist: expected here (nothing is collected),
    # and alarming to a newcomer reading the demo's first lines.
    warnings.filterwarnings("ignore", message=r"No directory at: .*staticfiles", category=UserWarning)
