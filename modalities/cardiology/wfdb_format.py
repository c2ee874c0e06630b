"""WFDB records (PhysioNet's header(5) and signal(5) formats): a .hea header and the .dat files it names.

Single-segment records; signal formats 8, 16, 24, 32, 61, 80, 160, 212, 310, 311; one sample per frame. The
.dat must be exactly as long as the header declares (samples x signals x bytes per sample of the format),
which is how a truncated or mismatched file is caught: a .dat has no magic number.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass

from ..base import InputError
from .leads import TO_MV, EcgRecord, Lead, Source, named, text

# WFDB signal formats whose size follows from the header (FLAC-compressed 508/516/524 do not).
WFDB_FORMATS = {"8", "16", "24", "32", "61", "80", "160", "212", "310", "311"}
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2}


@dataclass
class WfdbSignal:
    file_name: str
    fmt: str
    gain: float
    baseline: int
    units: str
    byte_offset: int
    description: str


@dataclass
class WfdbHeader:
    record_name: str
    n_signals: int
    sampling_rate: float
    n_samples: int
    signals: list[WfdbSignal]


_RECORD_NAME = re.compile(r"^[-\w]+$")
_FORMAT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)?(?:\((?P<baseline>[-+]?\d+)\))?(?:/(?P<units>\S+))?$")


def _refuse(message: str):
    raise InputError({"files": f"The WFDB header is not valid: {message}."})


def parse_wfdb_header(text: str) -> WfdbHeader:
    """Parse the header of a single-segment WFDB record (PhysioNet's header(5) format), strictly.

    Raises InputError with what is wrong, in terms a user can act on.
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        _refuse("it has no record line")
    name, n_signals, sampling_rate, n_samples = _record_line(lines[0].split())
    signal_lines = lines[1:]
    if len(signal_lines) < n_signals:
        _refuse(f"the record line declares {n_signals} signals but {len(signal_lines)} signal lines follow")
    signals = [_signal_line(line, index) for index, line in enumerate(signal_lines[:n_signals], start=1)]
    return WfdbHeader(name, n_signals, sampling_rate, n_samples, signals)


def _record_line(record: list[str]) -> tuple[str, int, float, int]:
    if len(record) < 2:
        _refuse("the record line must give the record name and the number of signals")
    name = record[0]
    if "/" in name:
        raise InputError({"files": "Multi-segment WFDB records are not supported: upload a single-segment record."})
    if not _RECORD_NAME.match(name):
        _refuse(f"'{name[:40]}' is not a record name")
    try:
        n_signals = int(record[1])
    except ValueError:
        _refuse(f"the number of signals '{record[1][:20]}' is not a whole number")
    if not 1 <= n_signals <= 64:
        _refuse(f"{n_signals} signals is not a plausible ECG record (1 to 64)")
    sampling_rate = 250.0  # the WFDB default when the field is absent
    if len(record) > 2:
        match = re.match(r"^(\d*\.?\d+)", record[2])
        if not match:
            _refuse(f"the sampling frequency '{record[2][:20]}' is not a number")
        sampling_rate = float(match.group(1))
        if sampling_rate <= 0:
            _refuse("the sampling frequency is zero")
    if len(record) < 4 or not record[3].isdigit():
        _refuse("the record line does not give the number of samples per signal")
    n_samples = int(record[3])
    if n_samples == 0:
        _refuse("the record declares 0 samples")
    return name, n_signals, sampling_rate, n_samples


def _signal_line(line: str, index: int) -> WfdbSignal:
    parts = line.split(maxsplit=8)
    if len(parts) < 2:
        _refuse(f"signal line {index} must give at least a file name and a format")
    file_name = parts[0]
    if file_name in ("~", "-") or "/" in file_name or "\\" in file_name:
        _refuse(f"signal {index} does not name a signal file")
    spec = _FORMAT.match(parts[1])
    if not spec:
        _refuse(f"signal {index} has the format '{parts[1][:20]}', which is not a WFDB format")
    fmt = spec.group("fmt")
    if fmt not in WFDB_FORMATS:
        supported = ", ".join(sorted(WFDB_FORMATS, key=int))
        raise InputError({"files": f"WFDB format {fmt} is not supported here (supported: {supported})."})
    if spec.group("spf") not in (None, "1") or spec.group("skew") not in (None, "0"):
        raise InputError({"files": "WFDB records with several samples per frame or skew are not supported."})
    gain, baseline, units = 200.0, 0, "mV"
    if len(parts) > 2:
        g = _GAIN.match(parts[2])
        if not g:
            _refuse(f"signal {index} has the gain '{parts[2][:30]}', which is not a number")
        gain = float(g.group("gain")) if g.group("gain") else 200.0
        gain = gain or 200.0  # 0 means the default, per the WFDB specification
        units = g.group("units") or "mV"
        adc_zero = int(parts[4]) if len(parts) > 4 and re.match(r"^[-+]?\d+$", parts[4]) else 0
        baseline = int(g.group("baseline")) if g.group("baseline") else adc_zero
    return WfdbSignal(
        file_name=file_name,
        fmt=fmt,
        gain=gain,
        baseline=baseline,
        units=units,
        byte_offset=int(spec.group("offset") or 0),
        description=parts[8].strip() if len(parts) > 8 else "",
    )


def wfdb_bytes_needed(fmt: str, total_samples: int) -> int:
    """Bytes that ``total_samples`` samples occupy in a WFDB signal file of format ``fmt`` (signal(5))."""
    if fmt == "212":  # two 12-bit samples in three bytes
        return math.ceil(total_samples * 3 / 2)
    if fmt in ("310", "311"):  # three 10-bit samples in four bytes
        return math.ceil(total_samples * 4 / 3)
    return total_samples * _BYTES_PER_SAMPLE[fmt]


def check_wfdb(sources: list[Source]) -> WfdbHeader:
    """Parse the header and check that every signal file it names is there, at exactly the right size."""
    header_source, signal_sources = sources[0], sources[1:]
    text_content = text(header_source.data)
    if text_content is None:
        raise InputError({"files": f"{header_source.name}: the WFDB header is not text."})
    header = parse_wfdb_header(text_content)
    by_name = {}
    for source in signal_sources:
        key = source.name.lower()
        if key in by_name:
            raise InputError({"files": f"{source.name} was uploaded twice."})
        by_name[key] = source
    files: dict[str, list[WfdbSignal]] = {}
    for signal in header.signals:
        files.setdefault(signal.file_name, []).append(signal)
    for file_name, signals in files.items():
        source = by_name.pop(file_name.lower(), None)
        if source is None:
            raise InputError(
                {
                    "files": f"The header of record {header.record_name} names the signal file {file_name}, "
                    "which was not uploaded with it."
                }
            )
        if len({s.fmt for s in signals}) > 1:
            raise InputError({"files": f"{file_name}: signals of different formats in one file are not supported."})
        fmt, offset = signals[0].fmt, signals[0].byte_offset
        needed = offset + wfdb_bytes_needed(fmt, header.n_samples * len(signals))
        size = len(source.data)
        declared = (
            f"the header declares {header.n_samples:,} samples x {len(signals)} signal(s) in format {fmt}"
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
    if by_name:
        extra = ", ".join(s.name for s in by_name.values())
        raise InputError(
            {"files": f"{extra}: not a signal file of record {header.record_name} (its header does not name it)."}
        )
    return header


def read_wfdb(sources: list[Source]) -> EcgRecord:
    import numpy as np
    import wfdb

    header = check_wfdb(sources)
    with tempfile.TemporaryDirectory(prefix="ecg-") as directory:
        with open(os.path.join(directory, f"{header.record_name}.hea"), "wb") as out:
            out.write(sources[0].data)
        by_name = {s.name.lower(): s for s in sources[1:]}
        for file_name in {s.file_name for s in header.signals}:
            with open(os.path.join(directory, file_name), "wb") as out:
                out.write(by_name[file_name.lower()].data)
        try:
            record = wfdb.rdrecord(os.path.join(directory, header.record_name), physical=True)
        except Exception as error:  # wfdb raises many types for malformed records
            raise InputError({"files": f"The WFDB record could not be read: {error}"}) from None
    leads, ignored = [], []
    for index, signal in enumerate(header.signals):
        label = (record.sig_name[index] if record.sig_name else "") or signal.description
        scale = TO_MV.get((record.units[index] if record.units else signal.units).lower())
        if scale is None:
            ignored.append(f"{label or f'signal {index + 1}'} ({signal.units})")
            continue
        if not label:
            raise InputError({"files": f"Signal {index + 1} of the WFDB record has no lead name in its header."})
        leads.append(Lead(label, np.asarray(record.p_signal[:, index], dtype=float) * scale, float(record.fs)))
    return EcgRecord("WFDB", named(leads), ignored)
