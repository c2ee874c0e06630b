from django.apps import AppConfig


class ModalitiesConfig(AppConfig):
    name = "modalities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Importing an analyzer module registers it.
        from django.conf import settings

        from .body_scan import analyzer as _body_scan  # noqa: F401
        from .cardiology import analyzer as _cardiology  # noqa: F401
        from .cognitive import analyzer as _cognitive  # noqa: F401
        from .cvd_risk import analyzer as _cvd_risk  # noqa: F401
        from .dermatology import analyzer as _dermatology  # noqa: F401
        from .radiology import analyzer as _radiology  # noqa: F401
        from .retinal import analyzer as _retinal  # noqa: F401
        from .speech import analyzer as _speech  # noqa: F401

        if getattr(settings, "MEDILENS_TEST_ANALYZERS", False):
            from medilens.testing import analyzers  # noqa: F401
