"""What the clinician reads and sees: the summary sentence and the F0 / intensity picture."""

from __future__ import annotations

import io
from dataclasses import dataclass

from .catalogue import CATALOGUE, HNR_MIN_DB, JITTER_MAX_PERCENT, SHIMMER_MAX_PERCENT, TASKS
from .measurement import PITCH_CEILING, Fluency, Segmentation, VoiceMeasures

WIDTH, HEIGHT = 960, 490
LEFT, RIGHT = 70, 20
PANELS = ((56, 220), (270, 420))  # top, bottom of each plot area
INK, GRID, PAUSE_FILL = (33, 37, 41), (222, 226, 230), (236, 239, 242)
F0_COLOUR, INTENSITY_COLOUR, NUCLEUS_COLOUR = (15, 97, 115), (90, 90, 90), (166, 27, 27)


def summary(*, task, voice: VoiceMeasures, biomarkers, fluency, segmentation, findings, clipped) -> str:
    """``biomarkers`` as stored (rounded); ``findings``: the labels of the rule's findings when a score was
    given, else None."""
    parts = [
        f"{TASKS[task]}, {voice.voiced_seconds:.1f} s voiced: mean F0 {voice.f0_mean:.0f} Hz "
        f"(SD {voice.f0_sd:.1f} Hz, {voice.f0_semitone_sd:.2f} semitones)."
    ]
    if task == "sustained_vowel":
        parts.append(
            f"Jitter {_shown(biomarkers, 'jitter_local')} (norm <= {JITTER_MAX_PERCENT} %), shimmer "
            f"{_shown(biomarkers, 'shimmer_local')} (<= {SHIMMER_MAX_PERCENT} %), HNR {_shown(biomarkers, 'hnr')} "
            f"(>= {HNR_MIN_DB:.0f} dB)."
        )
        if findings:
            listed = ", ".join(findings)
            parts.append(f"Voice-quality findings (MediLens screening rule): {len(findings)} of 3 ({listed}).")
        elif findings is not None:
            parts.append("All three voice-quality measures are within their norms (0 of 3 findings).")
    else:
        parts.append(
            f"Jitter {_shown(biomarkers, 'jitter_local_connected')}, shimmer "
            f"{_shown(biomarkers, 'shimmer_local_connected')}, HNR {_shown(biomarkers, 'hnr_connected')} "
            "(connected speech: no norms, no score)."
        )
    if fluency is not None:
        parts.append(
            f"{len(fluency.syllables)} syllable nuclei ({biomarkers.get('speaking_rate', 0):.2f} per second), "
            f"{len(segmentation.pauses)} pauses of 0.3 s or more ({biomarkers.get('pause_rate', 0):.1f} per "
            "minute)."
        )
    if clipped:
        parts.append("The recording is clipped: no score.")
    return " ".join(parts)


def picture_title(task, voice: VoiceMeasures, biomarkers) -> str:
    suffix = "" if task == "sustained_vowel" else "_connected"
    return (
        f"{TASKS[task]}: mean F0 {voice.f0_mean:.0f} Hz, jitter {_shown(biomarkers, 'jitter_local' + suffix)}, "
        f"shimmer {_shown(biomarkers, 'shimmer_local' + suffix)}, HNR {_shown(biomarkers, 'hnr' + suffix)}"
    )


def _shown(biomarkers, name: str) -> str:
    spec = CATALOGUE[name]
    if name not in biomarkers:
        return "not measurable"
    return f"{biomarkers[name]:.{spec.decimals}f} {spec.unit}"


@dataclass
class _Canvas:
    draw: object
    font: object
    span: float

    def x_of(self, time: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (time / self.span)

    def axis(self, top, bottom, low, high, unit):
        for fraction in (0.0, 0.5, 1.0):
            value = low + (high - low) * fraction
            y = bottom - (bottom - top) * fraction
            self.draw.text((6, y - 7), f"{value:.0f}", fill=INK, font=self.font)
        self.draw.text((LEFT, top - 17), unit, fill=INK, font=self.font)


def render_explanation(
    *, duration: float, voice: VoiceMeasures, segmentation: Segmentation, fluency: Fluency | None, title: str
) -> bytes:
    """F0 contour (top) and intensity with the silence threshold, pauses and syllable nuclei (bottom)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.load_default(size=13)
    except (TypeError, OSError):  # Pillow without FreeType
        font = ImageFont.load_default()
    canvas = _Canvas(draw, font, max(duration, 1e-6))
    draw.text((LEFT, 12), title, fill=INK, font=font)
    _frame(canvas, duration, segmentation)
    _f0_panel(canvas, voice)
    _intensity_panel(canvas, segmentation, fluency)
    legend = "grey bands: pauses >= 0.3 s; dashed: silence threshold"
    if fluency is not None:
        legend += "; red marks: syllable nuclei"
    draw.text((LEFT, HEIGHT - 20), legend, fill=INK, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _frame(canvas: _Canvas, duration: float, segmentation: Segmentation) -> None:
    draw, font = canvas.draw, canvas.font
    for top, bottom in PANELS:
        for start, end in segmentation.pauses:
            draw.rectangle([canvas.x_of(start), top, canvas.x_of(end), bottom], fill=PAUSE_FILL)
        draw.rectangle([LEFT, top, WIDTH - RIGHT, bottom], outline=INK)
    step = 1.0 if duration <= 12 else 5.0 if duration <= 60 else 30.0
    tick = 0.0
    while tick <= duration + 1e-9:
        x = canvas.x_of(tick)
        for top, bottom in PANELS:
            draw.line([x, top, x, bottom], fill=GRID)
        draw.text((x - 6, PANELS[1][1] + 6), f"{tick:g}", fill=INK, font=font)
        tick += step
    draw.text(((LEFT + WIDTH - RIGHT) // 2 - 24, PANELS[1][1] + 22), "time (s)", fill=INK, font=font)


def _f0_panel(canvas: _Canvas, voice: VoiceMeasures) -> None:
    import numpy as np

    top, bottom = PANELS[0]
    values = voice.pitch_values
    finite = values[np.isfinite(values)]
    low = max(0.0, float(np.floor(finite.min() / 25) * 25) - 25) if finite.size else 0.0
    high = float(np.ceil(finite.max() / 25) * 25) + 25 if finite.size else PITCH_CEILING
    canvas.axis(top, bottom, low, high, "F0 (Hz)")
    for time, frequency in zip(voice.pitch_times, values, strict=True):
        if np.isfinite(frequency):
            x, y = canvas.x_of(time), bottom - (bottom - top) * (frequency - low) / (high - low)
            canvas.draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=F0_COLOUR)


def _intensity_panel(canvas: _Canvas, segmentation: Segmentation, fluency: Fluency | None) -> None:
    draw = canvas.draw
    top, bottom = PANELS[1]
    intensity = segmentation.intensity
    levels = intensity.values[0]
    floor_db = segmentation.threshold_db - 15
    peak_db = float(levels.max()) + 3
    canvas.axis(top, bottom, floor_db, peak_db, "Intensity (dB)")

    def y_of(level):
        level = min(max(level, floor_db), peak_db)
        return bottom - (bottom - top) * (level - floor_db) / (peak_db - floor_db)

    points = [(canvas.x_of(t), y_of(v)) for t, v in zip(intensity.xs(), levels, strict=True)]
    if len(points) > 1:
        draw.line(points, fill=INTENSITY_COLOUR, width=1)
    threshold_y = y_of(segmentation.threshold_db)
    for x in range(LEFT, WIDTH - RIGHT, 8):
        draw.line([x, threshold_y, min(x + 4, WIDTH - RIGHT), threshold_y], fill=NUCLEUS_COLOUR)
    if fluency is not None:
        for time in fluency.syllables:
            x = canvas.x_of(time)
            draw.polygon([(x, top + 10), (x - 4, top + 2), (x + 4, top + 2)], fill=NUCLEUS_COLOUR)
