"""The Celery application. Settings come from Django's (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")

app = Celery("medilens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _configure_torch_in_worker_process(**kwargs):
    """Set torch's thread count as each worker process starts (prefork children). torch itself is imported
    lazily, by the first inference task: see modalities.runtime.configure_torch."""
    from modalities.runtime import configure_torch

    configure_torch()


@worker_init.connect
def _configure_torch_in_worker(**kwargs):
    """The same for the solo and threads pools, whose tasks run in the main worker process (no
    worker_process_init there). Never imports torch before a fork."""
    from modalities.runtime import configure_torch

    configure_torch()


@worker_init.connect
def _verify_field_encryption_keys(**kwargs):
    """A worker with a wrong FIELD_ENCRYPTION_KEYS stops before taking a task (the message names the
    setting), instead of failing every assessment that reads a patient."""
    from django.core.exceptions import ImproperlyConfigured

    from medilens.crypto.checks import verify_at_startup

    try:
        verify_at_startup()
    except ImproperlyConfigured as error:
        # Celery logs and ignores an exception raised by a signal handler: exit explicitly.
        raise SystemExit(f"ImproperlyConfigured: {error}") from None
