"""Row-Level Security's second role (README, "Row-Level Security").

``DATABASE_URL`` is the application role (``medilens_app``: RLS applies). ``MAINTENANCE_DATABASE_URL``,
when set, is the ``medilens_maintenance`` role (BYPASSRLS) that the cross-tenant reads of the reaper, the
orphan sweep and the idempotency purge use (``medilens.rls.maintenance.alias()``). Unset (the embedded
default, the test suite, a deployment still connecting as the owner) they use ``default``. Jobs that cross
tenants as a whole (audit sealing and checkpoints, backup, key rotation) run in a process
whose ``DATABASE_URL`` is the maintenance role: with ``CELERY_MAINTENANCE_QUEUE`` set, beat sends their
tasks to that queue, for a worker started with the maintenance role.
"""

from .base import DATABASES, EMBEDDED, env
from .tasks import CELERY_BEAT_SCHEDULE

MAINTENANCE_DATABASE_ALIAS = "default"
if not EMBEDDED and env.str("MAINTENANCE_DATABASE_URL", default=""):
    DATABASES["maintenance"] = env.db("MAINTENANCE_DATABASE_URL")
    DATABASES["maintenance"]["CONN_MAX_AGE"] = 0  # a few short reads a minute: no pool needed
    MAINTENANCE_DATABASE_ALIAS = "maintenance"

# Tasks whose whole work crosses tenants, for the worker that connects as the maintenance role.
CROSS_TENANT_TASKS = (
    "audit.tasks.seal_audit_events",
    "audit.tasks.write_audit_checkpoint",
)
CELERY_MAINTENANCE_QUEUE = env.str("CELERY_MAINTENANCE_QUEUE", default="")
if CELERY_MAINTENANCE_QUEUE:
    for _entry in CELERY_BEAT_SCHEDULE.values():
        if _entry["task"] in CROSS_TENANT_TASKS:
            _entry.setdefault("options", {})["queue"] = CELERY_MAINTENANCE_QUEUE

__all__ = ["MAINTENANCE_DATABASE_ALIAS", "CROSS_TENANT_TASKS", "CELERY_MAINTENANCE_QUEUE"]
