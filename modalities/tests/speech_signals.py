"""Signals and files for the speech truth and identifier tests, made here and independently of
``modalities.speech.synthetic`` (and of the code under test: tags are written byte by byte from their
specifications, not with the library the analyzer cleans them with).

The voice is a Rosenberg (1971) glottal flow, differentiated (the excitation at the lips), repeated with a
period of a whole number of samples so the sampled signal is exactly periodic, and shaped by three formant
resonators of an /a/ (700, 1220 and 2600 Hz; Peterson & Barney 1952). Its harmonic energy is therefore the
energy of this periodic signal itself, and added white noise is the only aperiodic part: the true
harmonics-to-noise ratio is 10 log10(harmonic energy / noise energy), computed from the two arrays.
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np
import soundfile
from scipy.signal import lfilter

FORMANTS = ((700.0, 110.0), (1220.0, 120.0), (2600.0, 160.0))  # Hz, bandwidth Hz
SETTLE_S = 0.3  # the resonators' start-up, cut so only the steady periodic part remains

# What the identifier tests plant in every tag, and look for in the stored bytes.
NAME = "ZZTEST Alice Example"
MRN = "MRN-004242421"
BIRTH_DATE = "1957-03-14"
IDENTIFIERS = (NAME, MRN, BIRTH_DATE)


# --- signals -------------------------------------------------------------------------------------------------------
def glottal_vowel(f0: float, rate: int, seconds: float, *, amplitude: float = 0.3) -> np.ndarray:
    """A strictly periodic /a/-like vowel; ``rate / f0`` must be a whole number of samples."""
    period = rate / f0
    if abs(period - round(period)) > 1e-9:
        raise ValueError(f"{f0} Hz is not a whole number of samples at {rate} Hz")
    period = round(period)
    phase = np.arange(period) / period
    opening, closing = 0.4, 0.16  # of the period; the glottis is closed for the rest
    flow = np.where(
        phase < opening,
        0.5 * (1 - np.cos(np.pi * phase / opening)),
        np.where(phase < opening + closing, np.cos(np.pi * (phase - opening) / (2 * closing)), 0.0),
    )
    excitation = np.diff(flow, append=flow[:1])  # one period of the flow derivative, wrapping round
    cycles = math.ceil((seconds + SETTLE_S) * rate / period) + 1
    signal = np.tile(excitation, cycles)
    for frequency, bandwidth in FORMANTS:
        radius = math.exp(-math.pi * bandwidth / rate)
        theta = 2 * math.pi * frequency / rate
        signal = lfilter([1 - radius], [1, -2 * radius * math.cos(theta), radius * radius], signal)
    start = math.ceil(SETTLE_S * rate / period) * period  # whole periods, so the kept part stays periodic
    signal = signal[start : start + int(round(seconds * rate))]
    return amplitude * signal / np.abs(signal).max()


def white_noise(like: np.ndarray, ratio_db: float, seed: int) -> np.ndarray:
    """Gaussian white noise scaled so that energy(like) / energy(noise) is exactly ``ratio_db``."""
    noise = np.random.default_rng(seed).standard_normal(like.size)
    return noise * math.sqrt(np.sum(like**2) / np.sum(noise**2) / 10 ** (ratio_db / 10))


def energy_ratio_db(harmonic: np.ndarray, noise: np.ndarray) -> float:
    return 10 * math.log10(float(np.sum(harmonic**2)) / float(np.sum(noise**2)))


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)


def mains_hum(rate: int, seconds: float) -> np.ndarray:
    """50 Hz mains hum with the faint second and third harmonics (-26 and -32 dB) of a slightly saturated
    transformer."""
    return (
        tone(50, rate, seconds)
        + tone(100, rate, seconds, 0.3 * 10 ** (-26 / 20))
        + tone(150, rate, seconds, 0.3 * 10 ** (-32 / 20))
    )


def encoded(samples: np.ndarray, rate: int, file_format: str = "WAV", subtype: str = "FLOAT") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=file_format, subtype=subtype)
    return buffer.getvalue()


# --- files carrying identifiers ------------------------------------------------------------------------------------
def needles() -> list[bytes]:
    """Each identifier as it may be stored: UTF-8/Latin-1, and UTF-16 in both byte orders (ID3v2 text)."""
    return [text.encode(encoding) for text in IDENTIFIERS for encoding in ("utf-8", "utf-16-le", "utf-16-be")]


def found_identifiers(data: bytes) -> list[bytes]:
    return [needle for needle in needles() if needle in data]


def _riff_chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _id3v2(frames: dict[str, str]) -> bytes:
    """An ID3v2.3 tag of text frames, the first in UTF-16 with a byte order mark, the others in Latin-1."""
    body = b""
    for index, (frame_id, text) in enumerate(frames.items()):
        payload = (
            b"\x01" + "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
            if index == 0
            else b"\x00" + text.encode("latin-1")
        )
        body += frame_id.encode() + struct.pack(">I", len(payload)) + b"\0\0" + payload
    size = len(body)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + body


def _id3v1() -> bytes:
    def field(text: str, size: int) -> bytes:
        return text.encode("latin-1")[:size].ljust(size, b"\0")

    return b"TAG" + field(NAME, 30) + field(MRN, 30) + field("clinic", 30) + b"1957" + field(BIRTH_DATE, 30) + b"\xff"


def wav_with_identifiers(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV with LIST/INFO, bext (Broadcast WAV), iXML and id3 chunks, and an ID3v1 tag after the RIFF
    chunk (some taggers append one)."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, 2 * rate, 2, 16)
    info = b"INFO" + _riff_chunk(b"INAM", f"{NAME}\0".encode()) + _riff_chunk(b"ICMT", f"{MRN}\0".encode())
    info += _riff_chunk(b"ICRD", f"{BIRTH_DATE}\0".encode())
    bext = (
        NAME.encode().ljust(256, b"\0")  # Description
        + MRN.encode().ljust(32, b"\0")  # Originator
        + b"ref".ljust(32, b"\0")  # OriginatorReference
        + BIRTH_DATE.encode()  # OriginationDate (10 bytes)
        + b"09:30:00"  # OriginationTime
        + b"\0" * 8  # TimeReference
        + struct.pack("<H", 1)  # Version
        + b"\0" * 64  # UMID
        + b"\0" * 190  # reserved
        + f"A=PCM,F={rate},W=16,M=mono,T={NAME}\r\n".encode()  # CodingHistory
    )
    ixml = f"<BWFXML><PROJECT>{NAME}</PROJECT><NOTE>{MRN} born {BIRTH_DATE}</NOTE></BWFXML>".encode()
    chunks = (
        _riff_chunk(b"fmt ", fmt)
        + _riff_chunk(b"LIST", info)
        + _riff_chunk(b"bext", bext)
        + _riff_chunk(b"data", pcm)
        + _riff_chunk(b"iXML", ixml)
        + _riff_chunk(b"id3 ", _id3v2({"TIT2": NAME, "TPE1": MRN, "TIT3": BIRTH_DATE}))
    )
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks + _id3v1()


def mp3_with_identifiers(samples: np.ndarray, rate: int) -> bytes:
    """An MP3 stream between an ID3v2.3 tag (UTF-16 and Latin-1 text frames) and an ID3v1 tag."""
    stream = encoded(samples, rate, "MP3", "MPEG_LAYER_III")
    return _id3v2({"TIT2": NAME, "TPE1": MRN, "TYER": BIRTH_DATE[:4], "TIT3": BIRTH_DATE}) + stream + _id3v1()


def _flac_block(block_type: int, payload: bytes, last: bool) -> bytes:
    return bytes([(0x80 if last else 0) | block_type]) + len(payload).to_bytes(3, "big") + payload


def _vorbis_comment(comments: list[str]) -> bytes:
    vendor = b"test vendor"
    body = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    for comment in comments:
        encoded_comment = comment.encode()
        body += struct.pack("<I", len(encoded_comment)) + encoded_comment
    return body


def flac_with_identifiers(samples: np.ndarray, rate: int) -> bytes:
    """FLAC whose metadata blocks, after STREAMINFO, are a VORBIS_COMMENT and a PICTURE (whose description and
    image bytes carry the identifiers)."""
    stream = encoded(samples, rate, "FLAC", "PCM_16")
    assert stream[:4] == b"fLaC"
    position, blocks, last = 4, [], False
    while not last:
        header = stream[position]
        last, block_type = bool(header & 0x80), header & 0x7F
        length = int.from_bytes(stream[position + 1 : position + 4], "big")
        blocks.append((block_type, stream[position + 4 : position + 4 + length]))
        position += 4 + length
    audio = stream[position:]
    kept = [(t, p) for t, p in blocks if t not in (4, 6)]  # the encoder's own comments are replaced by ours
    comments = _vorbis_comment([f"TITLE={NAME}", f"ARTIST={MRN}", f"DATE={BIRTH_DATE}"])
    image = b"\x89PNG\r\n\x1a\n" + f"photo of {NAME}, {MRN}".encode()
    description = f"{NAME} {BIRTH_DATE}".encode()
    picture = (
        struct.pack(">II", 3, len(b"image/png"))
        + b"image/png"
        + struct.pack(">I", len(description))
        + description
        + struct.pack(">IIIII", 1, 1, 24, 0, len(image))
        + image
    )
    every = [*kept, (4, comments), (6, picture)]
    metadata = b"".join(_flac_block(t, p, index == len(every) - 1) for index, (t, p) in enumerate(every))
    return b"fLaC" + metadata + audio


def ogg_vorbis_with_identifiers(samples: np.ndarray, rate: int) -> bytes:
    """Ogg Vorbis whose comment header holds the identifiers (written by libsndfile's string metadata)."""
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", rate, 1, format="OGG", subtype="VORBIS") as audio:
        audio.title, audio.artist, audio.comment, audio.date = NAME, MRN, f"born {BIRTH_DATE}", BIRTH_DATE
        audio.write(samples)
    return buffer.getvalue()
