"""The audit events of backup and restore: written here, the one way in (a test fails on audit.record outside
services). They name the archive, counts and times: never a patient."""

from __future__ import annotations

import audit


def record_backup_created(*, archive_name: str, created_at: str, tables: int, objects: int) -> None:
    audit.record(
        action="backup.created",
        actor="system:backup",
        details={"archive": archive_name, "created_at": created_at, "tables": tables, "objects": objects},
    )


def record_restore(*, archive_created_at: str, tables: int, objects: int, migrated: bool) -> None:
    audit.record(
        action="backup.restored",
        actor="system:restore",
        details={"archive_created_at": archive_created_at, "tables": tables, "objects": objects, "migrated": migrated},
    )
