from django.apps import AppConfig


class CryptoConfig(AppConfig):
    name = "medilens.crypto"
    label = "crypto"
    verbose_name = "Field encryption"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, masterkeys

        # A missing or malformed FIELD_ENCRYPTION_KEYS stops every process here (web, worker, commands),
        # before any request could write a value: there is no plaintext fallback.
        masterkeys.master_keys()
        checks.register()
