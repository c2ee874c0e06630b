"""Stored objects as a backup sees them: listed, read and written in chunks, on S3 or the local disk.

One interface over both storages the project runs on (django-storages' S3Storage and Django's
FileSystemStorage), so the backup, the restore and the purge ledger never load an object whole.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.files.storage import FileSystemStorage, Storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


def list_objects(storage: Storage, prefix: str = "") -> Iterator[StoredObject]:
    """Every object under ``prefix``, in key order (S3 lists in that order; the disk walk is sorted)."""
    if isinstance(storage, S3Storage):
        # Keys are given back relative to the storage's location, as its open() and save() take them.
        location = storage.location.strip("/")
        skip = len(location) + 1 if location else 0
        for summary in storage.bucket.objects.filter(Prefix=f"{location}/{prefix}" if location else prefix):
            if not summary.key.endswith("/"):
                yield StoredObject(summary.key[skip:], summary.size)
        return
    if not isinstance(storage, FileSystemStorage):
        raise TypeError(f"cannot list objects of {type(storage).__name__}")
    yield from sorted(_walk(storage, prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else "", prefix),
                      key=lambda item: item.key)


def _walk(storage: FileSystemStorage, directory: str, prefix: str) -> Iterator[StoredObject]:
    try:
        directories, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        key = f"{directory}{name}"
        if key.startswith(prefix):
            yield StoredObject(key, storage.size(key))
    for name in directories:
        path = f"{directory}{name}/"
        if path.startswith(prefix) or prefix.startswith(path):
            yield from _walk(storage, path, prefix)


def has_objects(storage: Storage, *, ignoring: tuple[str, ...] = ()) -> str | None:
    """The first key that is not under one of the ``ignoring`` prefixes, or None."""
    for item in list_objects(storage):
        if not item.key.startswith(ignoring):
            return item.key
    return None


@contextmanager
def open_stream(storage: Storage, key: str) -> Iterator:
    """A forward-only reader of one object. On S3 the response body itself: django-storages' ``open()``
    would first download the whole object into a spooled file, held in memory at its default settings."""
    if isinstance(storage, S3Storage):
        body = storage.bucket.Object(storage._normalize_name(clean_name(key))).get()["Body"]
        try:
            yield body
        finally:
            body.close()
        return
    with storage.open(key, "rb") as handle:
        yield handle


class HashingReader(io.RawIOBase):
    """A read-only, forward-only stream that hashes and counts what passes through it."""

    def __init__(self, raw) -> None:
        super().__init__()
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()
