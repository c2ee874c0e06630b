"""The explanation image: the analysed lead as a rhythm strip on ECG paper, R-peaks marked (Pillow only).

Paper conventions: 25 mm/s and 10 mm/mV at 4 px per mm, i.e. 100 px per second and 40 px per mV; a light
grid every 1 mm and a darker one every 5 mm. Rows of 10 s, at most three (the first 30 s are drawn).
"""

from __future__ import annotations

import io

PX_PER_MM = 4
PX_PER_S = 25 * PX_PER_MM
PX_PER_MV = 10 * PX_PER_MM
ROW_SECONDS = 10
MAX_ROWS = 3
MARGIN = 20
HEADER = 28
MIN_ROW_MV, MAX_ROW_MV = 3.0, 6.0

PAPER = (255, 250, 248)
MINOR = (250, 215, 215)
MAJOR = (235, 160, 160)
TRACE = (20, 20, 20)
MARK = (200, 20, 20)
ONSET = (30, 90, 200)
TEXT = (40, 40, 40)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def render(samples, sampling_rate: float, rpeaks, *, title: str, qrs_onsets=None, qrs_offsets=None) -> bytes:
    import numpy as np
    from PIL import Image, ImageDraw

    samples = np.asarray(samples, dtype=float)
    per_row = int(ROW_SECONDS * sampling_rate)
    rows = min(MAX_ROWS, max(1, int(np.ceil(len(samples) / per_row))))
    heights = []
    for row in range(rows):
        part = samples[row * per_row : (row + 1) * per_row]
        span = float(np.ptp(part)) + 0.6 if len(part) else MIN_ROW_MV
        heights.append(int(min(MAX_ROW_MV, max(MIN_ROW_MV, span)) * PX_PER_MV))
    width = 2 * MARGIN + ROW_SECONDS * PX_PER_S
    height = HEADER + sum(heights) + MARGIN * (rows + 1)
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 6), title, fill=TEXT, font=_font(14))
    top = HEADER + MARGIN
    rpeaks = np.asarray(rpeaks, dtype=int)
    for row in range(rows):
        row_height = heights[row]
        left, bottom = MARGIN, top + row_height
        for x in range(0, ROW_SECONDS * PX_PER_S + 1, PX_PER_MM):
            colour = MAJOR if x % (5 * PX_PER_MM) == 0 else MINOR
            draw.line([(left + x, top), (left + x, bottom)], fill=colour)
        for y in range(0, row_height + 1, PX_PER_MM):
            colour = MAJOR if y % (5 * PX_PER_MM) == 0 else MINOR
            draw.line([(left, top + y), (left + ROW_SECONDS * PX_PER_S, top + y)], fill=colour)
        start, end = row * per_row, min(len(samples), (row + 1) * per_row)
        part = samples[start:end]
        centre = float(np.median(part)) if len(part) else 0.0
        # Centre the trace on its median, nudged so its extremes stay on the strip where they fit.
        middle = top + row_height / 2
        highest = middle - (float(part.max()) - centre) * PX_PER_MV if len(part) else middle
        lowest = middle - (float(part.min()) - centre) * PX_PER_MV if len(part) else middle
        if highest < top + 4:
            middle += min(top + 4 - highest, max(0.0, bottom - 4 - lowest))
        elif lowest > bottom - 4:
            middle -= min(lowest - (bottom - 4), max(0.0, highest - (top + 4)))

        def y_of(value, middle=middle, centre=centre, top=top, bottom=bottom):
            return float(np.clip(middle - (value - centre) * PX_PER_MV, top, bottom))

        xs = left + np.arange(len(part)) / sampling_rate * PX_PER_S
        ys = np.clip(middle - (part - centre) * PX_PER_MV, top, bottom)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=TRACE, width=2)
        for boundaries in (qrs_onsets, qrs_offsets):
            if boundaries is None:
                continue
            for index in np.asarray(boundaries, dtype=float):
                if np.isfinite(index) and start <= index < end:
                    x = left + (index - start) / sampling_rate * PX_PER_S
                    draw.line(
                        [(x, y_of(samples[int(index)]) - 6), (x, y_of(samples[int(index)]) + 6)], fill=ONSET, width=1
                    )
        for peak in rpeaks[(rpeaks >= start) & (rpeaks < end)]:
            x = left + (peak - start) / sampling_rate * PX_PER_S
            y = y_of(samples[peak])
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=MARK, width=2)
            tip = max(top + 2, y - 8)
            draw.polygon([(x, tip), (x - 5, tip - 9), (x + 5, tip - 9)], fill=MARK)
        top = bottom + MARGIN
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
