"""``manage.py restore ARCHIVE [--force]``: put an archive back into an empty database and storage.

Nothing is changed until the whole archive has been read and checked (decrypted with the backup key,
every member's SHA-256 matched against the manifest, migration state not ahead of this code) and every
purge-ledger entry has verified. Then, in a second pass, the database is restored in one transaction and
each object is written and checked against the verified manifest as it streams. Afterwards the row counts
must equal the manifest's; the database is migrated if the archive is older than the code; the audit hook
records the restore (hooks.after_restore); and every patient the purge ledger names is purged again, so a
restore never brings back a patient purged after the archive was made.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from retention.services import replay_ledger

from . import archive, database, hooks, keys, services, verify
from .objects import HashingReader, has_objects


class RestoreRefused(Exception):
    """The target or the input is not fit for a restore; nothing was changed."""


class RestoreFailed(Exception):
    """The restore started and could not finish; the message says what state the target is in."""


@dataclass
class RestoreResult:
    manifest: dict
    objects: int = 0
    skipped_objects: int = 0
    migrated: bool = False
    replayed: list[str] = field(default_factory=list)


def check_target(*, force: bool) -> None:
    tables = database.table_count()
    if tables and not force:
        raise RestoreRefused(
            f"the database already has {tables} table(s): a restore goes into an empty database "
            "(pass --force to replace its contents with the archive's)"
        )
    key = has_objects(default_storage, ignoring=hooks.kept_prefixes())
    if key and not force:
        raise RestoreRefused(
            f"the storage already holds objects (e.g. {key}): a restore goes into an empty bucket "
            "(pass --force to write the archive's objects over it)"
        )


class _Writer:
    """The second pass's member handler: restores each member, checking it against the verified manifest."""

    def __init__(self, document: dict, work: Path, *, force: bool, result: RestoreResult) -> None:
        database_entry = document["database"]
        self.database_member = database_entry["member"]
        self.expected = {self.database_member: (database_entry["sha256"], database_entry["size"])}
        self.expected.update({"objects/" + item["key"]: (item["sha256"], item["size"]) for item in document["objects"]})
        self.work = work
        self.force = force
        self.result = result

    def _check(self, name: str, reader: HashingReader) -> tuple[str, int]:
        found = (reader.hexdigest(), reader.size)
        if found != self.expected.get(name):
            raise archive.ArchiveError(f"{name} changed since it was verified: restore stopped")
        return found

    def __call__(self, name: str, stream) -> tuple[str, int]:
        if name == self.database_member:
            copy = self.work / "database"
            reader = HashingReader(stream)
            with open(copy, "wb") as handle:
                while chunk := reader.read(verify.CHUNK):
                    handle.write(chunk)
            found = self._check(name, reader)
            database.restore(copy, replace=self.force)
            copy.unlink()
            return found
        return self._object(name, stream)

    def _object(self, name: str, stream) -> tuple[str, int]:
        key = name[len(archive.OBJECTS_DIR):]
        reader = HashingReader(stream)
        exists = (self.force or key.startswith(hooks.kept_prefixes())) and default_storage.exists(key)
        if exists and key.startswith(hooks.kept_prefixes()):
            # The target's own records (purge ledger, audit checkpoints) are kept as they are.
            while reader.read(verify.CHUNK):
                pass
            self.result.skipped_objects += 1
            return self._check(name, reader)
        if exists:
            default_storage.delete(key)
        saved = default_storage.save(key, File(reader, name=key))
        if saved != key:
            default_storage.delete(saved)
            raise RestoreFailed(f"the storage renamed {key}: restore stopped")
        try:
            found = self._check(name, reader)
        except archive.ArchiveError:
            default_storage.delete(key)
            raise
        self.result.objects += 1
        return found


def _check_counts(document: dict) -> bool:
    """Row counts equal the manifest's; returns whether migrations are pending (the archive is older)."""
    counts, migrations = database.current_state()
    expected = document["database"]["row_counts"]
    for table, count in sorted(expected.items()):
        if counts.get(table) != count:
            raise RestoreFailed(
                f"after the restore, table {table} has {counts.get(table)} row(s) where the manifest says {count}"
            )
    connections.close_all()
    executor = MigrationExecutor(connections["default"])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def restore_archive(path: Path, *, force: bool = False) -> RestoreResult:
    from retention import ledger

    identity = keys.identity()
    check_target(force=force)
    verified = verify.verify(Path(path), identity)
    if verified.header["database_vendor"] != database.vendor():
        raise RestoreRefused(
            f"the archive holds a {verified.header['database_vendor']} database; this installation uses "
            f"{database.vendor()}"
        )
    entries = ledger.entries()  # a ledger that does not verify stops the restore before any change
    result = RestoreResult(verified.manifest)
    with tempfile.TemporaryDirectory(prefix="medilens-restore-") as work:
        writer = _Writer(verified.manifest, Path(work), force=force, result=result)
        for _kind, _value in verify.walk(Path(path), identity, handle=writer):
            pass
    if _check_counts(verified.manifest):
        call_command("migrate", interactive=False, verbosity=0)
        result.migrated = True
    hooks.after_restore(verified.manifest)
    services.record_restore(
        archive_created_at=verified.manifest["created_at"],
        tables=len(verified.manifest["database"]["row_counts"]),
        objects=verified.manifest["object_count"],
        migrated=result.migrated,
    )
    result.replayed = replay_ledger(entries)
    return result
