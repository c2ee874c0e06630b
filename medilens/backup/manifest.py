"""The manifest: what an archive holds, and the checks that its contents match.

``header`` is written first in the archive, ``manifest`` last (see archive.py). Both carry the format, the
app version, the time and the migration state; the manifest adds row counts per table, the SHA-256 and
size of the database copy and of every object, and each audit chain's head (sequence and hash).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from django.conf import settings

from .archive import FORMAT, ArchiveError


@cache
def app_version() -> str:
    try:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def header(*, created_at: str, vendor: str, migrations: dict, storage: str) -> dict:
    return {
        "format": FORMAT,
        "app_version": app_version(),
        "created_at": created_at,
        "database_vendor": vendor,
        "migrations": migrations,
        "storage": storage,
    }


def check_header(document: dict) -> dict:
    if document.get("format") != FORMAT:
        raise ArchiveError(f"not a MediLens archive of format {FORMAT} (found {document.get('format')!r})")
    for name in ("app_version", "created_at", "database_vendor", "migrations"):
        if name not in document:
            raise ArchiveError(f"the archive's header lacks {name}")
    return document


def check_complete(manifest: dict, header_document: dict, seen: dict[str, tuple[str, int]]) -> None:
    """The manifest agrees with the header and with what was read: each member's (sha256, size) in ``seen``,
    every object listed present with its checksum, and nothing present that is not listed."""
    for name in ("format", "app_version", "created_at", "database_vendor", "migrations"):
        if manifest.get(name) != header_document.get(name):
            raise ArchiveError(f"the manifest and the header disagree on {name}")
    database = manifest.get("database") or {}
    expected = {database.get("member"): (database.get("sha256"), database.get("size"))}
    for item in manifest.get("objects") or []:
        expected["objects/" + item["key"]] = (item["sha256"], item["size"])
    for name, checksum in expected.items():
        if name not in seen:
            raise ArchiveError(f"{name} is listed in the manifest but missing from the archive")
        if seen[name] != checksum:
            raise ArchiveError(f"{name} does not match its SHA-256 in the manifest: the archive was altered")
    extra = sorted(set(seen) - set(expected))
    if extra:
        raise ArchiveError(f"{extra[0]} is in the archive but not in its manifest")
