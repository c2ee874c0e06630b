"""Reading a recording: decode WAV, FLAC, OGG or MP3 block by block, and refuse what cannot be analysed.

Every refusal is an ``AudioRejected`` whose message a clinician can read; at upload it becomes a 400, in the
worker a failed assessment. The worker keeps the samples at the recording's own rate (the harmonics-to-noise
ratio is measured there: resampling to a lower rate removes the noise above the new Nyquist frequency and reads
HNR several dB high) and analyses pitch, pulses and intensity at 16 kHz at most (Praat's waveform matching
interpolates between samples, so period and amplitude precision are not tied to the sample interval, and the
analysis time stays within budget). The upload check keeps only a preview decimated to 8-16 kHz, filtered and
decimated block by block, so a long upload is never held in memory whole.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import IO, Any

# libmagic's names for the accepted formats differ between versions (audio/x-wav vs audio/wav, audio/x-flac
# vs audio/flac, application/ogg for older Ogg detection); the decoder decides in the end.
ACCEPTED_TYPES = {
    "audio/x-wav": "wav",
    "audio/wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "application/ogg": "ogg",
    "audio/mpeg": "mp3",
}

MIN_SAMPLE_RATE = 8000  # telephone band: F0 and its low harmonics are kept; lower rates lose HNR's harmonics
ANALYSIS_RATE = 16000  # pitch, pulses, intensity (see the module docstring)
PREVIEW_MIN_RATE = 8000  # the upload check's preview: harmonics of a 600 Hz voice up to its 5th stay below 4 kHz
MIN_DURATION_S = 1.0  # a second holds 75+ periods at the lowest F0 analysed: enough for jitter and shimmer
MAX_DURATION_S = 300.0  # five minutes: keeps one analysis within the worker's deadline
# Encoders pad a few frames (an MP3 or OGG made as exactly 5 minutes decodes a few tens of ms longer): a
# second of slack so such a recording is not refused, and no more, so the message's limit is the real one.
DURATION_SLACK_S = 1.0
# Peak level below which a recording holds nothing audible (16-bit audio at -60 dBFS uses its lowest 5 bits).
SILENT_PEAK_DBFS = -60.0
# A sample this close to full scale is taken as clipped; more than 0.1 % of them marks the recording clipped
# (a normalised, unclipped recording touches full scale on a handful of samples at most).
CLIP_LEVEL = 0.99
CLIPPED_FRACTION = 0.001
# A WAV/FLAC/MP3 whose decodable audio falls short of its declared length by more than this is truncated.
TRUNCATION_TOLERANCE = 0.02
BLOCK_FRAMES = 65536


class AudioRejected(ValueError):
    """The file is not a recording this analysis can use; the message says why, for the clinician."""


@dataclass
class Recording:
    original_rate: int
    channels: int
    duration: float
    peak_dbfs: float
    clipped_fraction: float
    format: str
    frames: int = 0  # decoded sample frames
    native: Any = None  # numpy float32, mono, at ``original_rate`` (kept for the analysis)
    preview: Any = None  # numpy float32, mono, at ``preview_rate`` (kept for the upload check)
    preview_rate: float = 0.0

    @property
    def clipped(self) -> bool:
        return self.clipped_fraction > CLIPPED_FRACTION

    def analysis_samples(self) -> tuple[Any, int]:
        """The mono samples as float64 at ``ANALYSIS_RATE`` at most (anti-aliased polyphase resampling)."""
        import numpy as np

        samples = np.asarray(self.native, dtype=np.float64)
        if self.original_rate <= ANALYSIS_RATE:
            return samples, self.original_rate
        from scipy.signal import resample_poly

        divisor = math.gcd(self.original_rate, ANALYSIS_RATE)
        return resample_poly(samples, ANALYSIS_RATE // divisor, self.original_rate // divisor), ANALYSIS_RATE


class _Decimator:
    """Low-pass (8th-order Butterworth at 80 % of the new Nyquist frequency) and keep every ``factor``-th sample,
    carrying the filter state and the sample phase across blocks, so the preview is the same as if the whole
    recording had been decimated at once."""

    def __init__(self, rate: int):
        from scipy.signal import butter, sosfilt_zi

        self.factor = max(1, rate // PREVIEW_MIN_RATE)
        self.rate = rate / self.factor
        self.sos = butter(8, 0.8 / self.factor, output="sos") if self.factor > 1 else None
        self.state = sosfilt_zi(self.sos) * 0.0 if self.sos is not None else None
        self.phase = 0
        self.blocks: list = []

    def add(self, mono) -> None:
        if self.sos is None:
            self.blocks.append(mono.copy())
            return
        from scipy.signal import sosfilt

        filtered, self.state = sosfilt(self.sos, mono, zi=self.state)
        self.blocks.append(filtered[self.phase :: self.factor].astype("float32"))
        self.phase = (self.phase - len(mono)) % self.factor

    def samples(self):
        import numpy as np

        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, dtype=np.float32)


@dataclass
class _Decoded:
    rate: int
    channels: int
    declared: int
    decoded: int
    peak: float
    clipped: int
    file_format: str
    blocks: list
    preview: _Decimator | None


def read_recording(fileobj: IO[bytes], *, keep_samples: bool = True) -> Recording:
    """Decode and check a recording. Raises AudioRejected with a reason a clinician can read.

    ``keep_samples=True`` (the worker) keeps the mono samples at their own rate; ``False`` (the upload check)
    keeps only the decimated preview.
    """
    import numpy as np

    decoded = _decode(fileobj, keep_samples=keep_samples)
    _check_complete(fileobj, decoded)
    rate = decoded.rate
    duration = decoded.decoded / rate
    if duration < MIN_DURATION_S:
        raise AudioRejected(
            f"the recording is {duration:.2f} s long; this analysis needs at least {MIN_DURATION_S:.0f} s."
        )
    peak_dbfs = 20 * math.log10(decoded.peak) if decoded.peak > 0 else -math.inf
    if peak_dbfs < SILENT_PEAK_DBFS:
        level = "digital silence" if decoded.peak == 0 else f"peak level {peak_dbfs:.0f} dBFS"
        raise AudioRejected(
            f"the recording is silent ({level}; below {SILENT_PEAK_DBFS:.0f} dBFS nothing audible was recorded)."
        )
    return Recording(
        original_rate=rate,
        channels=decoded.channels,
        duration=duration,
        peak_dbfs=peak_dbfs,
        clipped_fraction=decoded.clipped / max(decoded.decoded * decoded.channels, 1),
        format=decoded.file_format,
        frames=decoded.decoded,
        native=np.concatenate(decoded.blocks) if keep_samples else None,
        preview=None if keep_samples else decoded.preview.samples(),
        preview_rate=0.0 if keep_samples else decoded.preview.rate,
    )


def _decode(fileobj: IO[bytes], *, keep_samples: bool) -> _Decoded:
    import soundfile

    fileobj.seek(0)
    try:
        audio = soundfile.SoundFile(fileobj)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        raise AudioRejected("the audio cannot be decoded (not a readable WAV, FLAC, OGG or MP3 recording).") from None
    with audio:
        rate, channels, declared = audio.samplerate, audio.channels, audio.frames
        if rate < MIN_SAMPLE_RATE:
            raise AudioRejected(f"sampling rate {rate} Hz is below the {MIN_SAMPLE_RATE} Hz this analysis needs.")
        if declared > 0 and declared / rate > MAX_DURATION_S + DURATION_SLACK_S:
            raise AudioRejected(
                f"the recording is {declared / rate:.0f} s long; this analysis takes at most {MAX_DURATION_S:.0f} s."
            )
        result = _Decoded(
            rate, channels, declared, 0, 0.0, 0, audio.format, [], None if keep_samples else _Decimator(rate)
        )
        try:
            _read_blocks(audio, result)
        except (soundfile.LibsndfileError, RuntimeError):
            raise AudioRejected("the audio data is corrupt or truncated: it cannot be decoded to the end.") from None
    return result


def _read_blocks(audio, result: _Decoded) -> None:
    import numpy as np

    while True:
        block = audio.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
        if not len(block):
            return
        result.decoded += len(block)
        magnitude = np.abs(block)
        result.peak = max(result.peak, float(magnitude.max()))
        # Per channel, before mixing: a channel clips on its own.
        result.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
        mono = block.mean(axis=1)  # mono as it comes: 5 min at 48 kHz stays under 60 MB
        if result.preview is None:
            result.blocks.append(mono)
        else:
            result.preview.add(mono)
        if result.decoded / result.rate > MAX_DURATION_S + DURATION_SLACK_S:
            raise AudioRejected(f"the recording is longer than the {MAX_DURATION_S:.0f} s this analysis takes.")


def decoded_length(fileobj: IO[bytes]) -> tuple[int, int, int]:
    """(sampling rate, channels, frames) by decoding the whole file block by block, keeping nothing."""
    import soundfile

    fileobj.seek(0)
    try:
        with soundfile.SoundFile(fileobj) as audio:
            frames = 0
            while True:
                block = audio.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if not len(block):
                    return audio.samplerate, audio.channels, frames
                frames += len(block)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        raise AudioRejected("the audio cannot be decoded.") from None
    finally:
        fileobj.seek(0)


def _check_complete(fileobj: IO[bytes], decoded: _Decoded) -> None:
    rate, declared = decoded.rate, decoded.declared
    if declared > 0 and decoded.decoded < declared * (1 - TRUNCATION_TOLERANCE):
        raise AudioRejected(
            f"the file is truncated: it declares {declared / rate:.1f} s of audio but only "
            f"{decoded.decoded / rate:.1f} s can be decoded."
        )
    if decoded.file_format == "WAV":
        declared_end = _wav_declared_end(fileobj)
        size = _size(fileobj)
        if declared_end is not None and size < declared_end * (1 - TRUNCATION_TOLERANCE):
            raise AudioRejected(
                f"the file is truncated: its header declares {declared_end:,} bytes but the file holds {size:,}."
            )
    fileobj.seek(0)


def _wav_declared_end(fileobj: IO[bytes]) -> int | None:
    """Where a RIFF/WAVE file's data chunk says it ends (bytes), or None when unknown. libsndfile silently
    shortens a truncated WAV to the bytes present, so truncation is read from the header here."""
    fileobj.seek(0)
    head = fileobj.read(65536)
    fileobj.seek(0)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position = 12
    while position + 8 <= len(head):
        chunk, size = head[position : position + 4], int.from_bytes(head[position + 4 : position + 8], "little")
        if chunk == b"data":
            # Writers that stream (espeak-ng --stdout, sox to a pipe) cannot know the length and write 0 or a
            # placeholder near 2 or 4 GiB; no complete recording we accept comes near that size.
            if size == 0 or size >= 0x7F000000:
                return None
            return position + 8 + size
        position += 8 + size + (size & 1)
    return None


def _size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size
