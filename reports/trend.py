"""A headline score's trend drawn as a small inline SVG for the patient summary (WeasyPrint draws SVG): time
along x in proportion, the score along y from zero (or below, for a score that can go negative), each result
a dot with its value, the first and last dates under the axis."""

from __future__ import annotations

import math

from django.utils import dateformat

WIDTH, HEIGHT = 480, 130
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 26


def chart(rows: list[dict]) -> dict | None:
    """``rows``: oldest first, each with ``when`` (an aware datetime), ``raw`` (the score, or None) and
    ``value`` (as shown). None when fewer than two results have a score."""
    scored = [row for row in rows if row.get("raw") is not None and row.get("when") is not None]
    if len(scored) < 2:
        return None
    values = [float(row["raw"]) for row in scored]
    low, high = min(0.0, min(values)), max(values)
    if math.isclose(low, high):
        high = low + 1.0
    high += (high - low) * 0.15  # room above the highest dot for its label
    start, end = scored[0]["when"], scored[-1]["when"]
    span = (end - start).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(when) -> float:
        return round(LEFT + plot_w * (when - start).total_seconds() / span, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - (value - low) / (high - low)), 1)

    points = [{"x": x(row["when"]), "y": y(float(row["raw"])), "label": row["value"]} for row in scored]
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right_x": WIDTH - RIGHT, "top": TOP,
        "bottom_y": TOP + plot_h, "points": points,
        "polyline": " ".join(f"{point['x']},{point['y']}" for point in points),
        "low_label": _tick(low), "high_label": _tick(high),
        "first_date": dateformat.format(start, "j M Y"), "last_date": dateformat.format(end, "j M Y"),
        "label_y": HEIGHT - 8,
    }


def _tick(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
