"""Reading an ECG upload: WFDB (.hea + .dat), EDF, CSV and JSON, into named leads in millivolts.

The same code runs at upload (``check_uploads``: refuse with a clear 400 before anything is stored) and in
the worker (``read_record``), so what is accepted is what can be analysed. Files are recognised by their
content (libmagic's type plus a look at the text), never by their names; names matter only where WFDB itself
uses them: a header names its signal files, and the uploaded ``.dat`` must carry that name.

What libmagic reports (checked with python-magic on files written by wfdb 4.3 and edfio 0.4):
    WFDB header (.hea)                       text/plain
    WFDB signal file (.dat)                  application/octet-stream (it has no magic number; about 1 in 120
                                             generated 16/212-format files is taken for another type, e.g.
                                             application/x-dosexec, and refused by the generic type check)
    EDF / EDF+                               biosig/edf
    CSV with the ``# sampling_rate_hz`` line text/plain (text/csv without it)
    JSON                                     application/json, or text/plain when its first 8 kB is one line

Formats:
    WFDB    single-segment records; signal formats 8, 16, 24, 32, 61, 80, 160, 212, 310, 311; one sample per
            frame. The .dat must be exactly as long as the header declares (samples x signals x bytes per
            sample of the format), which is how a truncated or mismatched file is caught: a .dat has no magic.
    EDF     EDF and EDF+ (edfio); signals in V, mV or uV are leads, other signals are ignored and listed.
    CSV     first line ``# sampling_rate_hz=500`` (optionally ``, units=uV``; default millivolts), then a
            header row of lead names, then one row per sample, comma-separated. The rate travels inside the
            file so a stored input always describes itself.
    JSON    ``{"sampling_rate_hz": 500, "units": "mV", "leads": {"II": [...], "V1": [...]}}``.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field

from ..base import AnalysisError, InputError

MIN_SAMPLING_RATE_HZ = 250
MIN_DURATION_S = 8.0
MAX_DURATION_S = 300.0
MAX_FILE_BYTES = 30_000_000
# A trace whose peak-to-peak amplitude is under 0.05 mV carries no QRS complex: limb-lead QRS voltage under
# 0.5 mV is already "low voltage", and this is a tenth of that.
FLAT_PEAK_TO_PEAK_MV = 0.05

WFDB_HEADER, WFDB_SIGNAL, EDF, CSV, JSON = "wfdb_header", "wfdb_signal", "edf", "csv", "json"
EXTENSIONS = {WFDB_HEADER: "hea", WFDB_SIGNAL: "dat", EDF: "edf", CSV: "csv", JSON: "json"}
FORMAT_LABELS = {WFDB_HEADER: "WFDB", EDF: "EDF", CSV: "CSV", JSON: "JSON"}

# libmagic type -> stored extension. prepare_files sets the precise extension once the content is known (a
# text/plain CSV is stored as .csv); "hea" for text/plain also puts .hea in the portal's file-picker filter.
ACCEPTED_TYPES = {
    "text/plain": "hea",
    "text/csv": "csv",
    "application/json": "json",
    "application/octet-stream": "dat",
    "biosig/edf": "edf",
}

# WFDB signal formats whose size follows from the header (FLAC-compressed 508/516/524 do not).
WFDB_FORMATS = {"8", "16", "24", "32", "61", "80", "160", "212", "310", "311"}
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2}
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


@dataclass
class Source:
    """One input file as both upload and worker see it: its display name, libmagic type and bytes."""

    name: str
    content_type: str
    data: bytes
    kind: str = ""


@dataclass
class Lead:
    label: str
    samples: object  # numpy array, millivolts
    sampling_rate: float

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sampling_rate


@dataclass
class EcgRecord:
    source_format: str
    leads: list[Lead]
    ignored: list[str] = field(default_factory=list)

    def rhythm_lead(self) -> tuple[Lead, str]:
        """Lead II when present (the conventional rhythm lead, and the lead in which intervals are usually
        measured), else the first lead."""
        for wanted in ("II", "MLII"):
            for lead in self.leads:
                if canonical_lead(lead.label) == wanted:
                    return lead, f"lead II (labelled '{lead.label}')"
        first = self.leads[0]
        return first, f"no lead II in the record: the first lead, '{first.label}', was analysed"


def canonical_lead(label: str) -> str:
    """'Lead II (Einthoven)', 'ECG II', 'ii' -> 'II'; 'MLII' (modified lead II) stays 'MLII'."""
    text = re.sub(r"\(.*?\)", "", label).strip()
    text = re.sub(r"^(lead|ecg|ekg)[\s_:-]*", "", text, flags=re.IGNORECASE)
    return text.strip().upper()


# --- recognising files -------------------------------------------------------------------------------------
def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def classify(source: Source) -> str:
    if source.content_type == "biosig/edf":
        return EDF
    if source.content_type == "application/json":
        return JSON
    if source.content_type == "application/octet-stream":
        return WFDB_SIGNAL
    text = _text(source.data[:65536])
    if text is None:
        # A binary signal file whose first bytes happen to read as text to libmagic.
        return WFDB_SIGNAL
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return JSON
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    if source.content_type == "text/csv" or (lines and "sampling_rate_hz" in lines[0]):
        return CSV
    data_lines = [line for line in lines if not line.startswith("#")]
    if data_lines and "," in data_lines[0]:
        return CSV
    # A single-column CSV: rows of plain numbers (a WFDB signal line always has a file name and a format).
    if len(data_lines) > 1 and all(_is_number(line) for line in data_lines[1:6]):
        return CSV
    return WFDB_HEADER


def group(sources: list[Source]) -> tuple[str, list[Source]]:
    """Decide what was uploaded: one WFDB record (header + its signal files), one EDF, one CSV or one JSON."""
    for source in sources:
        source.kind = classify(source)
    headers = [s for s in sources if s.kind == WFDB_HEADER]
    signals = [s for s in sources if s.kind == WFDB_SIGNAL]
    others = [s for s in sources if s.kind not in (WFDB_HEADER, WFDB_SIGNAL)]
    if others:
        if len(sources) > 1:
            names = ", ".join(s.name for s in sources)
            raise InputError(
                {"files": f"Upload one ECG: a WFDB record (.hea with its .dat) or one EDF, CSV or JSON file ({names})."}
            )
        return others[0].kind, others
    if not headers:
        names = ", ".join(s.name for s in signals)
        raise InputError(
            {"files": f"{names}: a WFDB signal file needs its header (.hea) uploaded with it; none was found."}
        )
    if len(headers) > 1:
        raise InputError({"files": "Upload one WFDB record at a time: several headers (.hea) were found."})
    # Whether the header's signal files are all here is checked once the header is parsed (it names them).
    return WFDB_HEADER, [headers[0], *signals]


# --- WFDB ----------------------------------------------------------------------------------------------------
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


def parse_wfdb_header(text: str) -> WfdbHeader:
    """Parse the header of a single-segment WFDB record (PhysioNet's header(5) format), strictly.

    Raises InputError with what is wrong, in terms a user can act on.
    """

    def refuse(message: str):
        raise InputError({"files": f"The WFDB header is not valid: {message}."})

    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        refuse("it has no record line")
    record = lines[0].split()
    if len(record) < 2:
        refuse("the record line must give the record name and the number of signals")
    name = record[0]
    if "/" in name:
        raise InputError({"files": "Multi-segment WFDB records are not supported: upload a single-segment record."})
    if not _RECORD_NAME.match(name):
        refuse(f"'{name[:40]}' is not a record name")
    try:
        n_signals = int(record[1])
    except ValueError:
        refuse(f"the number of signals '{record[1][:20]}' is not a whole number")
    if not 1 <= n_signals <= 64:
        refuse(f"{n_signals} signals is not a plausible ECG record (1 to 64)")
    sampling_rate = 250.0  # the WFDB default when the field is absent
    if len(record) > 2:
        match = re.match(r"^(\d*\.?\d+)", record[2])
        if not match:
            refuse(f"the sampling frequency '{record[2][:20]}' is not a number")
        sampling_rate = float(match.group(1))
        if sampling_rate <= 0:
            refuse("the sampling frequency is zero")
    if len(record) < 4 or not record[3].isdigit():
        refuse("the record line does not give the number of samples per signal")
    n_samples = int(record[3])
    if n_samples == 0:
        refuse("the record declares 0 samples")
    signal_lines = lines[1:]
    if len(signal_lines) < n_signals:
        refuse(f"the record line declares {n_signals} signals but {len(signal_lines)} signal lines follow")
    signals = []
    for index, line in enumerate(signal_lines[:n_signals], start=1):
        parts = line.split(maxsplit=8)
        if len(parts) < 2:
            refuse(f"signal line {index} must give at least a file name and a format")
        file_name = parts[0]
        if file_name in ("~", "-") or "/" in file_name or "\\" in file_name:
            refuse(f"signal {index} does not name a signal file")
        spec = _FORMAT.match(parts[1])
        if not spec:
            refuse(f"signal {index} has the format '{parts[1][:20]}', which is not a WFDB format")
        fmt = spec.group("fmt")
        if fmt not in WFDB_FORMATS:
            raise InputError(
                {
                    "files": f"WFDB format {fmt} is not supported here "
                    f"(supported: {', '.join(sorted(WFDB_FORMATS, key=int))})."
                }
            )
        if spec.group("spf") not in (None, "1") or spec.group("skew") not in (None, "0"):
            raise InputError({"files": "WFDB records with several samples per frame or skew are not supported."})
        gain, baseline, units = 200.0, 0, "mV"
        if len(parts) > 2:
            g = _GAIN.match(parts[2])
            if not g:
                refuse(f"signal {index} has the gain '{parts[2][:30]}', which is not a number")
            gain = float(g.group("gain")) if g.group("gain") else 200.0
            gain = gain or 200.0  # 0 means the default, per the WFDB specification
            units = g.group("units") or "mV"
            adc_zero = int(parts[4]) if len(parts) > 4 and re.match(r"^[-+]?\d+$", parts[4]) else 0
            baseline = int(g.group("baseline")) if g.group("baseline") else adc_zero
        description = parts[8].strip() if len(parts) > 8 else ""
        signals.append(
            WfdbSignal(
                file_name=file_name,
                fmt=fmt,
                gain=gain,
                baseline=baseline,
                units=units,
                byte_offset=int(spec.group("offset") or 0),
                description=description,
            )
        )
    return WfdbHeader(name, n_signals, sampling_rate, n_samples, signals)


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
    text = _text(header_source.data)
    if text is None:
        raise InputError({"files": f"{header_source.name}: the WFDB header is not text."})
    header = parse_wfdb_header(text)
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
        scale = _TO_MV.get((record.units[index] if record.units else signal.units).lower())
        if scale is None:
            ignored.append(f"{label or f'signal {index + 1}'} ({signal.units})")
            continue
        if not label:
            raise InputError({"files": f"Signal {index + 1} of the WFDB record has no lead name in its header."})
        leads.append(Lead(label, np.asarray(record.p_signal[:, index], dtype=float) * scale, float(record.fs)))
    return EcgRecord("WFDB", _named(leads), ignored)


# --- EDF -----------------------------------------------------------------------------------------------------
def _check_edf_size(data: bytes) -> None:
    """EDF's fixed header says how many data records follow and how many samples each signal has in one: a
    file shorter than that is truncated (edfio would quietly read the part that is there)."""
    try:
        header_bytes = int(data[184:192].decode("ascii").strip())
        n_records = int(data[236:244].decode("ascii").strip())
        n_signals = int(data[252:256].decode("ascii").strip())
        start = 256 + n_signals * 216
        per_record = sum(
            int(data[start + 8 * i : start + 8 * (i + 1)].decode("ascii").strip()) for i in range(n_signals)
        )
    except (ValueError, UnicodeDecodeError):
        raise InputError({"files": "The EDF header is corrupt (its size fields are not numbers)."}) from None
    body = len(data) - header_bytes
    record_bytes = 2 * per_record
    if record_bytes <= 0 or body < 0:
        raise InputError({"files": "The EDF header is corrupt (it declares no samples)."})
    if n_records >= 0 and body < n_records * record_bytes:
        raise InputError(
            {
                "files": f"The EDF file is truncated: its header declares {n_records} data records of {record_bytes:,} "
                f"bytes, the file holds {body / record_bytes:.1f}."
            }
        )


def read_edf(source: Source) -> EcgRecord:
    import warnings

    import edfio
    import numpy as np

    _check_edf_size(source.data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edf = edfio.read_edf(source.data, lazy_load_data=False)
            signals = [(s.label, s.physical_dimension, s.sampling_frequency, s.data) for s in edf.signals]
    except Exception as error:  # edfio raises ValueError, IndexError... for corrupt headers
        raise InputError({"files": f"The EDF file could not be read: {error}"}) from None
    leads, ignored = [], []
    for index, (label, dimension, rate, data) in enumerate(signals):
        label = (label or "").strip()
        scale = _TO_MV.get((dimension or "").strip().lower())
        if scale is None:
            ignored.append(f"{label or f'signal {index + 1}'} ({dimension.strip() or 'no unit'})")
            continue
        if not label:
            raise InputError({"files": f"Signal {index + 1} of the EDF file has no label (lead name)."})
        leads.append(Lead(label, np.asarray(data, dtype=float) * scale, float(rate)))
    if not leads:
        raise InputError({"files": "The EDF file has no ECG lead (no signal measured in V, mV or uV)."})
    return EcgRecord("EDF", _named(leads), ignored)


# --- CSV and JSON --------------------------------------------------------------------------------------------
def _units_scale(units, where: str) -> float:
    if units is None:
        return 1.0
    scale = _TO_MV.get(str(units).strip().lower())
    if scale is None:
        raise InputError({"files": f"{where}: units '{units}' are not a voltage (use mV, uV or V)."})
    return scale


def _sampling_rate(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError({"files": f"{where}: sampling_rate_hz must be a number."})
    try:
        rate = float(value)
    except ValueError:
        raise InputError({"files": f"{where}: sampling_rate_hz '{value}' is not a number."}) from None
    if not math.isfinite(rate) or rate <= 0 or rate > 100_000:
        raise InputError({"files": f"{where}: sampling_rate_hz {value} is not a plausible sampling rate."})
    return rate


def read_csv(source: Source) -> EcgRecord:
    import numpy as np

    where = f"{source.name} (CSV)"
    text = _text(source.data)
    if text is None:
        raise InputError({"files": f"{where}: the file is not UTF-8 text."})
    lines = text.splitlines()
    settings: dict[str, str] = {}
    index = 0
    while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
        for key, value in re.findall(r"([A-Za-z_]+)\s*[=:]\s*([^\s,;]+)", lines[index]):
            settings[key.lower()] = value
        index += 1
    if "sampling_rate_hz" not in settings:
        raise InputError(
            {"files": f"{where}: the first line must give the sampling rate, e.g. '# sampling_rate_hz=500'."}
        )
    rate = _sampling_rate(settings["sampling_rate_hz"], where)
    scale = _units_scale(settings.get("units"), where)
    if index >= len(lines):
        raise InputError({"files": f"{where}: no header row of lead names."})
    names = [name.strip().strip('"').strip("'") for name in lines[index].split(",")]
    if not all(names) or any(_is_number(name) for name in names):
        raise InputError(
            {
                "files": f"{where}: the row after the sampling rate must name the leads (e.g. 'I,II,V1'), "
                f"found '{lines[index][:60]}'."
            }
        )
    body = "\n".join(lines[index + 1 :])
    try:
        values = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, dtype=float)
    except ValueError as error:
        # numpy says which value, row and column it could not read; rows count from the first sample row.
        raise InputError({"files": f"{where}: {error}"}) from None
    if values.size == 0:
        raise InputError({"files": f"{where}: the file has no samples."})
    if values.shape[1] != len(names):
        raise InputError(
            {"files": f"{where}: the header names {len(names)} leads but the rows have {values.shape[1]} values."}
        )
    if not np.isfinite(values).all():
        raise InputError({"files": f"{where}: some samples are missing or not finite (NaN, inf)."})
    leads = [Lead(name, values[:, i] * scale, rate) for i, name in enumerate(names)]
    return EcgRecord("CSV", _named(leads))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_json(source: Source) -> EcgRecord:
    import numpy as np

    where = f"{source.name} (JSON)"
    try:
        document = json.loads(source.data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError({"files": f"{where}: not valid JSON ({error})."}) from None
    if not isinstance(document, dict) or not isinstance(document.get("leads"), dict) or not document["leads"]:
        raise InputError({"files": f'{where}: expected {{"sampling_rate_hz": 500, "leads": {{"II": [...], ...}}}}.'})
    if "sampling_rate_hz" not in document:
        raise InputError({"files": f"{where}: sampling_rate_hz is missing."})
    rate = _sampling_rate(document["sampling_rate_hz"], where)
    scale = _units_scale(document.get("units"), where)
    leads = []
    for name, samples in document["leads"].items():
        if not str(name).strip():
            raise InputError({"files": f"{where}: a lead has an empty name."})
        if not isinstance(samples, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in samples
        ):
            raise InputError({"files": f"{where}: lead '{name}' must be a list of numbers."})
        array = np.asarray(samples, dtype=float)
        if not np.isfinite(array).all():
            raise InputError({"files": f"{where}: lead '{name}' has samples that are not finite."})
        leads.append(Lead(str(name).strip(), array * scale, rate))
    if len({len(lead.samples) for lead in leads}) > 1:
        raise InputError({"files": f"{where}: the leads do not all have the same number of samples."})
    return EcgRecord("JSON", _named(leads))


def _named(leads: list[Lead]) -> list[Lead]:
    if not leads:
        raise InputError({"files": "The record has no ECG lead."})
    labels = [canonical_lead(lead.label) for lead in leads]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InputError({"files": f"Lead names must be unique; repeated: {', '.join(duplicates)}."})
    return leads


# --- the whole check -----------------------------------------------------------------------------------------
def _check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise InputError(
            {
                "files": f"{name} is {size / 1e6:.0f} MB; ECG files are limited to {MAX_FILE_BYTES / 1e6:.0f} MB "
                f"(this analysis takes resting ECGs of up to {MAX_DURATION_S / 60:.0f} minutes)."
            }
        )


def read_record(sources: list[Source]) -> EcgRecord:
    """Read and check an uploaded ECG. Raises InputError with a reason for anything that cannot be analysed."""
    for source in sources:
        _check_size(source.name, len(source.data))
    kind, grouped = group(sources)
    if kind == WFDB_HEADER:
        record = read_wfdb(grouped)
    elif kind == EDF:
        record = read_edf(grouped[0])
    elif kind == CSV:
        record = read_csv(grouped[0])
    else:
        record = read_json(grouped[0])
    check_rhythm_lead(record)
    return record


def check_rhythm_lead(record: EcgRecord) -> None:
    import numpy as np

    lead, _ = record.rhythm_lead()
    name = f"lead {lead.label}"
    if lead.sampling_rate < MIN_SAMPLING_RATE_HZ:
        raise InputError(
            {
                "files": f"The sampling rate {lead.sampling_rate:g} Hz is below the {MIN_SAMPLING_RATE_HZ} Hz this "
                "analysis needs (R-peak timing and interval measurement need at least 250 samples a second)."
            }
        )
    if lead.duration < MIN_DURATION_S:
        raise InputError(
            {
                "files": f"The recording is {lead.duration:.1f} s long; this analysis needs at least "
                f"{MIN_DURATION_S:g} s of ECG."
            }
        )
    if lead.duration > MAX_DURATION_S:
        raise InputError(
            {
                "files": f"The recording is {lead.duration / 60:.1f} minutes long; this analysis takes resting ECGs "
                f"of up to {MAX_DURATION_S / 60:.0f} minutes (not Holter recordings)."
            }
        )
    samples = lead.samples
    missing = int(np.count_nonzero(~np.isfinite(samples)))
    if missing:
        raise InputError({"files": f"{name} has {missing} missing samples; a continuous trace is needed."})
    peak_to_peak = float(np.ptp(samples))
    if peak_to_peak < FLAT_PEAK_TO_PEAK_MV:
        raise InputError(
            {
                "files": f"{name} is a flat line (peak-to-peak {peak_to_peak:.3f} mV): there are no heartbeats to "
                "measure. Check the electrodes and the lead."
            }
        )


def sources_from_uploads(uploads) -> list[Source]:
    sources = []
    for upload in uploads:
        _check_size(upload.original_filename, upload.size)  # before reading it into memory
        upload.content.seek(0)
        sources.append(Source(upload.original_filename, upload.content_type, upload.content.read()))
        upload.content.seek(0)
    return sources


def sources_from_inputs(files) -> list[Source]:
    sources = []
    for file in files:
        with file.open() as handle:
            sources.append(Source(file.filename, file.content_type, handle.read()))
    return sources


def load_for_analysis(files) -> EcgRecord:
    """The worker's read: the same checks as at upload; a problem here (a file changed since, a rule
    tightened) fails the assessment with the same readable reason."""
    try:
        return read_record(sources_from_inputs(files))
    except InputError as error:
        raise AnalysisError(" ".join(error.errors.values())) from None
