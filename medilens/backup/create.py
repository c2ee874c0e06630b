"""``manage.py backup DEST``: one encrypted archive of the database and every stored object."""

from __future__ import annotations

import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.files.storage import default_storage
from django.utils import timezone

from . import archive, database, keys, manifest, services
from .objects import HashingReader, list_objects, open_stream


@dataclass
class BackupResult:
    path: Path
    manifest: dict


def archive_path(dest: Path, created_at) -> Path:
    """A directory gets a new file named by the time; a file name is taken as is. Never overwrites."""
    if dest.is_dir():
        dest = dest / f"medilens-{created_at.strftime('%Y%m%dT%H%M%SZ')}{archive.SUFFIX}"
    if dest.exists():
        raise archive.ArchiveError(f"{dest} already exists: a backup never overwrites a file")
    if not dest.parent.is_dir():
        raise archive.ArchiveError(f"{dest.parent} is not a directory")
    return dest


def storage_kind(storage) -> str:
    from storages.backends.s3 import S3Storage

    return "s3" if isinstance(storage, S3Storage) else "filesystem"


def _add_objects(tar: tarfile.TarFile, storage) -> list[dict]:
    listed = []
    for item in list_objects(storage):
        with open_stream(storage, item.key) as handle:
            reader = HashingReader(handle)
            archive.add_stream(tar, archive.OBJECTS_DIR + item.key, item.size, reader)
        listed.append({"key": item.key, "size": reader.size, "sha256": reader.hexdigest()})
    return listed


def _add_database(tar: tarfile.TarFile, snapshot: database.Snapshot) -> dict:
    size = snapshot.path.stat().st_size
    with open(snapshot.path, "rb") as handle:
        reader = HashingReader(handle)
        archive.add_stream(tar, snapshot.member, size, reader)
    return {
        "vendor": snapshot.vendor,
        "member": snapshot.member,
        "sha256": reader.hexdigest(),
        "size": size,
        "row_counts": snapshot.row_counts,
        "excluded_data": list(database.EXCLUDED_DATA),
    }


def create_backup(dest: Path) -> BackupResult:
    recipient = keys.recipient()  # a missing or malformed key stops the backup before any work
    created = timezone.now()
    created_at = created.isoformat()
    path = archive_path(Path(dest), created)
    partial = path.with_name(path.name + ".partial")
    storage = default_storage
    with tempfile.TemporaryDirectory(prefix="medilens-backup-", dir=path.parent) as work:
        snapshot = database.snapshot(Path(work))
        head = manifest.header(
            created_at=created_at, vendor=snapshot.vendor, migrations=snapshot.migrations, storage=storage_kind(storage)
        )
        with archive.encrypted_writer(partial, recipient) as raw, tarfile.open(
            fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT
        ) as tar:
            archive.add_json(tar, archive.HEADER, head)
            database_entry = _add_database(tar, snapshot)
            objects = _add_objects(tar, storage)
            document = {
                **head,
                "database": database_entry,
                "audit_heads": snapshot.audit_heads,
                "objects": objects,
                "object_count": len(objects),
                "object_bytes": sum(item["size"] for item in objects),
            }
            archive.add_json(tar, archive.MANIFEST, document)
    partial.rename(path)
    services.record_backup_created(
        archive_name=path.name,
        created_at=created_at,
        tables=len(document["database"]["row_counts"]),
        objects=document["object_count"],
    )
    return BackupResult(path, document)
