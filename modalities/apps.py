from django.apps import AppConfig


class ModalitiesConfig(AppConfig):
    name = "modalities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Importing an analyzer module registers it.
        from django.conf import settings

        from . import (
            cardiology,  # noqa: F401
            cognitive,  # noqa: F401
            dermatology,  # noqa: F401
            radiology,  # noqa: F401
            retinal,  # noqa: F401
            speech,  # noqa: F401
        )
        from .cvd_risk import analyzer  # noqa: F401 (the package's equations stay free of Django)

        if getattr(settings, "MEDILENS_TEST_ANALYZERS", False):
            from medilens.testing import analyzers  # noqa: F401
