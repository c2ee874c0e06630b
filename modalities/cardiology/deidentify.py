"""Clearing what could name the patient from an ECG file before it is stored, without touching a sample.

    EDF, EDF+   the header is rewritten in place: local patient identification "X X X X" and local recording
                identification "Startdate X X X X" (the EDF+ placeholders for unknown or anonymised subfields,
                Kemp & Olivan, Clin Neurophysiol 2003;114:1755; the values edfio's ``Edf.anonymize`` writes),
                start date 01.01.85 and start time 00.00.00 (the EDF clipping date), the header's reserved field
                kept only for its "EDF+C"/"EDF+D" mark, and each signal's transducer, prefiltering and reserved
                fields blanked. In an EDF+ "EDF Annotations" signal every annotation text is removed; only the
                time-keeping stamp of each data record stays. Samples are not rewritten: the data records are
                the uploaded bytes.
    WFDB        the .hea loses its comment lines ("#", where recorders put the patient's name, age and
                diagnosis) and the base time and date of its record line; the .dat is samples only.
    CSV         only the ``# sampling_rate_hz=...`` line (with its ``units``) stays of the comments; comments
                after a row go too. The header row and the sample rows are kept byte for byte.
    JSON        only the keys the reader uses (sampling_rate_hz, units, leads) are kept.

``prepare_files`` reads the cleaned files again and refuses to store them unless every lead has the same
samples as the upload, so the stored file analyses to the same numbers.
"""

from __future__ import annotations

import json
import re

from .leads import EcgRecord, Source, text
from .text_formats import JSON_KEYS

EDF_PATIENT = "X X X X"
EDF_RECORDING = "Startdate X X X X"
EDF_DATE, EDF_TIME = "01.01.85", "00.00.00"
ANNOTATIONS = "EDF Annotations"


def scrub(source: Source, kind: str) -> bytes:
    """The bytes to store for one classified source (``records`` kinds)."""
    if kind == "edf":
        return edf(source.data)
    if kind == "wfdb_header":
        return wfdb_header(source.data)
    if kind == "csv":
        return csv(source.data)
    if kind == "json":
        return json_document(source.data)
    return source.data  # a WFDB signal file: samples only


def _put(buffer: bytearray, start: int, length: int, value: str) -> None:
    buffer[start : start + length] = value.encode("ascii").ljust(length, b" ")[:length]


def edf(data: bytes) -> bytes:
    header_bytes = int(data[184:192].decode("ascii").strip())
    count = int(data[252:256].decode("ascii").strip())
    out = bytearray(data)
    plus = bytes(data[192:197]) in (b"EDF+C", b"EDF+D")
    _put(out, 8, 80, EDF_PATIENT)
    _put(out, 88, 80, EDF_RECORDING)
    _put(out, 168, 8, EDF_DATE)
    _put(out, 176, 8, EDF_TIME)
    _put(out, 192, 44, data[192:197].decode("ascii") if plus else "")
    base = 256
    labels = [data[base + 16 * i : base + 16 * (i + 1)].decode("ascii", "replace").strip() for i in range(count)]
    for field_start, width in ((16, 80), (136, 80), (224, 32)):  # transducer, prefiltering, reserved
        for i in range(count):
            _put(out, base + field_start * count + width * i, width, "")
    if plus and ANNOTATIONS in labels:
        samples = [int(data[base + 216 * count + 8 * i : base + 216 * count + 8 * (i + 1)]) for i in range(count)]
        _clear_annotations(out, header_bytes, samples, labels.index(ANNOTATIONS))
    return bytes(out)


def _clear_annotations(out: bytearray, header_bytes: int, samples: list[int], signal: int) -> None:
    """Keep each data record's time-keeping stamp ("+onset" then two 0x14 bytes), zero the rest."""
    record_bytes = 2 * sum(samples)
    offset = 2 * sum(samples[:signal])
    width = 2 * samples[signal]
    position = header_bytes
    while position + record_bytes <= len(out):
        start = position + offset
        block = bytes(out[start : start + width])
        stamp = block.find(b"\x14\x14")
        keep = block[: stamp + 2] + b"\x00" if stamp >= 0 else b""
        out[start : start + width] = keep.ljust(width, b"\x00")[:width]
        position += record_bytes


def wfdb_header(data: bytes) -> bytes:
    content = text(data)
    if content is None:
        return data
    lines = [line for line in content.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines:
        lines[0] = " ".join(lines[0].split()[:4])  # name, signals, frequency, samples: no base time or date
    return ("\n".join(lines) + "\n").encode()


_SETTING = re.compile(r"([A-Za-z_]+)\s*[=:]\s*([^\s,;]+)")


def csv(data: bytes) -> bytes:
    content = text(data)
    if content is None:
        return data
    lines = content.splitlines()
    settings: dict[str, str] = {}
    index = 0
    while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
        settings.update((key.lower(), value) for key, value in _SETTING.findall(lines[index]))
        index += 1
    first = f"# sampling_rate_hz={settings.get('sampling_rate_hz', '')}"
    if "units" in settings:
        first += f", units={settings['units']}"
    kept = [first, *lines[index : index + 1]]  # the header row of lead names, as the reader reads it
    for line in lines[index + 1 :]:
        row = line.split("#", 1)[0]  # numpy's loadtxt ignores what follows a '#'
        if row.strip():
            kept.append(row if "#" in line else line)
    return ("\n".join(kept) + "\n").encode()


def json_document(data: bytes) -> bytes:
    document = json.loads(data.decode("utf-8-sig"))
    return json.dumps({key: document[key] for key in JSON_KEYS if key in document}).encode()


def same_samples(uploaded: EcgRecord, stored: EcgRecord) -> bool:
    """Whether the stored file reads to exactly the leads, rates and samples of the upload."""
    import numpy as np

    pairs = list(zip(uploaded.leads, stored.leads, strict=False))
    return len(uploaded.leads) == len(stored.leads) and all(
        a.label == b.label and a.sampling_rate == b.sampling_rate and np.array_equal(a.samples, b.samples)
        for a, b in pairs
    )
