"""Reading an ECG upload: WFDB (.hea + .dat), EDF, CSV and JSON, into named leads in millivolts.

The same code runs at upload (``prepare_files``: refuse with a clear 400 before anything is stored) and in
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

Formats, one module each: ``wfdb_format`` (.hea + .dat), ``edf_format`` (EDF, EDF+), ``text_formats`` (CSV,
JSON); ``deidentify`` clears what could name the patient before a file is stored.
"""

from __future__ import annotations

from ..base import AnalysisError, InputError
from . import edf_format, text_formats, wfdb_format
from .leads import EcgRecord, Lead, Source, canonical_lead, is_number, text
from .wfdb_format import WFDB_FORMATS, parse_wfdb_header, wfdb_bytes_needed

__all__ = [
    "EcgRecord",
    "Lead",
    "Source",
    "WFDB_FORMATS",
    "canonical_lead",
    "parse_wfdb_header",
    "read_record",
    "wfdb_bytes_needed",
]

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


# --- recognising files -------------------------------------------------------------------------------------
def classify(source: Source) -> str:
    if source.content_type == "biosig/edf":
        return EDF
    if source.content_type == "application/json":
        return JSON
    if source.content_type == "application/octet-stream":
        return WFDB_SIGNAL
    content = text(source.data[:65536])
    if content is None:
        # A binary signal file whose first bytes happen to read as text to libmagic.
        return WFDB_SIGNAL
    stripped = content.lstrip()
    if stripped.startswith("{"):
        return JSON
    lines = [line.strip() for line in stripped.splitlines() if line.strip()]
    if source.content_type == "text/csv" or (lines and "sampling_rate_hz" in lines[0]):
        return CSV
    data_lines = [line for line in lines if not line.startswith("#")]
    if data_lines and "," in data_lines[0]:
        return CSV
    # A single-column CSV: rows of plain numbers (a WFDB signal line always has a file name and a format).
    if len(data_lines) > 1 and all(is_number(line) for line in data_lines[1:6]):
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
        record = wfdb_format.read_wfdb(grouped)
    elif kind == EDF:
        record = edf_format.read_edf(grouped[0])
    elif kind == CSV:
        record = text_formats.read_csv(grouped[0])
    else:
        record = text_formats.read_json(grouped[0])
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
