"""Celery: the broker's options, the queues, beat's schedule and the workers' model settings."""

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403 (these settings build on the base's)

# --- Celery -----------------------------------------------------------------------------------------
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None) or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Above the longest hard time limit plus the longest retry countdown: a task whose worker died
    # comes back after this many seconds.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900),
    # How often a worker sweeps for unacknowledged messages whose visibility timeout has passed.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    "global_keyprefix": env.str("CELERY_KEY_PREFIX", default=""),
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reap-stuck-assessments": {"task": "assessments.tasks.reap_stuck_assessments", "schedule": 30.0},
    "sweep-orphan-objects": {"task": "assessments.tasks.sweep_orphan_objects", "schedule": 6 * 60 * 60.0},
    "purge-idempotency-records": {"task": "assessments.tasks.purge_idempotency_records", "schedule": 60 * 60.0},
    # Daily, at night in TIME_ZONE: patients past their organization's retention (retention/).
    "purge-expired-patients": {
        "task": "retention.tasks.purge_expired_patients",
        "schedule": crontab(hour=3, minute=30),
    },
    # Audit trail: seal at most AUDIT_SEAL_INTERVAL_SECONDS apart (a run finding the sealer busy returns at
    # once; expiry drops runs a stopped worker left queued), and checkpoint every chain every minute.
    "seal-audit-events": {
        "task": "audit.tasks.seal_audit_events",
        "schedule": env.float("AUDIT_SEAL_INTERVAL_SECONDS", default=5.0),
        "options": {"expires": 10},
    },
    "write-audit-checkpoint": {
        "task": "audit.tasks.write_audit_checkpoint", "schedule": 60.0, "options": {"expires": 60},
    },
}
# Light work on "default"; model inference on "inference", so a slow model cannot starve the rest.
# Models on the workers: how many loaded models a process keeps, and torch's thread count per process
# (the inference worker runs one task at a time on this 2-core kind).
MODEL_CACHE_SIZE = env.int("MODEL_CACHE_SIZE", default=2)
TORCH_NUM_THREADS = env.int("TORCH_NUM_THREADS", default=1)
# 3D body scans (modalities/body_scan/limits.py): the largest file and face count accepted at upload.
BODY_SCAN_MAX_BYTES = env.int("BODY_SCAN_MAX_MB", default=100) * 1_000_000
BODY_SCAN_MAX_FACES = env.int("BODY_SCAN_MAX_FACES", default=5_000_000)
# A queued assessment whose message was lost (broker down at creation) is re-published after this.
ASSESSMENT_REPUBLISH_AFTER_SECONDS = env.int("ASSESSMENT_REPUBLISH_AFTER_SECONDS", default=120)
# Workers compile the retinal analysis' JIT code before taking a task (medilens.celery.warm_up); tests whose
# workers never run it turn this off to start in a second rather than several.
WORKER_WARM_UP = env.bool("WORKER_WARM_UP", default=True)
# A run that found the file store or the database unavailable is retried after this many seconds, doubling
# each time (at most 120 s apart, 5 retries). Fault tests make it small.
ASSESSMENT_RETRY_BASE_SECONDS = env.float("ASSESSMENT_RETRY_BASE_SECONDS", default=5.0)
# A worker that runs a queued first analysis of a fast, file-less modality (cvd_risk, cognitive) also claims
# up to this many minus one other such queued analyses of the same organization and writes them all in its one
# transaction (assessments.pipeline.run; README "Assessments", "Batches"). 1 runs each on its own.
_batch_size = env.str("ASSESSMENT_BATCH_SIZE", default="32").strip()
if not (_batch_size.isascii() and _batch_size.isdigit() and 1 <= int(_batch_size) <= 500):
    raise ImproperlyConfigured(f"ASSESSMENT_BATCH_SIZE must be a whole number from 1 to 500, not {_batch_size!r}.")
ASSESSMENT_BATCH_SIZE = int(_batch_size)
# Objects younger than this are never swept: their request may still be committing its row.
ORPHAN_GRACE_SECONDS = env.int("ORPHAN_GRACE_SECONDS", default=3600)
CELERY_TIMEZONE = TIME_ZONE
