"""Upload validation and preparation, before anything is stored.

* The type comes from the content (libmagic, the database behind file(1)), never from the client's
  Content-Type or the file name; each use has an allow-list.
* Size caps (bytes, and pixels for images) are checked before decoding; Pillow's decompression-bomb
  guard stays on.
* Images are stored without metadata (EXIF, GPS, XMP, MPF, comments) and never re-compressed lossily: a
  JPEG keeps its first frame's compressed stream byte for byte with the metadata segments cut out and
  nothing after the end-of-image marker that closes it (appended images, trailing bytes); a JPEG whose
  EXIF orientation is not upright is rotated and stored as PNG (lossless); PNG is re-encoded as PNG
  (lossless). The ICC colour profile is kept: colour analyses need it.
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

# JPEG markers (ITU-T T.81, table B.1). Segments that carry metadata rather than pixels are left out:
# APP1 (EXIF, XMP), APP3-APP13 (vendor data, IPTC/Photoshop in APP13), APP15 and COM comments; of APP0
# and APP2 only what changes how pixels decode stays (JFIF density, the ICC profile). APP14 (Adobe colour
# transform) stays.
_SOI, _EOI, _SOS, _APP0, _APP2 = 0xD8, 0xD9, 0xDA, 0xE0, 0xE2
_RST0, _RST7 = 0xD0, 0xD7
_STANDALONE = {0x01, *range(_RST0, _RST7 + 1)}  # TEM and RSTn have no length field
_JPEG_DROP = {0xE1, *range(0xE3, 0xEE), 0xEF, 0xFE}


class UploadRejected(Exception):
    def __init__(self, message: str, *, status: int = 400):
        self.message = message
        self.status = status
        super().__init__(message)


class StorageUnavailable(UploadRejected):
    """The file store did not answer while the files were stored: nothing was saved, try again later."""

    def __init__(self, message: str = "The file store is not answering, so nothing was saved. Try again in a minute."):
        super().__init__(message, status=503)


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
    """The uploaded name as an error message may quote it back to its uploader (it is never stored in a
    key, shown later, or signed): no directories, no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    name = re.sub(r"\s+", " ", name)
    return name[:200] or "upload"


def display_name(*, modality: str, kind: str, day, index: int, extension: str) -> str:
    """What a stored file is called wherever it is shown, signed or downloaded: the modality, the upload
    date and its place among the assessment's files of that kind (from 1). Never the uploaded name,
    which often holds a patient's name or MRN. The migration 0007 keeps a frozen copy of this."""
    prefix = modality.replace("_", "-") + ("-document" if kind == "attachment" else "")
    return f"{prefix}-{day:%Y-%m-%d}-{index}.{extension}"


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
    """Copy a JPEG's first frame, leaving out metadata segments and everything after the end-of-image
    marker that closes it (a phone's appended preview, depth or HDR image with its own EXIF, or an HTML
    polyglot). Segments are read by their lengths up to each start-of-scan; the entropy-coded data that
    follows is copied byte for byte (0xFF00 stuffing and restart markers are part of it) up to the next
    marker."""
    if data[:2] != b"\xff\xd8":
        raise UploadRejected("The JPEG file is corrupt (no start-of-image marker).")
    out = bytearray(b"\xff\xd8")
    pos, scanned = 2, False
    while True:
        if pos >= len(data) and scanned:  # no end-of-image marker: end the copy as the decoder did
            return bytes(out + b"\xff\xd9")
        marker, pos = _next_marker(data, pos)
        if marker == _EOI:
            return bytes(out + b"\xff\xd9")
        if marker == _SOI:
            raise UploadRejected("The JPEG file is corrupt (an image starts inside another).")
        if marker in _STANDALONE:
            out += bytes((0xFF, marker))
            continue
        end = _segment_end(data, pos)
        kept = _kept_segment(marker, data[pos - 2 : end])
        if kept:
            out += kept
        pos = end
        if marker == _SOS:
            scan_end = _entropy_coded_end(data, pos)
            out += data[pos:scan_end]
            pos, scanned = scan_end, True


def _next_marker(data: bytes, pos: int) -> tuple[int, int]:
    """The marker at ``pos`` (after any fill bytes) and the position after it."""
    if pos >= len(data):
        raise UploadRejected("The JPEG file is truncated.")
    if data[pos] != 0xFF:
        raise UploadRejected("The JPEG file is corrupt (bad segment marker).")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise UploadRejected("The JPEG file is truncated.")
    return data[pos], pos + 1


def _segment_end(data: bytes, pos: int) -> int:
    """``pos`` is just after a marker with a length field (which counts itself, not the marker)."""
    if pos + 2 > len(data):
        raise UploadRejected("The JPEG file is truncated.")
    length = int.from_bytes(data[pos : pos + 2], "big")
    if length < 2 or pos + length > len(data):
        raise UploadRejected("The JPEG file is truncated.")
    return pos + length


def _entropy_coded_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at ``pos`` ends: at the first 0xFF that begins a marker,
    i.e. is followed (after fill bytes) by neither 0x00 (a stuffed 0xFF) nor a restart marker."""
    while True:
        found = data.find(b"\xff", pos)
        if found < 0:
            return len(data)
        following = found + 1
        while following < len(data) and data[following] == 0xFF:
            following += 1
        if following >= len(data):  # fill bytes up to the end, no end-of-image marker
            return len(data)
        if data[following] != 0x00 and not _RST0 <= data[following] <= _RST7:
            return found
        pos = following + 1


def _kept_segment(marker: int, segment: bytes) -> bytes | None:
    """The segment as stored, or None to leave it out."""
    payload = segment[4:]
    if marker == _APP0:
        # JFIF's density stays; its thumbnail (and any other APP0, e.g. a JFXX thumbnail) goes.
        if payload[:5] != b"JFIF\x00" or len(payload) < 14:
            return None
        return b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00"
    if marker == _APP2:  # the ICC colour profile stays; MPF (the index of appended images), FlashPix go
        return segment if payload.startswith(b"ICC_PROFILE\x00") else None
    return None if marker in _JPEG_DROP else segment


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
