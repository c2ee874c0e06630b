"""Getting the raw file: a download with timeouts and a size limit, or a given file; its size and SHA-256."""

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

_CHUNK = 1024 * 1024


class FetchError(Exception):
    pass


def _limit_text(limit: int) -> str:
    return f"DIRECTORY_MAX_FILE_BYTES ({limit:,} bytes)"


def download(url: str) -> Path:
    """Write the URL's body to a new temporary file and return its path (the caller deletes it)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are downloaded, not {url[:60]!r}")
    limit = settings.DIRECTORY_MAX_FILE_BYTES
    deadline = time.monotonic() + settings.DIRECTORY_DOWNLOAD_TOTAL_TIMEOUT
    directory = settings.DIRECTORY_DOWNLOAD_DIR or None
    suffix = "-" + Path(urlsplit(url).path).name[-80:]
    handle, name = tempfile.mkstemp(prefix="directory-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(  # noqa: S310 (scheme checked above)
            url, timeout=settings.DIRECTORY_DOWNLOAD_TIMEOUT
        ) as response:
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > limit:
                raise FetchError(f"the server announces {declared:,} bytes, over {_limit_text(limit)}")
            written = 0
            while chunk := response.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise FetchError(f"the download passed {_limit_text(limit)}")
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"the download took longer than DIRECTORY_DOWNLOAD_TOTAL_TIMEOUT"
                        f" ({settings.DIRECTORY_DOWNLOAD_TOTAL_TIMEOUT:g} s)"
                    )
                out.write(chunk)
            if declared and written != declared:
                raise FetchError(f"the download ended after {written:,} of {declared:,} bytes")
    except TimeoutError:
        os.unlink(name)
        raise FetchError(
            "the download timed out (no data within DIRECTORY_DOWNLOAD_TIMEOUT,"
            f" {settings.DIRECTORY_DOWNLOAD_TIMEOUT:g} s)"
        ) from None
    except urllib.error.HTTPError as error:
        os.unlink(name)
        raise FetchError(f"the server answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        os.unlink(name)
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise FetchError("the download timed out while connecting") from None
        raise FetchError(f"the download failed: {reason}") from None
    except FetchError:
        os.unlink(name)
        raise
    return Path(name)


def measure(path: Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex); refuses a file over the size limit before reading it."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise FetchError(f"cannot read {path.name}: {error.strerror}") from None
    limit = settings.DIRECTORY_MAX_FILE_BYTES
    if size > limit:
        raise FetchError(f"the file is {size:,} bytes, over {_limit_text(limit)}")
    if size == 0:
        raise FetchError("the file is empty")
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return size, digest.hexdigest()
