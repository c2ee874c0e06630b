"""The archive: a tar stream encrypted with age (pyrage), written and read without holding it whole.

Layout of the tar, in this order::

    header.json                 format, app version, time, database vendor, migration state
    database/<dump file>        pg_dump custom format, or the SQLite online-backup copy
    objects/<storage key>       every stored object, byte for byte
    manifest.json               the header's fields, row counts, SHA-256 and size of the dump and of
                                every object, the audit chains' heads

The header comes first so that a restore refuses a wrong key or an archive of a newer MediLens after one
chunk; the manifest comes last because its checksums are computed while the archive is written.

age (the format) authenticates every 64 KiB chunk with ChaCha20-Poly1305 and marks the last one, so a
changed byte or a cut archive fails authentication where it happens. pyrage's ``encrypt_io`` and
``decrypt_io`` push bytes between file objects; each runs in a thread beside the tar code, joined to it by
a pipe, and keeps no Django state (the database work stays on the calling thread and its connection).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyrage

from . import hooks

FORMAT = "medilens-backup/1"
HEADER = "header.json"
MANIFEST = "manifest.json"
DATABASE_DIR = "database/"
OBJECTS_DIR = "objects/"
SUFFIX = ".tar.age"
CHUNK = 1024 * 1024


class ArchiveError(Exception):
    """The archive cannot be used: wrong key, damaged, altered, or not a MediLens archive."""


class _Pump(threading.Thread):
    """Runs one pyrage call; keeps the error it ended with for the caller's thread."""

    def __init__(self, work) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            self.error = error


class SecretGuard(io.RawIOBase):
    """A writer that refuses to pass on any of the deployment's secrets (hooks.SECRET_SETTINGS).

    Each write is searched together with the tail of the previous one, so a value split across two
    writes is still found.
    """

    def __init__(self, raw, secrets: list[bytes]) -> None:
        self.raw = raw
        self.secrets = [secret for secret in secrets if secret]
        self.keep = max((len(secret) for secret in self.secrets), default=1) - 1
        self.tail = b""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        window = self.tail + data
        for secret in self.secrets:
            if secret in window:
                raise ArchiveError("the archive would contain the value of a secret setting: backup stopped")
        self.tail = window[-self.keep:] if self.keep else b""
        self.raw.write(data)
        return len(data)


@contextmanager
def encrypted_writer(path: Path, recipient) -> Iterator[SecretGuard]:
    """A writer whose bytes end up age-encrypted in ``path``; a partial file is removed on failure."""
    read_fd, write_fd = os.pipe()
    # Created for the owner only, and never over an existing file.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as target:
        reader = os.fdopen(read_fd, "rb")
        pump = _Pump(lambda: pyrage.encrypt_io(reader, target, [recipient]))
        pump.start()
        writer = os.fdopen(write_fd, "wb")
        try:
            yield SecretGuard(writer, hooks.secret_values())
            writer.close()
        except BaseException:
            writer.close()
            pump.join()
            reader.close()
            Path(path).unlink(missing_ok=True)
            raise
        pump.join()
        reader.close()
    if pump.error is not None:
        Path(path).unlink(missing_ok=True)
        raise ArchiveError(f"encryption failed: {pump.error}") from pump.error


def _decryption_problem(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, pyrage.DecryptError) and "No matching keys" in text:
        return "BACKUP_ENCRYPTION_KEY does not open this archive: it was encrypted to another key"
    if isinstance(error, pyrage.DecryptError | OSError) and "decryption" in text.lower():
        return "the archive is damaged or was altered: its authentication failed"
    if isinstance(error, pyrage.DecryptError):
        return f"not a MediLens archive (not readable as age: {text})"
    return f"the archive could not be read ({type(error).__name__})"


@contextmanager
def decrypted_reader(path: Path, identity) -> Iterator[io.BufferedReader]:
    """A reader of the decrypted bytes of ``path``. A decryption failure (wrong key, altered or cut
    archive) is raised as ArchiveError when the block ends, in place of whatever the reading code made
    of the stream stopping short."""
    if not Path(path).is_file():
        raise ArchiveError(f"{path}: no such file")
    read_fd, write_fd = os.pipe()
    writer = os.fdopen(write_fd, "wb")

    def decrypt():
        with open(path, "rb") as source, writer:
            pyrage.decrypt_io(source, writer, [identity])

    pump = _Pump(decrypt)
    pump.start()
    reader = os.fdopen(read_fd, "rb")
    failure: BaseException | None = None
    try:
        yield reader
        # What follows the tar's last member (its end blocks, age's last chunk) must authenticate too: an
        # archive cut after its manifest is refused, not accepted.
        while reader.read(CHUNK):
            pass
    except BaseException as error:
        failure = error
    finally:
        reader.close()  # a pump still writing gets a broken pipe and stops
        pump.join()
    if pump.error is not None and not isinstance(pump.error, BrokenPipeError):
        raise ArchiveError(_decryption_problem(pump.error)) from pump.error
    if failure is not None:
        raise failure


def add_json(tar: tarfile.TarFile, name: str, document: dict) -> bytes:
    data = json.dumps(document, indent=1, sort_keys=True).encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    return data


def add_stream(tar: tarfile.TarFile, name: str, size: int, reader) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    tar.addfile(info, reader)


def members(reader) -> Iterator[tuple[tarfile.TarInfo, io.BufferedReader]]:
    """The archive's members in order, each with a reader of its content (read it before the next).

    Only regular files with names of the layout are accepted: a link, a device or a name outside the
    layout means the archive is not one of ours.
    """
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    raise ArchiveError(f"unexpected archive member {member.name!r} (not a regular file)")
                if not (member.name in (HEADER, MANIFEST) or member.name.startswith((DATABASE_DIR, OBJECTS_DIR))):
                    raise ArchiveError(f"unexpected archive member {member.name!r}")
                yield member, tar.extractfile(member)
    except tarfile.TarError as error:
        raise ArchiveError(f"the archive's contents are not a MediLens archive ({error})") from error


def read_json(stream, limit: int = 512 * 1024 * 1024) -> dict:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError("a JSON member of the archive is too large")
    try:
        document = json.loads(data)
    except ValueError:
        raise ArchiveError("a JSON member of the archive is not valid JSON") from None
    if not isinstance(document, dict):
        raise ArchiveError("a JSON member of the archive is not an object")
    return document
