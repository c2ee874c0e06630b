"""The Celery application. Settings come from Django's (CELERY_* names)."""

import logging
import os
import warnings

from celery import Celery
from celery.exceptions import SecurityWarning
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")

app = Celery("medilens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def quiet_root_warning_in_demo() -> bool:
    """The demo and CI run as root (a container's or a CI machine's only user), and Celery then prints a
    red "running the worker with superuser privileges" warning. Its danger is pickle: a message that can
    run code when unpickled, as root. MediLens accepts JSON only (CELERY_ACCEPT_CONTENT), so Celery itself
    would refuse to start as root if pickle were enabled; in the demo (MEDILENS_DEMO set by `make demo`) the
    warning is silenced (README's demo section says why). Outside the demo it stays: run workers as a plain user."""
    if os.environ.get("MEDILENS_DEMO") != "1" or os.geteuid() != 0:
        return False
    warnings.filterwarnings("ignore", category=SecurityWarning)
    return True


quiet_root_warning_in_demo()


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


@worker_init.connect
def _warm_up(sender=None, **kwargs):
    """Compile the modalities' JIT code before this worker takes a task (see warm_up)."""
    warm_up(sender.app)


def warm_up(application) -> float | None:
    """Compile skan's numba code (the retinal tortuosity's skeleton walk: seconds, once per process) when
    this worker consumes the retinal analysis' queue, so that no analysis waits for it. It runs in
    worker_init: in the process that runs the tasks (solo and threads pools), or in a prefork parent
    before it forks its children, which inherit the compiled code (worker_process_init handlers may not
    block for more than 4 seconds). Returns the seconds it took, or None when this worker never runs the
    retinal analysis."""
    from django.conf import settings

    from modalities import registry

    consumed = set(application.amqp.queues.consume_from or ())
    if consumed and registry.get("retinal").modality.queue not in consumed:
        return None
    if not getattr(settings, "WORKER_WARM_UP", True):  # a test's worker that never runs the retinal analysis
        return None
    from modalities.retinal.measure import warm_up as compile_skeleton_walk

    seconds = compile_skeleton_walk()
    logger.info("retinal measures: skan's numba code compiled in %.1f s", seconds)
    return seconds


# Request ids travel with tasks and reach the worker's log lines, which are scrubbed like the web's
# (medilens/logging_request_id.py, medilens/logging_worker.py); task metrics (medilens/metrics/).
def _connect_observability() -> None:
    from medilens import logging_request_id, logging_worker
    from medilens.metrics import celery_signals

    logging_request_id.connect()
    logging_worker.connect()
    celery_signals.connect()


_connect_observability()
