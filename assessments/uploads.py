"""Upload validation and preparation, before anything is stored.

* The type comes from the content (libmagic, the database behind file(1)), never from the client's
  Content-Type or the file name; each use has an allow-list.
* Size caps (bytes, and pixels for images) are checked before decoding; Pillow's decompression-bomb
  guard stays on.
* Images are stored without metadata (EXIF, GPS, comments) and never re-compressed lossily: a JPEG keeps
  its compressed stream byte for byte with the metadata segments cut out; a JPEG whose EXIF orientation
  is not upright is rotated and stored as PNG (lossless); PNG is re-encoded as PNG (lossless).
* Non-image uploads are streamed: Django spools them to a temporary file, we hash them in chunks, and
  storage uploads them in parts. They are never read into memory whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import IO

import magic
from django.core.files import File
from PIL import Image, ImageOps

CHUNK = 1024 * 1024
SNIFF_BYTES = 8192

ATTACHMENT_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/tiff"}
DEFAULT_MAX_PIXELS = 50_000_000

# JPEG segments that carry metadata rather than pixels: APP1 (EXIF, XMP), APP3-APP13 (vendor data,
# IPTC/Photoshop in APP13), APP15, and COM comments. APP0 (JFIF), APP2 (ICC colour profile) and APP14
# (Adobe colour transform) change how pixels decode, so they stay.
_JPEG_DROP = {0xE1, *range(0xE3, 0xEE), 0xEF, 0xFE}


class UploadRejected(Exception):
    def __init__(self, message: str, *, status: int = 400):
        self.message = message
        self.status = status
        super().__init__(message)


@dataclass
class PreparedUpload:
    original_filename: str
    content_type: str
    extension: str
    size: int
    sha256_original: str
    sha256_stored: str
    content: IO[bytes]

    def as_file(self) -> File:
        self.content.seek(0)
        return File(self.content, name=f"upload.{self.extension}")


def safe_filename(name: str | None) -> str:
    """The display name only (storage keys never use it): no directories, no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    name = re.sub(r"\s+", " ", name)
    return name[:200] or "upload"


def sniff(fileobj: IO[bytes]) -> str:
    fileobj.seek(0)
    head = fileobj.read(SNIFF_BYTES)
    fileobj.seek(0)
    return magic.from_buffer(head, mime=True) if head else "application/x-empty"


def sha256_of(fileobj: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(CHUNK), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def _strip_jpeg_metadata(data: bytes) -> bytes:
    """Copy a JPEG, leaving out metadata segments; the entropy-coded image data is untouched."""
    if data[:2] != b"\xff\xd8":
        raise UploadRejected("The JPEG file is corrupt (no start-of-image marker).")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise UploadRejected("The JPEG file is corrupt (bad segment marker).")
        marker = data[pos + 1] if pos + 1 < len(data) else None
        if marker is None:
            raise UploadRejected("The JPEG file is truncated.")
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data (and later markers), kept as is
            out += data[pos:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            out += data[pos : pos + 2]
            pos += 2
            continue
        if pos + 4 > len(data):
            raise UploadRejected("The JPEG file is truncated.")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise UploadRejected("The JPEG file is truncated.")
        if marker not in _JPEG_DROP:
            out += data[pos:end]
        pos = end
    raise UploadRejected("The JPEG file is truncated (no image data).")


def _open_image(fileobj: IO[bytes], max_pixels: int) -> Image.Image:
    fileobj.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fileobj)
            width, height = image.size
            if width * height > max_pixels:
                raise UploadRejected(
                    f"The image is {width}x{height} ({width * height:,} pixels); the limit here is "
                    f"{max_pixels:,} pixels.",
                    status=413,
                )
            image.load()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected(
            "The image declares more pixels than allowed (possible decompression bomb).", status=413
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise UploadRejected("The image is truncated or corrupt and cannot be decoded.") from None
    return image


def _sanitize_image(fileobj: IO[bytes], content_type: str, max_pixels: int) -> tuple[bytes, str, str]:
    """Return (bytes to store, content type, extension) with metadata removed, losslessly."""
    image = _open_image(fileobj, max_pixels)
    orientation = image.getexif().get(0x0112, 1)
    if content_type == "image/jpeg" and orientation in (1, None):
        fileobj.seek(0)
        stripped = _strip_jpeg_metadata(fileobj.read())
        return stripped, "image/jpeg", "jpg"
    upright = ImageOps.exif_transpose(image) if orientation not in (1, None) else image
    buffer = io.BytesIO()
    params = {}
    if image.info.get("icc_profile"):
        params["icc_profile"] = image.info["icc_profile"]
    # PNG is lossless; no exif, no text chunks are written.
    upright.save(buffer, format="PNG", **params)
    return buffer.getvalue(), "image/png", "png"


def prepare_upload(
    upload,
    *,
    allowed: dict[str, str],
    max_bytes: int,
    max_pixels: int | None = None,
) -> PreparedUpload:
    """Validate one uploaded file and return what to store. Raises UploadRejected with a clear message."""
    name = safe_filename(getattr(upload, "name", ""))
    size = upload.size if getattr(upload, "size", None) is not None else _size_of(upload)
    if size == 0:
        raise UploadRejected(f"{name}: the file is empty.")
    if size > max_bytes:
        raise UploadRejected(
            f"{name}: the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB.", status=413
        )
    fileobj = upload.file if hasattr(upload, "file") else upload
    content_type = sniff(fileobj)
    if content_type not in allowed:
        accepted = ", ".join(sorted(set(allowed.values())))
        raise UploadRejected(
            f"{name}: the content is {content_type}, which is not accepted here (accepted: {accepted}).",
            status=415,
        )
    sha_original = sha256_of(fileobj)
    if content_type in IMAGE_TYPES:
        data, stored_type, extension = _sanitize_image(fileobj, content_type, max_pixels or DEFAULT_MAX_PIXELS)
        return PreparedUpload(
            original_filename=name,
            content_type=stored_type,
            extension=extension,
            size=len(data),
            sha256_original=sha_original,
            sha256_stored=hashlib.sha256(data).hexdigest(),
            content=io.BytesIO(data),
        )
    return PreparedUpload(
        original_filename=name,
        content_type=content_type,
        extension=allowed[content_type],
        size=size,
        sha256_original=sha_original,
        sha256_stored=sha_original,
        content=fileobj,
    )


def _size_of(fileobj) -> int:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size
