"""The audit trail's sealing key and checkpoints (audit/, README "Audit trail")."""

import secrets

from .base import *  # noqa: F403 (these settings build on the base's)


# --- Audit trail (audit/, README "Audit trail") ---------------------------------------------------------
def _embedded_audit_key() -> str:
    """The demo's sealing key, generated on first use and kept in var/ beside the secret key. A real
    deployment keeps it outside the database's reach (AUDIT_HMAC_KEY from a secret store)."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "audit_hmac_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


# Comma-separated: the first key seals and signs; keys after it only verify (rotation).
AUDIT_HMAC_KEY = env.list("AUDIT_HMAC_KEY", default=[]) or ([_embedded_audit_key()] if EMBEDDED else [])
# Checkpoints: a prefix of the default storage, or a bucket of their own (best: another account).
AUDIT_CHECKPOINT_PREFIX = env.str("AUDIT_CHECKPOINT_PREFIX", default="audit-checkpoints")
AUDIT_CHECKPOINT_STORAGE = "default"
if env.str("AUDIT_CHECKPOINT_BUCKET", default=""):
    AUDIT_CHECKPOINT_STORAGE = "audit_checkpoints"
    STORAGES["audit_checkpoints"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AUDIT_CHECKPOINT_BUCKET"),
            "endpoint_url": env.str("AUDIT_CHECKPOINT_ENDPOINT_URL", default="") or None,
            "access_key": env.str("AUDIT_CHECKPOINT_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AUDIT_CHECKPOINT_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AUDIT_CHECKPOINT_REGION_NAME", default="us-east-1"),
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
        },
    }
# S3 Object Lock on each checkpoint (the bucket must have Object Lock enabled); 0 sends no lock headers.
AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = env.int("AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS", default=0)
AUDIT_CHECKPOINT_OBJECT_LOCK_MODE = env.str("AUDIT_CHECKPOINT_OBJECT_LOCK_MODE", default="COMPLIANCE")
# Unusual bulk access: more distinct patients than this read by one user or API key within an hour.
AUDIT_BULK_READ_THRESHOLD = env.int("AUDIT_BULK_READ_THRESHOLD", default=200)
# A list read records the ids it returned up to this many; past it, the query and the count.
AUDIT_READ_IDS_MAX = env.int("AUDIT_READ_IDS_MAX", default=200)
# Off only for the read benchmark's baseline (benchmarks/audit_reads.py).
AUDIT_READS_ENABLED = env.bool("AUDIT_READS_ENABLED", default=True)
