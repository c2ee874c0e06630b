"""What the clinician reads besides the numbers: the summary sentence, the notes, what was not measured and
why, the measurements that are not biomarkers, and the record kept for the API (``details``)."""

from __future__ import annotations

from ..results import Measurement, NotApplicable
from . import interpret
from .intervals import LABELS as INTERVAL_LABELS
from .measure import LeadMeasurement


def biomarker_values(m: LeadMeasurement) -> dict[str, float]:
    """Every measured biomarker (unrounded; the analyzer rounds them to the catalogue's precision)."""
    from . import formulas

    values = {"heart_rate": m.heart_rate, "ecg_signal_quality": m.quality}
    if m.nrmssd is not None:
        values["rr_irregularity"] = m.nrmssd
    for name, value in (("hrv_sdnn", m.sdnn), ("hrv_rmssd", m.rmssd), ("hrv_pnn50", m.pnn50)):
        if value is not None:
            values[name] = value
    for name in ("pr_interval", "qrs_duration", "qt_interval"):
        if m.intervals.get(name) is not None:
            values[name] = m.intervals[name]
    qt = m.intervals.get("qt_interval")
    if qt is not None:
        rr_s = sum(m.rhythm.normal_rr_ms) / len(m.rhythm.normal_rr_ms) / 1000.0
        values["qtc_bazett"] = formulas.qtc_bazett(qt_ms=qt, rr_s=rr_s)
        values["qtc_fridericia"] = formulas.qtc_fridericia(qt_ms=qt, rr_s=rr_s)
    return values


def not_applicable(m: LeadMeasurement) -> list[NotApplicable]:
    items = [NotApplicable(name, INTERVAL_LABELS[name], m.notes[name]) for name in INTERVAL_LABELS if name in m.notes]
    if "qt_interval" in m.notes:
        reason = f"the QT interval was not measured: {m.notes['qt_interval']}"
        items.append(NotApplicable("qtc_fridericia", "QTc (Fridericia and Bazett)", reason))
    if "hrv" in m.notes:
        items.append(NotApplicable("hrv", "Heart-rate variability", m.notes["hrv"]))
    if m.nrmssd is None or not m.rhythm.judged:
        items.append(
            NotApplicable(
                "irregular_rr",
                "RR irregularity (atrial fibrillation criterion)",
                f"fewer than {interpret.AF_MIN_RR_INTERVALS} normal-to-normal RR intervals to judge the rhythm by",
            )
        )
    return items


def measurements(m: LeadMeasurement, duration: float) -> list[Measurement]:
    items = [
        Measurement("duration", "Recording analysed", round(duration, 1), "s", decimals=1),
        Measurement("beats", "Beats analysed", len(m.rpeaks), "beats", decimals=0),
        Measurement("ectopic_beats", "Premature (ectopic) beats", len(m.rhythm.ectopic_beats), "beats", decimals=0),
    ]
    if m.rhythm.spectral_rate is not None:
        items.append(
            Measurement(
                "spectral_heart_rate",
                "Heart rate from the QRS periodicity (check)",
                round(m.rhythm.spectral_rate, 1),
                "bpm",
                decimals=0,
                derived=True,
            )
        )
    if m.beat is not None:
        items.append(
            Measurement(
                "median_beat_noise",
                "Noise left on the median beat",
                round(1000 * m.beat.noise_mv, 1),
                "uV",
                decimals=0,
                derived=True,
            )
        )
    return items


def notes(m: LeadMeasurement, lead_choice: str, sex: str) -> list[str]:
    found = [f"Rhythm lead: {lead_choice}."]
    count = len(m.rhythm.ectopic_beats)
    if count:
        found.append(
            f"{count} premature (ectopic) beat{'s' if count != 1 else ''} found and left out of the RR-irregularity "
            "measure and the median beat (20% criterion of Kamath & Fallen 1995); an isolated premature beat is "
            "not atrial fibrillation. Confirm its origin (atrial or ventricular) on the tracing."
        )
    if sex == "female":
        found.append("QTc flags use the women's limit: prolonged from 460 ms (Rautaharju et al. 2009).")
    elif sex != "male":
        found.append("Sex not recorded: QTc flags and points use the men's (lower) limits.")
    found.append(f"Signal quality {m.quality:.2f} (acceptable from 0.66).")
    return found


def summary(lead_label: str, duration: float, m: LeadMeasurement, values, found, level) -> str:
    parts = [f"Lead {lead_label}, {duration:.0f} s, {len(m.rpeaks)} beats: heart rate {values['heart_rate']:.0f} bpm."]
    if m.rhythm.ectopic_beats:
        parts.append(f"{len(m.rhythm.ectopic_beats)} premature beat(s).")
    intervals = [
        f"{label} {values[name]:.0f} ms"
        for name, label in (("pr_interval", "PR"), ("qrs_duration", "QRS"), ("qt_interval", "QT"))
        if name in values
    ]
    if "qtc_fridericia" in values:
        intervals.append(f"QTc {values['qtc_fridericia']:.0f} ms (Fridericia), {values['qtc_bazett']:.0f} ms (Bazett)")
    if intervals:
        parts.append(", ".join(intervals) + ".")
    withheld = [INTERVAL_LABELS[name] for name in INTERVAL_LABELS if name in m.notes]
    if withheld:
        parts.append("Not measured: " + ", ".join(withheld) + " (reasons listed).")
    if found:
        points = sum(f["points"] for f in found)
        parts.append("Findings: " + "; ".join(f["label"] for f in found) + f". {points} points, risk level {level}.")
    else:
        parts.append("No abnormal finding by these measurements (0 points, risk level low).")
    return " ".join(parts)


def details(record, lead, lead_choice: str, m: LeadMeasurement, found, points: int, sex: str) -> dict:
    """The raw record for the API: no identifiers (lead names and numbers only)."""
    return {
        "source_format": record.source_format,
        "leads": [item.label for item in record.leads],
        "ignored_channels": record.ignored,
        "rhythm_lead": lead.label,
        "rhythm_lead_choice": lead_choice,
        "lead_inverted": m.inverted,
        "sampling_rate_hz": lead.sampling_rate,
        "analysed_at_hz": m.sampling_rate,
        "duration_s": round(lead.duration, 2),
        "beats": len(m.rpeaks),
        "rr_intervals_ms": [round(v, 1) for v in m.rr_ms],
        "ectopic_beats": list(m.rhythm.ectopic_beats),
        "normal_rr_intervals": len(m.rhythm.normal_rr_ms),
        "spectral_heart_rate_bpm": None if m.rhythm.spectral_rate is None else round(m.rhythm.spectral_rate, 1),
        "median_beat": None
        if m.beat is None
        else {
            "beats": m.beat.beats,
            "noise_uv": round(1000 * m.beat.noise_mv, 1),
            "wave_heights_mv": m.wave_heights_mv,
        },
        "rhythm_flags": interpret.rhythm_flags(
            heart_rate=m.heart_rate, nrmssd=m.nrmssd, rr_count=len(m.rhythm.normal_rr_ms)
        ),
        "findings": found,
        "risk_points": points,
        "qtc_thresholds_ms": interpret.qtc_thresholds(sex),
        "qtc_thresholds_sex": sex if sex in ("female", "male") else "unknown (men's thresholds used)",
        "signal_quality": round(m.quality, 3),
    }
