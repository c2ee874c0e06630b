"""No identifiers in a stored recording: what names the patient is cut out before storage, the audio is not
touched (no re-encoding: the stored file decodes to the same samples).

* WAV (RIFF/WAVE): only the ``fmt `` and ``data`` chunks are kept, in that order; LIST/INFO (name, comment,
  date), bext (Broadcast WAV originator and description), iXML, id3/ID3, cue, smpl, _PMX (XMP) and any other
  chunk go, and so do bytes after the RIFF chunk (an ID3v1 tag appended by some tools).
* MP3: ID3v2 tags (however many are stacked at the start), the ID3v1 tag at the end and an APEv2 tag go.
* FLAC: only the STREAMINFO and SEEKTABLE metadata blocks are kept: VORBIS_COMMENT, PICTURE, APPLICATION and
  CUESHEET blocks go, and so do ID3 tags some tools put around a FLAC stream.
* Ogg (Vorbis, Opus, FLAC): the comment header is emptied (the encoder's vendor string stays; it names the
  encoder library, not the patient); pictures in Ogg are comments, so they go with them.
* Any other container libsndfile decodes (RF64, which libmagic calls WAV; RIFX, AIFF, CAF) is refused: its
  tags are not cleaned here.

mutagen (Quod Libet's tagging library) edits the compressed formats in place: it rewrites only the tag bytes
(and, for Ogg, the pages of the comment packet with their checksums), never the audio frames.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from typing import IO

from .decoding import AudioRejected

SPOOL_BYTES = 16 * 1024 * 1024  # beyond this the cleaned copy lives on disk, not in the web process's memory
COPY_BYTES = 1024 * 1024
KEPT_FLAC_BLOCKS = (0, 3)  # STREAMINFO, SEEKTABLE
UNREADABLE = "its tags cannot be read, so it cannot be stored without the risk of identifiers in them"


def clean(source: IO[bytes]) -> IO[bytes]:
    """A copy of ``source`` without metadata (a seekable temporary file at position 0). Raises AudioRejected
    for a file whose container cannot be cleaned."""
    source.seek(0)
    head = source.read(12)
    source.seek(0)
    output = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
    try:
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            _clean_wav(source, output)
        elif head[:4] in (b"OggS", b"fLaC") or head[:3] == b"ID3" or _mpeg_sync(head):
            shutil.copyfileobj(source, output, COPY_BYTES)
            output.seek(0)
            _clean_tagged(output, head)
        else:
            # RF64, RIFX, AIFF, CAF...: libsndfile decodes them, but their tags are not cleaned here.
            raise AudioRejected(
                "this container is not a standard WAV, FLAC, OGG or MP3 file, so its tags cannot be removed before "
                "storage; export the recording as one of those."
            )
    except BaseException:
        output.close()
        raise
    finally:
        source.seek(0)
    output.seek(0)
    return output


def _mpeg_sync(head: bytes) -> bool:
    """An MPEG audio frame header starts with 11 set bits."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


# --- WAV --------------------------------------------------------------------------------------------------------
def _chunks(source: IO[bytes], file_size: int):
    """(id, offset of the chunk's data, declared size) of each chunk inside the RIFF chunk."""
    source.seek(4)
    riff_size = struct.unpack("<I", source.read(4))[0]
    end = min(file_size, 8 + riff_size) if riff_size >= 4 else file_size
    position = 12
    while position + 8 <= end:
        source.seek(position)
        chunk, size = struct.unpack("<4sI", source.read(8))
        yield chunk, position + 8, size
        position += 8 + size + (size & 1)


def _clean_wav(source: IO[bytes], output: IO[bytes]) -> None:
    source.seek(0, 2)
    file_size = source.tell()
    fmt = data = None
    for chunk, offset, size in _chunks(source, file_size):
        if chunk == b"fmt " and fmt is None:
            source.seek(offset)
            fmt = source.read(size)
        elif chunk == b"data" and data is None:
            data = (offset, size)
    if fmt is None or data is None or len(fmt) < 16:
        raise AudioRejected("the WAV file has no format or no audio data chunk.")
    offset, size = data
    if size == 0 or offset + size > file_size:
        # Streaming writers (espeak-ng --stdout, sox to a pipe) leave the size at 0 or a placeholder: the audio
        # runs to the end of the file. Whole sample frames only (block align, bytes 12-13 of fmt).
        block_align = max(1, struct.unpack("<H", fmt[12:14])[0])
        size = (file_size - offset) // block_align * block_align
    riff_size = 4 + (8 + len(fmt) + (len(fmt) & 1)) + (8 + size + (size & 1))
    output.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE")
    output.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"\0" * (len(fmt) & 1))
    output.write(b"data" + struct.pack("<I", size))
    source.seek(offset)
    remaining = size
    while remaining:
        block = source.read(min(COPY_BYTES, remaining))
        if not block:
            raise AudioRejected("the WAV file is truncated: its audio data ends early.")
        output.write(block)
        remaining -= len(block)
    output.write(b"\0" * (size & 1))


# --- MP3, FLAC, Ogg -----------------------------------------------------------------------------------------------
def _clean_tagged(output: IO[bytes], head: bytes) -> None:
    import mutagen

    try:
        if head[:4] == b"OggS":
            _clean_ogg(output)
        elif head[:4] == b"fLaC" or _flac_after_id3(output):
            _clean_flac(output)
        else:
            _clean_mp3(output)
    except (mutagen.MutagenError, OSError, ValueError, struct.error):
        raise AudioRejected(f"the file is not a clean WAV, FLAC, OGG or MP3 container: {UNREADABLE}.") from None


def _flac_after_id3(output: IO[bytes]) -> bool:
    from mutagen.id3 import BitPaddedInt

    output.seek(0)
    header = output.read(10)
    if header[:3] != b"ID3" or len(header) < 10:
        return False
    output.seek(10 + int(BitPaddedInt(header[6:10])))
    found = output.read(4) == b"fLaC"
    output.seek(0)
    return found


def _clean_ogg(output: IO[bytes]) -> None:
    import mutagen.ogg
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    for kind in (OggVorbis, OggOpus, OggFLAC):
        output.seek(0)
        try:
            audio = kind(output)
        except mutagen.ogg.error:  # another codec: try the next
            continue
        output.seek(0)
        audio.delete(output)
        return
    raise AudioRejected(f"the Ogg stream is not Vorbis, Opus or FLAC: {UNREADABLE}.")


def _clean_flac(output: IO[bytes]) -> None:
    from mutagen.flac import FLAC

    audio = FLAC(output)
    audio.metadata_blocks = [block for block in audio.metadata_blocks if block.code in KEPT_FLAC_BLOCKS]
    audio.cuesheet = None
    output.seek(0)
    audio.save(output, deleteid3=True, padding=lambda info: 0)


def _clean_mp3(output: IO[bytes]) -> None:
    from mutagen import apev2, id3

    # Some tools stack ID3v2 tags; each delete removes the first.
    for _ in range(8):
        output.seek(0)
        if output.read(3) != b"ID3":
            break
        id3.delete(output, delete_v1=False, delete_v2=True)
    output.seek(0)
    id3.delete(output, delete_v1=True, delete_v2=False)
    output.seek(0)
    apev2.delete(output)
