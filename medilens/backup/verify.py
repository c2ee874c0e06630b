"""Reading an archive: ``verify_backup`` reads it all and checks it; ``restore`` does the same first, then
reads it again to restore, checking each member against the verified manifest as it goes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import archive, database, manifest

CHUNK = 1024 * 1024


class NewerArchive(archive.ArchiveError):
    """The archive's database has migrations this code does not know."""


@dataclass
class Verified:
    header: dict
    manifest: dict


def check_compatible(header: dict) -> None:
    ahead = database.migrations_ahead_of_code(header["migrations"])
    if ahead:
        listed = ", ".join(ahead[:5]) + (" ..." if len(ahead) > 5 else "")
        raise NewerArchive(
            f"this archive was made by a newer MediLens (app version {header['app_version']}): its database has "
            f"migrations this code does not know ({listed}). Restore it with that version or a later one."
        )


def _hash(stream, sink: Callable[[bytes], None] | None = None) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return digest.hexdigest(), size


def walk(path: Path, identity, *, handle: Callable | None = None) -> Iterator[tuple[str, dict]]:
    """Read the archive in order; yields ("header", header) first and ("manifest", manifest) last, after
    checking every member against the manifest. ``handle(name, stream)`` may consume a member's content
    (all of it) and return its (sha256, size); members it leaves are hashed here."""
    seen: dict[str, tuple[str, int]] = {}
    head = final = None
    with archive.decrypted_reader(path, identity) as reader:
        for member, stream in archive.members(reader):
            if final is not None:
                raise archive.ArchiveError(f"unexpected archive member {member.name!r} after the manifest")
            if head is None:
                if member.name != archive.HEADER:
                    raise archive.ArchiveError("the archive does not start with its header")
                head = manifest.check_header(archive.read_json(stream))
                check_compatible(head)
                yield "header", head
            elif member.name == archive.MANIFEST:
                final = archive.read_json(stream)
                manifest.check_complete(final, head, seen)
            elif member.name == archive.HEADER or member.name in seen:
                raise archive.ArchiveError(f"{member.name} appears twice in the archive")
            else:
                result = handle(member.name, stream) if handle else None
                seen[member.name] = result or _hash(stream)
    if final is None:
        raise archive.ArchiveError("the archive ends before its manifest: it is incomplete")
    yield "manifest", final


def verify(path: Path, identity) -> Verified:
    header = document = None
    for kind, value in walk(path, identity):
        if kind == "header":
            header = value
        else:
            document = value
    return Verified(header, document)
