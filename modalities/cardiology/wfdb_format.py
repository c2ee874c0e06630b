"""WFDB records (PhysioNet's header(5) and signal(5) formats): a .hea header and the .dat files it names.

Single-segment records; signal formats 8, 16, 24, 32, 61, 80, 160, 212, 310, 311; one sample per frame. The
.dat must be exactly as long as the header declares (samples x signals x bytes per sample of the format),
which is how a truncated or mismatched file is caught: a .dat has no magic number.

``wfdb.rdheader`` reads the header, with the specification's defaults (gain 0 means 200, the baseline is the
ADC zero, 250 Hz when no frequency is given). Its grammar skips what it cannot read rather than refusing it:
``100 2 abc 5000`` reads as 250 Hz and no length, ``abc/mV`` as a gain of 200 in the unit "abc/mV", ``16abc``
as format 16. An upload with such a field is refused instead, so the fields that set the numbers (the record
line's counts and frequency, each signal's format and gain) are checked as text first, with a message that
names the field.
"""

from __future__ import annotations

import math
import os
import re
import tempfile

from ..base import InputError
from .leads import TO_MV, EcgRecord, Lead, Source, named, text

# WFDB signal formats whose size follows from the header (FLAC-compressed 508/516/524 do not).
WFDB_FORMATS = {"8", "16", "24", "32", "61", "80", "160", "212", "310", "311"}
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2}
MAX_SIGNALS = 64

_RECORD_NAME = re.compile(r"^[-\w]+$")
_FREQUENCY = re.compile(r"^\d*\.?\d+")
_FORMAT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)?(?:\((?P<baseline>[-+]?\d+)\))?(?:/(?P<units>\S+))?$")


def _refuse(message: str):
    raise InputError({"files": f"The WFDB header is not valid: {message}."})


def parse_wfdb_header(content: str):
    """The header of a single-segment WFDB record as ``wfdb.Record`` (no signals), read by ``wfdb.rdheader``
    after the text checks above. Raises InputError with what is wrong, in terms a user can act on."""
    from wfdb.io.header import parse_header_content

    lines, _comments = parse_header_content(content)
    if not lines:
        _refuse("it has no record line")
    _check_record_line(lines[0].split())
    for index, line in enumerate(lines[1:], start=1):
        _check_signal_line(line.split(maxsplit=3), index)
    header = _read_header(content)
    _check_counts(header, signal_lines=len(lines) - 1)
    for index, (file_name, fmt) in enumerate(zip(header.file_name, header.fmt, strict=True), start=1):
        _check_signal(file_name, fmt, index)
    return header


def _read_header(content: str):
    import wfdb

    with tempfile.TemporaryDirectory(prefix="ecg-header-") as directory:
        with open(os.path.join(directory, "upload.hea"), "w", encoding="utf-8") as out:
            out.write(content)
        try:
            return wfdb.rdheader(os.path.join(directory, "upload"))
        except Exception as error:  # wfdb raises many types for malformed headers
            _refuse(f"wfdb could not read it ({error})")


def _check_record_line(fields: list[str]) -> None:
    name = fields[0]
    if "/" in name:
        raise InputError({"files": "Multi-segment WFDB records are not supported: upload a single-segment record."})
    if not _RECORD_NAME.match(name):
        _refuse(f"'{name[:40]}' is not a record name")
    if len(fields) < 2:
        _refuse("the record line must give the record name and the number of signals")
    if not fields[1].isdigit():
        _refuse(f"the number of signals '{fields[1][:20]}' is not a whole number")
    if len(fields) > 2 and not _FREQUENCY.match(fields[2]):
        _refuse(f"the sampling frequency '{fields[2][:20]}' is not a number")
    if len(fields) < 4 or not fields[3].isdigit():
        _refuse("the record line does not give the number of samples per signal")


def _check_signal_line(fields: list[str], index: int) -> None:
    if len(fields) < 2:
        _refuse(f"signal line {index} must give at least a file name and a format")
    spec = _FORMAT.match(fields[1])
    if not spec:
        _refuse(f"signal {index} has the format '{fields[1][:20]}', which is not a WFDB format")
    if spec.group("spf") not in (None, "1") or spec.group("skew") not in (None, "0"):
        raise InputError({"files": "WFDB records with several samples per frame or skew are not supported."})
    if len(fields) > 2 and not _GAIN.match(fields[2]):
        _refuse(f"signal {index} has the gain '{fields[2][:30]}', which is not a number")


def _check_counts(header, *, signal_lines: int) -> None:
    if not 1 <= header.n_sig <= MAX_SIGNALS:
        _refuse(f"{header.n_sig} signals is not a plausible ECG record (1 to {MAX_SIGNALS})")
    if signal_lines != header.n_sig:
        _refuse(f"the record line declares {header.n_sig} signals but {signal_lines} signal lines follow")
    if header.fs <= 0:
        _refuse("the sampling frequency is zero")
    if header.sig_len == 0:
        _refuse("the record declares 0 samples")


def _check_signal(file_name: str, fmt: str, index: int) -> None:
    if file_name in ("~", "-") or "/" in file_name or "\\" in file_name:
        _refuse(f"signal {index} does not name a signal file")
    if fmt not in WFDB_FORMATS:
        supported = ", ".join(sorted(WFDB_FORMATS, key=int))
        raise InputError({"files": f"WFDB format {fmt} is not supported here (supported: {supported})."})


def wfdb_bytes_needed(fmt: str, total_samples: int) -> int:
    """Bytes that ``total_samples`` samples occupy in a WFDB signal file of format ``fmt`` (signal(5))."""
    if fmt == "212":  # two 12-bit samples in three bytes
        return math.ceil(total_samples * 3 / 2)
    if fmt in ("310", "311"):  # three 10-bit samples in four bytes
        return math.ceil(total_samples * 4 / 3)
    return total_samples * _BYTES_PER_SAMPLE[fmt]


def _signal_sources(header, signal_sources: list[Source]) -> dict[str, Source]:
    """The uploaded signal files by the names the header gives them; refuses a missing, doubled or extra file."""
    by_name = {}
    for source in signal_sources:
        key = source.name.lower()
        if key in by_name:
            raise InputError({"files": f"{source.name} was uploaded twice."})
        by_name[key] = source
    matched = {}
    for file_name in dict.fromkeys(header.file_name):
        source = by_name.pop(file_name.lower(), None)
        if source is None:
            raise InputError(
                {
                    "files": f"The header of record {header.record_name} names the signal file {file_name}, "
                    "which was not uploaded with it."
                }
            )
        matched[file_name] = source
    if by_name:
        extra = ", ".join(s.name for s in by_name.values())
        raise InputError(
            {"files": f"{extra}: not a signal file of record {header.record_name} (its header does not name it)."}
        )
    return matched


def _check_size(header, file_name: str, source: Source) -> None:
    """A signal file must be exactly as long as the header says: a .dat has no magic number to check."""
    signals = [index for index, name in enumerate(header.file_name) if name == file_name]
    formats = {header.fmt[index] for index in signals}
    if len(formats) > 1:
        raise InputError({"files": f"{file_name}: signals of different formats in one file are not supported."})
    fmt, offset = formats.pop(), header.byte_offset[signals[0]] or 0
    needed = offset + wfdb_bytes_needed(fmt, header.sig_len * len(signals))
    size = len(source.data)
    declared = (
        f"the header declares {header.sig_len:,} samples x {len(signals)} signal(s) in format {fmt}"
        f"{f' after {offset} bytes' if offset else ''} = {needed:,} bytes"
    )
    if size < needed:
        raise InputError({"files": f"{source.name} is truncated: {declared}, the file has {size:,} bytes."})
    # Formats 310/311 may pad the last group of three samples to a whole 32-bit word.
    slack = 3 if fmt in ("310", "311") else 0
    if size > needed + slack:
        raise InputError(
            {"files": f"{source.name} does not match its header: {declared}, the file has {size:,} bytes."}
        )


def check_wfdb(sources: list[Source]):
    """Read the header and check that every signal file it names is there, at exactly the right size."""
    header_source, signal_sources = sources[0], sources[1:]
    text_content = text(header_source.data)
    if text_content is None:
        raise InputError({"files": f"{header_source.name}: the WFDB header is not text."})
    header = parse_wfdb_header(text_content)
    for file_name, source in _signal_sources(header, signal_sources).items():
        _check_size(header, file_name, source)
    return header


def read_wfdb(sources: list[Source]) -> EcgRecord:
    import numpy as np
    import wfdb

    header = check_wfdb(sources)
    with tempfile.TemporaryDirectory(prefix="ecg-") as directory:
        with open(os.path.join(directory, f"{header.record_name}.hea"), "wb") as out:
            out.write(sources[0].data)
        by_name = {s.name.lower(): s for s in sources[1:]}
        for file_name in set(header.file_name):
            with open(os.path.join(directory, file_name), "wb") as out:
                out.write(by_name[file_name.lower()].data)
        try:
            record = wfdb.rdrecord(os.path.join(directory, header.record_name), physical=True)
        except Exception as error:  # wfdb raises many types for malformed records
            raise InputError({"files": f"The WFDB record could not be read: {error}"}) from None
    leads, ignored = [], []
    for index in range(record.n_sig):
        label = record.sig_name[index] if record.sig_name else ""
        units = record.units[index] if record.units else "mV"
        scale = TO_MV.get(units.lower())
        if scale is None:
            ignored.append(f"{label or f'signal {index + 1}'} ({units})")
            continue
        if not label:
            raise InputError({"files": f"Signal {index + 1} of the WFDB record has no lead name in its header."})
        leads.append(Lead(label, np.asarray(record.p_signal[:, index], dtype=float) * scale, float(record.fs)))
    return EcgRecord("WFDB", named(leads), ignored)
