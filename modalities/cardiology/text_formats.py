"""CSV and JSON ECG files, whose sampling rate travels inside the file so a stored input describes itself.

CSV     first line ``# sampling_rate_hz=500`` (optionally ``, units=uV``; default millivolts), then a
        header row of lead names, then one row per sample, comma-separated.
JSON    ``{"sampling_rate_hz": 500, "units": "mV", "leads": {"II": [...], "V1": [...]}}``.
"""

from __future__ import annotations

import io
import json
import math
import re

from ..base import InputError
from .leads import TO_MV, EcgRecord, Lead, Source, is_number, named, text

JSON_KEYS = ("sampling_rate_hz", "units", "leads")  # everything the reader uses


def _units_scale(units, where: str) -> float:
    if units is None:
        return 1.0
    scale = TO_MV.get(str(units).strip().lower())
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
    content = text(source.data)
    if content is None:
        raise InputError({"files": f"{where}: the file is not UTF-8 text."})
    lines = content.splitlines()
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
    if not all(names) or any(is_number(name) for name in names):
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
    return EcgRecord("CSV", named(leads))


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
    return EcgRecord("JSON", named(leads))
