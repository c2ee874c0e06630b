"""Geometry of the patient page's trend chart: an inline SVG the template draws (no chart library, no
script). Up to three biomarkers share one time axis, each in a panel of its own with its own unit, y scale and
reference range (or a score's low-risk band) shaded: values in different units on one y axis would suggest
comparisons the numbers do not support.

Two layouts of the same chart: a wide one, and a narrow one for phones (a 340-unit viewBox drawn about 330 px
wide at 390 px, so 13-unit text stays above 11 CSS px); the stylesheet shows one of them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.utils import dateformat, timezone

from . import presenters
from .presenters import FLAG_BADGES, FLAG_COLORS, number

MAX_SERIES = 3
# A distinct stroke per panel: the legend and the panel title say which is which, not colour alone.
SERIES_COLORS = ("#0f6173", "#6b3fa0", "#8a4b08")


@dataclass(frozen=True)
class Series:
    """One biomarker's values, oldest first."""

    name: str
    values: list
    label: str
    unit: str
    spec: object = None


@dataclass(frozen=True)
class Layout:
    key: str
    width: int
    left: int
    right: int
    font: int
    x_ticks: int
    date_format: str
    single_height: int
    panel_height: int


WIDE = Layout("wide", 680, 60, 20, 13, 5, "j M Y", 200, 130)
NARROW = Layout("narrow", 340, 46, 12, 13, 3, "M Y", 190, 130)
TITLE_SPACE, GAP, AXIS_SPACE = 24, 14, 30


def trend_charts(series: list[Series]) -> dict | None:
    """Both layouts of the chart of ``series`` (those with no values are left out), or None."""
    series = [s for s in series if s.values][:MAX_SERIES]
    if not series:
        return None
    wide, narrow = _chart(series, WIDE), _chart(series, NARROW)
    return {
        "wide": wide,
        "layouts": [wide, narrow],
        "series": [_table(s, index) for index, s in enumerate(series)],
        "count": sum(len(s.values) for s in series),
    }


def trend_chart(values: list, label: str, unit: str, spec=None) -> dict | None:
    """The wide layout of one biomarker's chart (for callers that draw a single series)."""
    return _chart([Series("", values, label, unit, spec)], WIDE) if values else None


def _chart(series: list[Series], layout: Layout) -> dict:
    t0 = min(s.values[0].measured_at for s in series)
    t1 = max(s.values[-1].measured_at for s in series)
    if (t1 - t0).total_seconds() < 60:
        t0, t1 = t0 - timedelta(days=1), t1 + timedelta(days=1)
    span = (t1 - t0).total_seconds()
    inset = 16  # keep the first and last points off the axes
    plot_w = layout.width - layout.left - layout.right

    def x(t):
        return round(layout.left + inset + (plot_w - 2 * inset) * ((t - t0).total_seconds() / span), 1)

    plot_h = layout.single_height if len(series) == 1 else layout.panel_height
    panels, top = [], 0
    for index, one in enumerate(series):
        panels.append(_panel(one, index, x, top=top + TITLE_SPACE, plot_h=plot_h, layout=layout))
        top += TITLE_SPACE + plot_h + GAP
    bottom = top - GAP
    count = min(layout.x_ticks, max(len(s.values) for s in series))
    if count == 1:
        moments = [t0 + (t1 - t0) / 2]
    else:
        moments = [t0 + (t1 - t0) * (i / (count - 1)) for i in range(count)]
    x_ticks = [
        {"x": x(when), "label": dateformat.format(timezone.localtime(when), layout.date_format)} for when in moments
    ]
    return {
        "key": layout.key, "width": layout.width, "height": bottom + AXIS_SPACE, "font": layout.font,
        "left": layout.left, "right_x": layout.width - layout.right, "plot_w": plot_w, "bottom_y": bottom,
        "label_y": bottom + layout.font + 6, "panels": panels, "x_ticks": x_ticks,
    }  # fmt: skip


def _y_scale(values: list, low, high):
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
    step = nice_step((y_max - y_min) / 3)
    y_lo = math.floor(y_min / step) * step
    y_hi = math.ceil(y_max / step) * step
    if y_hi - y_max < step * 0.2:
        y_hi += step  # room above the highest point for its label
    return y_lo, y_hi, step


def _panel(one: Series, index: int, x, *, top: float, plot_h: int, layout: Layout) -> dict:
    values, spec = one.values, one.spec
    latest = values[-1]
    low, high = latest.reference_low, latest.reference_high
    banded = spec is not None and getattr(spec, "bands", None) is not None
    if banded:
        low, high = 0.0, spec.bands.starts[0][0]
    y_lo, y_hi, step = _y_scale(values, low, high)
    decimals = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0

    def y(v):
        return round(top + plot_h * (1 - (v - y_lo) / (y_hi - y_lo)), 1)

    y_ticks, tick = [], y_lo
    while tick <= y_hi + step / 1000:
        y_ticks.append({"y": y(tick), "label": f"{tick:.{decimals}f}"})
        tick += step
    band = None
    if low is not None or high is not None:
        band_top = y(min(high, y_hi)) if high is not None else top
        band_bottom = y(max(low, y_lo)) if low is not None else top + plot_h
        band = {"y": band_top, "height": round(max(band_bottom - band_top, 0), 1)}
    points = _points(values, x, y, decimals=spec.decimals if spec is not None else None, font=layout.font)
    return {
        "index": index, "name": one.name, "label": one.label, "unit": one.unit, "color": SERIES_COLORS[index],
        "top": top, "bottom_y": round(top + plot_h, 1), "plot_h": plot_h, "title_y": round(top - 8, 1),
        "y_ticks": y_ticks, "band": band, "points": points,
        "path": " ".join(f"{'M' if i == 0 else 'L'}{p['x']},{p['y']}" for i, p in enumerate(points)),
        "range_label": "Low risk" if banded else "Reference range",
        "range": (f"< {number(high)}" if banded else presenters.marker_range(latest, spec)) if band else "",
        "latest": points[-1], "first_when": points[0]["when"], "count": len(points),
    }  # fmt: skip


def _points(values: list, x, y, *, decimals, font: int) -> list[dict]:
    every = math.ceil(len(values) / 6)  # label at most about six points, and always the latest
    points = []
    for i, v in enumerate(values):
        px, py = x(v.measured_at), y(v.value)
        points.append({
            "x": px, "y": py, "label_y": round(py - font * 0.8, 1), "value": number(v.value, decimals),
            "flag": v.flag, "color": FLAG_COLORS.get(v.flag, FLAG_COLORS["normal"]),
            "show_label": i == len(values) - 1 or i % every == 0,
            "when": timezone.localtime(v.measured_at), "assessment_id": v.assessment_id,
            "flag_badge": FLAG_BADGES.get(v.flag, "neutral"), "flag_label": v.get_flag_display(),
        })  # fmt: skip
    return points


def _table(one: Series, index: int) -> dict:
    decimals = one.spec.decimals if one.spec is not None else None
    rows = [
        {
            "when": timezone.localtime(v.measured_at), "value": number(v.value, decimals),
            "assessment_id": v.assessment_id, "flag_badge": FLAG_BADGES.get(v.flag, "neutral"),
            "flag_label": v.get_flag_display(),
        }  # fmt: skip
        for v in one.values
    ]
    return {"label": one.label, "unit": one.unit, "color": SERIES_COLORS[index], "rows": rows}


def nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude
