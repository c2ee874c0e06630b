from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # schema: registers the OpenAPI description of API-key authentication (else check --deploy warns
        # W001). receivers: sign-in limits, session lifetime and factor audit events listen to Django's and
        # allauth's signals.
        from . import receivers, schema  # noqa: F401
        from .mfa import receivers as mfa_receivers  # noqa: F401
