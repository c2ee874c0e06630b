"""Geometry of the patient page's trend chart: an inline SVG the template draws (no chart library, no
script), with the reference range or a score's low-risk band shaded, nice y ticks and dated x ticks."""

from __future__ import annotations

import math
from datetime import timedelta

from django.utils import dateformat, timezone

from . import presenters
from .presenters import FLAG_BADGES, FLAG_COLORS, number


def trend_chart(values: list, label: str, unit: str, spec=None) -> dict | None:
    """Geometry of a small time-series chart (inline SVG, drawn by the template): one point per value,
    the reference range shaded (for a risk score, its low-risk band), nice y ticks, dated x ticks."""
    if not values:
        return None
    width, height = 680, 260
    left, right, top, bottom = 56, 20, 20, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    latest = values[-1]
    low, high = latest.reference_low, latest.reference_high
    banded = spec is not None and spec.bands is not None
    if banded:
        low, high = 0.0, spec.bands.starts[0][0]

    numbers = [v.value for v in values]
    y_min, y_max = min(numbers), max(numbers)
    for bound in (low, high):
        if bound is not None:
            y_min, y_max = min(y_min, bound), max(y_max, bound)
    if y_min >= 0 and y_min <= 0.5 * y_max:
        y_min = 0.0  # small positive values read better from a zero baseline
    if math.isclose(y_min, y_max):
        pad = abs(y_max) * 0.1 or 1.0
        y_min, y_max = y_min - pad, y_max + pad
    step = nice_step((y_max - y_min) / 4)
    y_lo = math.floor(y_min / step) * step
    y_hi = math.ceil(y_max / step) * step
    if y_hi - y_max < step * 0.15:
        y_hi += step  # room above the highest point for its label
    decimals = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0

    def y(v):
        return top + plot_h * (1 - (v - y_lo) / (y_hi - y_lo))

    t0, t1 = values[0].measured_at, values[-1].measured_at
    if (t1 - t0).total_seconds() < 60:
        t0, t1 = t0 - timedelta(days=1), t1 + timedelta(days=1)
    span = (t1 - t0).total_seconds()
    inset = 18  # keep the first and last points off the axes

    def x(t):
        return left + inset + (plot_w - 2 * inset) * ((t - t0).total_seconds() / span)

    y_ticks = []
    tick = y_lo
    while tick <= y_hi + step / 1000:
        y_ticks.append({"y": round(y(tick), 1), "label": f"{tick:.{decimals}f}"})
        tick += step
    x_ticks = []
    count = 1 if len(values) == 1 else min(5, len(values))
    for i in range(count):
        when = values[0].measured_at if count == 1 else t0 + (t1 - t0) * (i / (count - 1))
        x_ticks.append({"x": round(x(when), 1), "label": dateformat.format(timezone.localtime(when), "j M Y")})

    band = None
    if low is not None or high is not None:
        band_top = y(min(high, y_hi)) if high is not None else top
        band_bottom = y(max(low, y_lo)) if low is not None else top + plot_h
        band = {"y": round(band_top, 1), "height": round(max(band_bottom - band_top, 0), 1)}

    points = []
    every = math.ceil(len(values) / 10)  # label at most about ten points, and always the latest
    for i, v in enumerate(values):
        px, py = round(x(v.measured_at), 1), round(y(v.value), 1)
        points.append({
            "x": px, "y": py, "label_y": round(py - 10, 1), "value": number(v.value), "flag": v.flag,
            "color": FLAG_COLORS.get(v.flag, FLAG_COLORS["normal"]),
            "show_label": i == len(values) - 1 or i % every == 0,
            "when": timezone.localtime(v.measured_at), "assessment_id": v.assessment_id,
            "flag_badge": FLAG_BADGES.get(v.flag, "neutral"), "flag_label": v.get_flag_display(),
        })
    return {
        "width": width, "height": height, "left": left, "top": top, "right_x": width - right,
        "bottom_y": top + plot_h, "plot_w": plot_w, "plot_h": plot_h,
        "y_ticks": y_ticks, "x_ticks": x_ticks, "band": band, "points": points,
        "path": " ".join(f"{'M' if i == 0 else 'L'}{p['x']},{p['y']}" for i, p in enumerate(points)),
        "unit": unit, "label": label, "range_label": "Low risk" if banded else "Reference range",
        "range": (f"< {number(high)}" if banded else presenters.marker_range(latest, spec)) if band else "",
        "latest": points[-1], "first_when": points[0]["when"], "count": len(points),
    }


def nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude
