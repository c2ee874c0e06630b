"""The Celery application. Settings come from Django's (CELERY_* names)."""

import logging
import os
import threading

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")

app = Celery("medilens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


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


@worker_process_init.connect
def _warm_up_in_worker_process(**kwargs):
    """Prefork children: compile the retinal measures' JIT code as the process starts (see warm_up_later)."""
    warm_up_later(app)


@worker_init.connect
def _warm_up_in_worker(sender=None, **kwargs):
    """Solo and threads pools run their tasks in this process: compile here. A prefork parent only forks its
    children, which compile for themselves: a compiling thread here would be copied into a child mid-way,
    holding numba's compiler lock."""
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool as PreforkPool

    if not issubclass(get_implementation(sender.pool_cls), PreforkPool):
        warm_up_later(sender.app)


def warm_up_later(application) -> threading.Thread | None:
    """Compile skan's numba code (the retinal tortuosity's skeleton walk: seconds, once per process) in a
    background thread, when this worker consumes the retinal analysis' queue, so no analysis waits for it.
    An analysis that starts meanwhile waits only for the rest of the compilation (numba's lock). Returns
    the thread, or None when this worker never runs the retinal analysis."""
    from modalities import registry

    consumed = set(application.amqp.queues.consume_from or ())
    if consumed and registry.get("retinal").queue not in consumed:
        return None
    thread = threading.Thread(target=_warm_up, name="retinal-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up() -> None:
    from modalities.retinal.measure import warm_up

    logger.info("retinal measures: skan's numba code compiled in %.1f s", warm_up())
