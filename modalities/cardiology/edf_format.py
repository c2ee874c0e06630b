"""EDF and EDF+ files (read with edfio): signals in V, mV or uV are leads, other signals are ignored and listed."""

from __future__ import annotations

from ..base import InputError
from .leads import TO_MV, EcgRecord, Lead, Source, named


def check_size(data: bytes) -> None:
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

    check_size(source.data)
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
        scale = TO_MV.get((dimension or "").strip().lower())
        if scale is None:
            ignored.append(f"{label or f'signal {index + 1}'} ({dimension.strip() or 'no unit'})")
            continue
        if not label:
            raise InputError({"files": f"Signal {index + 1} of the EDF file has no label (lead name)."})
        leads.append(Lead(label, np.asarray(data, dtype=float) * scale, float(rate)))
    if not leads:
        raise InputError({"files": "The EDF file has no ECG lead (no signal measured in V, mV or uV)."})
    return EcgRecord("EDF", named(leads), ignored)
