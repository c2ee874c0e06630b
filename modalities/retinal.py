"""The retinal modality: vessel density, vessel tortuosity and optic-disc location measured on a colour
fundus photograph (JPEG, PNG or TIFF; TIFF and rotated JPEG reach the analysis as PNG, re-stored losslessly
by the upload layer).

Method, stage by stage (the constants below carry the numbers and why they have them):

1. **image**: decode (``modalities.imaging``).
2. **field**: a photo whose brightest 1% of pixels are darker than ``BLACK_LEVEL`` is black: failed with
   that reason. The field of view (the illuminated disc of a fundus camera) is where the red channel, the
   brightest channel of the fundus, exceeds ``FIELD_FRACTION`` of its 99th percentile (and at least
   ``FIELD_MIN_LEVEL``): the largest connected region, holes filled. It is found on a thumbnail, the photo
   is cropped to its bounding box and resampled (Lanczos, anti-aliased) so that the longer side of the
   crop is ``WORKING_SIZE`` = 1024 px, the **working size**: every length below (filter scales, margins,
   minimum segment length) is in working pixels, so it means the same fraction of the field whatever the
   camera's resolution. Why 1024: the Frangi filter is the cost of this analysis and grows with the pixel
   count; at 2048 px it takes more than 10 s on 2 cores, at 1024 px about 0.7 s with the two scales used,
   while the main vessels (about 8-14 px wide at 1024) and most branches (3-6 px) stay resolved. A field
   smaller than ``MIN_FIELD_FRACTION`` of the photo, or under ``MIN_FIELD_DIAMETER`` px across in the
   original, fails with the reason (enlarging a small field to the working size would add no detail).
   Measurements are made in the **analysis region**: the field eroded by ``FIELD_MARGIN`` px, so that the
   field's own dark rim is not read as a vessel.
3. **quality** (in the analysis region): contrast = standard deviation of the green channel; a field
   with less than ``FEATURELESS_CONTRAST`` grey levels of it shows nothing and fails. Focus = variance of
   the Laplacian of the green channel (Pech-Pacheco et al., "Diatom autofocusing in brightfield
   microscopy: a comparative study", ICPR 2000, vol. 3, pp. 314-317). Illumination = the fraction of
   under-exposed (luminance < ``DARK_LEVEL``) and over-exposed (luminance >= ``BRIGHT_LEVEL``) pixels.
   A photo below ``FOCUS_MIN``, above ``DARK_MAX_FRACTION`` or ``BRIGHT_MAX_FRACTION``, or whose green
   channel outshines its red one (not a colour fundus photograph; not checked on a greyscale, red-free photo,
   whose channels are equal and which is reported as ``red_free_photo``) is graded **poor**: it is measured but
   not scored (see the risk rule). These quality thresholds are ours (engineering values, stated with
   how they were set), not published cut-offs.
4. **vessels**: the green channel (highest vessel contrast in fundus photos), outside the field set to
   the field's mean, is enhanced by CLAHE (Zuiderveld, "Contrast limited adaptive histogram
   equalization", Graphics Gems IV, 1994, pp. 474-485; scikit-image ``equalize_adapthist``, 8x8 tiles,
   clip limit 0.01), then filtered by Frangi's multiscale vesselness (Frangi, Niessen, Vincken &
   Viergever, "Multiscale vessel enhancement filtering", MICCAI 1998, LNCS 1496:130-137; scikit-image
   ``frangi``, dark ridges, alpha = beta = 0.5, c = half the maximum Hessian norm) at ``FRANGI_SIGMAS``.
   Vessel pixels: hysteresis threshold at ``HYSTERESIS_LOW`` / ``HYSTERESIS_HIGH`` of the maximum
   vesselness in the region (a pixel above the low threshold is kept only when connected to one above
   the high threshold), closed with a disc of ``CLOSING_RADIUS`` px (wide vessels and vessels with a
   central light reflex answer at their edges only), objects under ``MIN_VESSEL_OBJECT`` px dropped.
   Vessels covering under ``MIN_DENSITY`` or over ``MAX_DENSITY`` percent of the region fail with the
   reason: no vessel tree was found, or the segmentation followed noise or texture instead of one.
5. **measures**: vessel density = vessel pixels / analysis-region pixels (%). Tortuosity = the distance
   metric, arc length / chord length of a centreline segment (Hart, Goldbaum, Cote, Kube & Nelson,
   "Measurement and classification of retinal vascular tortuosity", Int J Med Inform 1999;53:239-252;
   named DM in Grisan, Foracchia & Ruggeri, "A novel method for the automatic grading of retinal vessel
   tortuosity", IEEE Trans Med Imaging 2008;27:310-319), on segments of the skeleton between branch
   points and ends, their pixel paths smoothed (Gaussian, ``PATH_SMOOTHING`` px) so that the 8-connected
   staircase does not count as length; the mean over segments at least ``MIN_SEGMENT_LENGTH`` px long
   whose chord is at least half that (a shorter chord closes a loop: a ring in the skeleton).
   Optic disc: the brightest disc-sized window in the field (luminance, window ``DISC_WINDOW_FRACTION``
   of the field diameter), reported as the fraction of the photo's width and height from its top-left
   corner; not reported when the window is not brighter than ``DISC_MIN_CONTRAST`` times the field's
   median.
6. **explain**: the vessel pixels drawn in cyan over the photo at the working size, the disc circled.

Not measured: the arteriole-to-venule calibre ratio (CRAE/CRVE by the Parr-Hubbard / Knudtson formulas).
It needs every vessel in the zone 0.5-1 disc diameter from the disc margin classified as artery or vein
and its width measured to a fraction of a pixel; this method classifies nothing, and its segmented width
is off by up to 30-70% for vessels under 4 px (see the tests). A ratio built on that would be a number
without a meaning, so it is left out and the result says why.

Risk rule (``risk_score`` 0-100, a screening flag on image measurements, **not a diagnosis**; no
validated rule maps these measures to a disease risk, and none of these thresholds comes from one):

* the photo must pass the quality gates above; a poor photo gets no score (``risk_score`` None,
  ``risk_level`` "") and a recommendation to retake it, because blur and poor exposure lower the
  measured density by themselves;
* tortuosity (mean DM): below 1.10 adds 0, 1.10 up to 1.20 adds 25, 1.20 or more adds 50. A DM of 1.10
  is a sinusoid whose amplitude is a tenth of its wavelength; straight and gently curved vessels stay
  under it (the CC0 sample photo of a normal eye shipped with scikit-image measures 1.02);
* vessel density: 8% or more adds 0, 5% up to 8% adds 25, under 5% adds 50 (the CC0 normal eye measures
  11.9%; manual vessel maps of the DRIVE database cover about 12% of the field: Staal et al., IEEE Trans
  Med Imaging 2004;23:501-509; the method's own segmentation differs from manual maps, so only a clearly
  lower value adds points);
* ``risk_level``: 0 "low", 25 "borderline", 50 "intermediate", 75 or more "high".

``confidence`` is None: these are measurements, not a model's probability. The two measures carry no
reference range in the catalogue: no source gives one for this method at this working size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import imaging
from .base import (
    AnalysisContext,
    AnalysisError,
    AnalysisResult,
    Analyzer,
    BiomarkerSpec,
    DemoCase,
    InputError,
    StageSpec,
)
from .registry import register

METHOD_VERSION = "retinal-frangi-1.0"

# --- inputs --------------------------------------------------------------------------------------------
MAX_PIXELS = 40_000_000  # fundus cameras write 5-24 MP; 40 MP leaves room, and bounds worker memory (~120 MB RGB)
# The shorter side a photo needs at upload. A 512 px photo of a 45-degree field puts ~40 px on a millimetre
# of retina: the main vessels (~100-150 um) are 4-6 px wide, the smaller branches 2 px, the limit of the
# filter's smallest scale. Public research sets start at 565 px (DRIVE).
MIN_SIDE = 512
MIN_FIELD_DIAMETER = 400  # px of the original photo across the field (the same reasoning, for the field)

# --- field ---------------------------------------------------------------------------------------------
WORKING_SIZE = 1024
THUMBNAIL_SIZE = 256  # the field's bounding box is found at this size, then refined at the working size
BLACK_LEVEL = 20  # 99th percentile of the brightest channel below this (of 255): a black photo
FIELD_FRACTION = 0.10  # of the red channel's 99th percentile: the camera's black surround is far below
FIELD_MIN_LEVEL = 10  # and never below this (JPEG noise in the black surround reaches a few levels)
MIN_FIELD_FRACTION = 0.10  # of the photo: a fundus field fills most of the frame (a 4:3 frame ~ 55%)
FIELD_MARGIN = 12  # px eroded from the field: 4 x the largest Frangi scale, past the rim's filter response

# --- quality (engineering thresholds, set on the CC0 sample fundus photo of scikit-image and on blurred
# copies of it: sharp = 14, Gaussian blur 1 px = 6, 2 px = 2 at the working size) --------------------------
FEATURELESS_CONTRAST = 2.0  # grey levels of green std in the field: less and nothing is visible
FOCUS_MIN = 4.0  # variance of the Laplacian (green, 0-255) at the working size
DARK_LEVEL = 20  # luminance (0-255)
BRIGHT_LEVEL = 250
DARK_MAX_FRACTION = 0.25
BRIGHT_MAX_FRACTION = 0.10

# --- vessels -------------------------------------------------------------------------------------------
CLAHE_CLIP_LIMIT = 0.01  # scikit-image's default
# Scales (px) of the Hessian. scikit-image's frangi does not scale-normalise the Hessian, so larger scales
# answer weakly and 1.5 px and 3 px do the work (a third scale at 4.5 or 5 px changes no pixel of the tests'
# segmentations and costs another ~0.4 s). Measured on drawn vessels (with the closing below): widths 4-14 px
# are segmented within 6% of their area, 3 px +20-30%, 2 px +55-70% (the smallest scale is wider than the
# vessel).
FRANGI_SIGMAS = (1.5, 3.0)
HYSTERESIS_LOW = 0.03  # of the maximum vesselness in the analysis region
HYSTERESIS_HIGH = 0.15
# Wide vessels come out hollow: across a flat-bottomed vessel wider than ~4 sigma, or one with a central
# light reflex, the Hessian answers at the two edges only. A closing with a disc of this radius fills a gap
# up to 8 px, so vessels up to ~14 px wide at the working size (~180 um, wider than the widest retinal vein at
# the disc) come out whole (tests: 12-14 px within 6%); a larger disc would merge neighbouring vessels.
CLOSING_RADIUS = 4
MIN_VESSEL_OBJECT = 50  # px: isolated specks of noise and texture, not vessels
MIN_DENSITY = 0.5  # %: below this no vessel tree was found; the measures would describe noise
# %: above this the "vessels" are texture or noise. The thresholds are relative to the strongest response, so
# a photo with no vessel tree gets its noise segmented instead (57-94% of the field on the tests' vessel-free
# photos); manual vessel maps cover 10-15% of the field and this method ~12% on a normal eye.
MAX_DENSITY = 30.0

# --- measures ------------------------------------------------------------------------------------------
PATH_SMOOTHING = 2.0  # px (Gaussian sigma along the centreline): removes the staircase, keeps real bends
MIN_SEGMENT_LENGTH = 30.0  # px of arc: shorter segments (stubs between close branch points) are mostly noise
DISC_WINDOW_FRACTION = 0.12  # of the field diameter: the optic disc is ~1.8 mm of a ~12-15 mm field
DISC_MIN_CONTRAST = 1.10  # brightest window / field median luminance

# --- risk rule (see the module docstring) ----------------------------------------------------------------
TORTUOSITY_STEPS = ((1.20, 50), (1.10, 25))
DENSITY_STEPS = ((5.0, 50), (8.0, 25))
LEVELS = ((75, "high"), (50, "intermediate"), (25, "borderline"), (0, "low"))

FRANGI = "Frangi et al., MICCAI 1998, LNCS 1496:130-137 (vesselness); CLAHE: Zuiderveld, Graphics Gems IV 1994"
DISTANCE_METRIC = (
    "Distance metric (arc/chord): Hart et al., Int J Med Inform 1999;53:239-252; Grisan et al., IEEE Trans Med "
    "Imaging 2008;27:310-319"
)
NO_RANGE = "no established reference range"
RULE_SOURCE = "MediLens retinal screening rule (engineering thresholds, not a clinical guideline)"

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "vessel_density",
            "Retinal vessel density",
            "retinal_vasculature",
            "%",
            f"Vessel pixels / field pixels at 1024 px; segmentation: {FRANGI}; {NO_RANGE}",
        ),
        BiomarkerSpec(
            "vessel_tortuosity",
            "Retinal vessel tortuosity (arc/chord)",
            "retinal_vasculature",
            "ratio",
            f"Mean over centreline segments; {DISTANCE_METRIC}; {NO_RANGE}",
        ),
    ]
}

CALIBRE_NOT_MEASURED = (
    "Not estimated: the arteriole-to-venule ratio needs each vessel near the disc classified as artery or vein "
    "and its width measured to a fraction of a pixel; this method does neither reliably."
)


# --- data passed between stages ---------------------------------------------------------------------------
@dataclass
class Working:
    """The photo at the working size and how it maps back to the original."""

    rgb: Any  # uint8 HxWx3
    field: Any  # bool HxW
    region: Any  # bool HxW: the field less FIELD_MARGIN
    greyscale: bool
    original_size: tuple[int, int]  # (width, height)
    offset: tuple[int, int]  # (x, y) of the crop in the original
    scale: float  # working px per original px
    field_fraction: float  # of the original photo

    def to_original(self, x: float, y: float) -> tuple[float, float]:
        return self.offset[0] + x / self.scale, self.offset[1] + y / self.scale


@dataclass
class Quality:
    focus: float
    contrast: float
    brightness: float
    dark_fraction: float
    bright_fraction: float
    problems: list[str]

    @property
    def grade(self) -> str:
        return "poor" if self.problems else "adequate"


@dataclass
class Disc:
    x: float  # working px
    y: float
    radius: float
    contrast: float


# --- image and field ----------------------------------------------------------------------------------------
def _luminance(rgb):
    import numpy as np

    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


def black_problem(rgb) -> str | None:
    """The reason a photo is black, or None (also run at upload on a thumbnail)."""
    import numpy as np

    brightest = float(np.percentile(rgb.max(axis=2), 99))
    if brightest < BLACK_LEVEL:
        return (
            f"the photo is black: its brightest 1% of pixels reach {brightest:.0f} of 255 (at least {BLACK_LEVEL} "
            "is needed to see a retina). Check the exposure and the camera, and retake it."
        )
    return None


def _largest_region(mask):
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == int(np.argmax(sizes)))


def _field_threshold(red) -> float:
    import numpy as np

    return max(FIELD_MIN_LEVEL, FIELD_FRACTION * float(np.percentile(red, 99)))


def working_image(rgb) -> Working:
    """Find the field, crop the photo to it and resample to the working size. Raises AnalysisError."""
    import numpy as np
    from scipy import ndimage

    height, width = rgb.shape[:2]
    step = max(1, max(height, width) // THUMBNAIL_SIZE)
    problem = black_problem(rgb[::step, ::step])
    if problem:
        raise AnalysisError(problem[:1].upper() + problem[1:])
    greyscale = imaging.is_greyscale(rgb)
    thumb_red = rgb[::step, ::step, 0]
    threshold = _field_threshold(thumb_red)
    thumb_field = _largest_region(ndimage.binary_opening(thumb_red > threshold))
    field_fraction = float(thumb_field.mean())
    if field_fraction < MIN_FIELD_FRACTION:
        raise AnalysisError(
            f"No fundus field of view was found: the illuminated area covers {field_fraction:.0%} of the photo "
            f"(at least {MIN_FIELD_FRACTION:.0%} is needed). Check that this is a fundus photograph and that "
            "the retina is in view."
        )
    rows, cols = np.nonzero(thumb_field)
    top, bottom = max(0, rows.min() * step - step), min(height, (rows.max() + 2) * step)
    left, right = max(0, cols.min() * step - step), min(width, (cols.max() + 2) * step)
    diameter = max(bottom - top, right - left)
    if diameter < MIN_FIELD_DIAMETER:
        raise AnalysisError(
            f"The field of view is {diameter} pixels across; this analysis needs at least {MIN_FIELD_DIAMETER} "
            "(upload the photograph at the camera's full resolution)."
        )
    scale = WORKING_SIZE / diameter
    size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    work = imaging.resize_rgb(rgb[top:bottom, left:right], size)
    field = ndimage.binary_opening(work[..., 0] > threshold, structure=np.ones((5, 5), bool))
    field = _largest_region(field)
    # An octagonal margin (half the steps with the 3x3 square, half with the cross): within 1% of a Euclidean
    # margin's area, three times cheaper than a distance transform.
    region = ndimage.binary_erosion(field, structure=np.ones((3, 3), bool), iterations=FIELD_MARGIN // 2)
    region = ndimage.binary_erosion(
        region, structure=ndimage.generate_binary_structure(2, 1), iterations=FIELD_MARGIN - FIELD_MARGIN // 2
    )
    if not region.any():
        raise AnalysisError(
            "No fundus field of view was found: the illuminated part of the photo is not one connected disc."
        )
    return Working(
        rgb=work,
        field=field,
        region=region,
        greyscale=greyscale,
        original_size=(width, height),
        offset=(left, top),
        scale=scale,
        field_fraction=field_fraction,
    )


# --- quality ------------------------------------------------------------------------------------------------
def assess_quality(work: Working) -> Quality:
    """Quality measures in the analysis region; raises AnalysisError for a featureless field."""
    import numpy as np
    from scipy import ndimage

    green = work.rgb[..., 1].astype(np.float32)
    region = work.region
    contrast = float(green[region].std())
    if contrast < FEATURELESS_CONTRAST:
        raise AnalysisError(
            f"The photo shows no detail inside the field of view (contrast {contrast:.1f} grey levels; at least "
            f"{FEATURELESS_CONTRAST:g} is needed): no vessels or optic disc can be seen. Retake the photograph."
        )
    focus = float(ndimage.laplace(green)[region].var())
    luminance = _luminance(work.rgb)[region]
    brightness = float(luminance.mean())
    dark = float(np.mean(luminance < DARK_LEVEL))
    bright = float(np.mean(luminance >= BRIGHT_LEVEL))
    problems = []
    if focus < FOCUS_MIN:
        problems.append(
            f"the photo looks out of focus (variance of the Laplacian {focus:.1f}; a sharp photo has {FOCUS_MIN:g} "
            "or more at the working size)"
        )
    if dark > DARK_MAX_FRACTION:
        problems.append(f"{dark:.0%} of the field is under-exposed (more than {DARK_MAX_FRACTION:.0%})")
    if bright > BRIGHT_MAX_FRACTION:
        problems.append(f"{bright:.0%} of the field is over-exposed (more than {BRIGHT_MAX_FRACTION:.0%})")
    if not work.greyscale:
        red = float(work.rgb[..., 0][region].mean())
        if red < float(green[region].mean()):
            problems.append("the green channel is brighter than the red one: this is not a colour fundus photograph")
    return Quality(
        focus=focus,
        contrast=contrast,
        brightness=brightness,
        dark_fraction=dark,
        bright_fraction=bright,
        problems=problems,
    )


# --- vessels --------------------------------------------------------------------------------------------------
def segment_vessels(work: Working):
    """Boolean vessel mask at the working size (see the module docstring, stage 4)."""
    import numpy as np
    from scipy import ndimage
    from skimage import exposure, filters, morphology

    green = work.rgb[..., 1].astype(np.float32) / 255.0
    green[~work.field] = float(green[work.field].mean())
    enhanced = exposure.equalize_adapthist(green, clip_limit=CLAHE_CLIP_LIMIT).astype(np.float32)
    vesselness = filters.frangi(enhanced, sigmas=FRANGI_SIGMAS, black_ridges=True)
    vesselness[~work.region] = 0.0
    top = float(vesselness.max())
    if not top > 0:
        return np.zeros(work.region.shape, dtype=bool)
    mask = filters.apply_hysteresis_threshold(vesselness, HYSTERESIS_LOW * top, HYSTERESIS_HIGH * top)
    mask = ndimage.binary_closing(mask, structure=morphology.disk(CLOSING_RADIUS)) & work.region
    return morphology.remove_small_objects(mask, max_size=MIN_VESSEL_OBJECT - 1, connectivity=2)


# --- measures -------------------------------------------------------------------------------------------------
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def centreline_segments(mask) -> list:
    """The vessel skeleton cut at its branch points: a list of ordered (row, col) pixel paths.

    Branch points are skeleton pixels with three or more 8-neighbours; removing them leaves paths (each
    pixel with at most two neighbours), walked from one end to the other. Closed loops have no end and
    no chord, and are skipped.
    """
    import numpy as np
    from scipy import ndimage
    from skimage.morphology import skeletonize

    skeleton = skeletonize(mask)
    kernel = np.ones((3, 3), dtype=np.uint8)
    kernel[1, 1] = 0
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), kernel, mode="constant")
    path_pixels = skeleton & (neighbours < 3)
    coords = np.argwhere(path_pixels)
    if len(coords) == 0:
        return []
    index = np.full((mask.shape[0] + 2, mask.shape[1] + 2), -1, dtype=np.int64)
    index[coords[:, 0] + 1, coords[:, 1] + 1] = np.arange(len(coords))
    adjacent = np.stack([index[coords[:, 0] + 1 + dr, coords[:, 1] + 1 + dc] for dr, dc in _OFFSETS], axis=1)
    degree = (adjacent >= 0).sum(axis=1)
    adjacency = [[n for n in row if n >= 0] for row in adjacent.tolist()]
    visited = bytearray(len(coords))
    segments = []
    for start in np.flatnonzero(degree <= 1).tolist():
        if visited[start]:
            continue
        path = [start]
        visited[start] = 1
        current = start
        while True:
            step = next((n for n in adjacency[current] if not visited[n]), -1)
            if step < 0:
                break
            visited[step] = 1
            path.append(step)
            current = step
        segments.append(coords[path])
    return segments


def distance_metric(path) -> tuple[float, float]:
    """(arc length, chord length) of an ordered pixel path after Gaussian smoothing along it."""
    import numpy as np
    from scipy.ndimage import gaussian_filter1d

    points = gaussian_filter1d(np.asarray(path, dtype=np.float64), PATH_SMOOTHING, axis=0, mode="nearest")
    arc = float(np.hypot(*np.diff(points, axis=0).T).sum())
    chord = float(np.hypot(*(points[-1] - points[0])))
    return arc, chord


def tortuosity(mask) -> tuple[float | None, int, list[float]]:
    """(mean DM over segments of at least MIN_SEGMENT_LENGTH of arc, number of such segments, their DMs)."""
    ratios = []
    for path in centreline_segments(mask):
        if len(path) < 3:
            continue
        arc, chord = distance_metric(path)
        # A chord under half the minimum length closes a loop: in a skeleton that is a ring around a hole in
        # the mask (a crossing, a hollow stretch of a wide vessel) far more often than a vessel bent back on
        # itself, and its ratio (-> infinity) would dominate the mean.
        if arc >= MIN_SEGMENT_LENGTH and chord >= MIN_SEGMENT_LENGTH / 2:
            ratios.append(arc / chord)
    if not ratios:
        return None, 0, []
    return sum(ratios) / len(ratios), len(ratios), ratios


def locate_disc(work: Working) -> Disc | None:
    """The brightest disc-sized window of the field (see the module docstring), or None."""
    import numpy as np
    from scipy import ndimage

    luminance = _luminance(work.rgb)
    field = work.field.astype(np.float32)
    reduce = 4  # the window is ~110 px wide: a quarter-resolution map finds it as well, 16 times cheaper
    height, width = (luminance.shape[0] // reduce) * reduce, (luminance.shape[1] // reduce) * reduce

    def pooled(a):
        return a[:height, :width].reshape(height // reduce, reduce, width // reduce, reduce).mean(axis=(1, 3))

    small_lum, small_field = pooled(luminance * field), pooled(field)
    diameter = DISC_WINDOW_FRACTION * max(work.field.shape)
    window = max(3, int(round(diameter / reduce)) | 1)
    inside = ndimage.uniform_filter(small_field, window, mode="constant")
    mean = ndimage.uniform_filter(small_lum, window, mode="constant") / np.maximum(inside, 1e-6)
    mean[inside < 0.75] = 0.0  # most of the window in the field: the disc may sit near its edge
    row, col = np.unravel_index(int(np.argmax(mean)), mean.shape)
    median = float(np.median(luminance[work.field]))
    contrast = float(mean[row, col]) / max(median, 1e-6)
    if contrast < DISC_MIN_CONTRAST:
        return None
    return Disc(x=(int(col) + 0.5) * reduce, y=(int(row) + 0.5) * reduce, radius=diameter / 2, contrast=contrast)


# --- risk rule ------------------------------------------------------------------------------------------------
def _points(value: float | None, steps, *, below: bool) -> int:
    if value is None:
        return 0
    for threshold, points in steps:
        if (value < threshold) if below else (value >= threshold):
            return points
    return 0


def risk(*, density: float, tortuosity_mean: float | None) -> tuple[int, str, list[dict]]:
    """The documented rule: (score, level, contributions). Quality gating is the caller's."""
    tortuosity_points = _points(tortuosity_mean, TORTUOSITY_STEPS, below=False)
    density_points = _points(density, DENSITY_STEPS, below=True)
    score = tortuosity_points + density_points
    level = next(name for floor, name in LEVELS if score >= floor)
    contributions = [
        {
            "factor": "vessel_tortuosity",
            "current_value": round(tortuosity_mean, 3) if tortuosity_mean is not None else None,
            "optimal_value": "under 1.10",
            "risk_with_optimal": score - tortuosity_points,
            "contribution_points": tortuosity_points,
        },
        {
            "factor": "vessel_density",
            "current_value": round(density, 2),
            "optimal_value": "8 or more",
            "risk_with_optimal": score - density_points,
            "contribution_points": density_points,
        },
    ]
    return score, level, contributions


# --- explanation ----------------------------------------------------------------------------------------------
VESSEL_COLOUR = (0, 255, 255)
DISC_COLOUR = (255, 255, 0)


def overlay_png(work: Working, vessels, disc: Disc | None) -> bytes:
    image = imaging.overlay_mask(work.rgb, vessels, VESSEL_COLOUR, opacity=0.8)
    if disc is not None:
        image = imaging.draw_circle(image, (disc.x, disc.y), disc.radius, DISC_COLOUR, width=4)
    return imaging.encode_png(image, compress_level=1)


# --- synthetic fundus photos (demo and tests) ------------------------------------------------------------------
@dataclass
class SyntheticFundus:
    rgb: Any  # uint8 HxWx3
    coverage: Any  # float HxW in 0..1: how much of each pixel the drawn vessels cover (the area truth)
    field: Any  # bool HxW
    disc_centre: tuple[float, float]  # (x, y) px
    disc_radius: float
    field_radius: float


def vessel_path(*control_points, amplitude: float = 0.0, wavelength: float = 100.0, step: float = 0.25):
    """(x, y) points every ``step`` px along a straight line (2 points) or a quadratic Bezier curve (3),
    displaced along its normal by ``amplitude * sin(2 pi s / wavelength)`` where s is the arc length."""
    import numpy as np

    p = np.asarray(control_points, dtype=np.float64)
    t = np.linspace(0.0, 1.0, 4096)[:, None]
    if len(p) == 2:
        curve = (1 - t) * p[0] + t * p[1]
    elif len(p) == 3:
        curve = (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]
    else:
        raise ValueError("a vessel path takes 2 or 3 control points")
    lengths = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(curve, axis=0).T))])
    s = np.arange(0.0, lengths[-1], step)
    points = np.stack([np.interp(s, lengths, curve[:, 0]), np.interp(s, lengths, curve[:, 1])], axis=1)
    if amplitude:
        tangent = np.gradient(points, axis=0)
        tangent /= np.maximum(np.hypot(*tangent.T)[:, None], 1e-12)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        points = points + (amplitude * np.sin(2 * np.pi * s / wavelength))[:, None] * normal
    return points


def synthetic_fundus(
    size: int = 1024,
    vessels=(),
    *,
    disc: tuple[float, float] = (0.70, 0.48),
    fovea: tuple[float, float] | None = None,
    vessel_contrast: tuple[float, float, float] = (0.15, 0.50, 0.45),
    noise: float = 1.5,
    seed: int = 0,
) -> SyntheticFundus:
    """A fundus-like photo: a dark-orange circular field (radius 0.46 size) with vignetting, a bright optic
    disc (radius 0.07 size) at ``disc`` (fractions of the size), an optional darker fovea, and ``vessels``
    = [(points, width_px)] drawn with exact, anti-aliased coverage (1 inside width/2 of the centreline,
    a linear 1 px edge) that darkens each channel by ``vessel_contrast``; then a 0.8 px optical blur and
    Gaussian noise. The coverage map is returned as the truth of the vessel area."""
    import numpy as np
    from scipy import ndimage
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre, field_radius = size / 2, 0.46 * size
    r2 = ((xx - centre) ** 2 + (yy - centre) ** 2) / field_radius**2
    field = r2 <= 1.0
    image = np.array([205, 95, 40], np.float32)[None, None, :] * (1.0 - 0.35 * r2)[..., None]
    if fovea is not None:
        fx, fy = fovea[0] * size, fovea[1] * size
        dip = 0.25 * np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * (0.05 * size) ** 2))
        image *= (1.0 - dip)[..., None]
    dx, dy, disc_radius = disc[0] * size, disc[1] * size, 0.07 * size
    edge = np.clip((np.hypot(xx - dx, yy - dy) - disc_radius) / (0.01 * size), -30, 30)
    weight = (1.0 / (1.0 + np.exp(edge)))[..., None]
    image = image * (1 - weight) + np.array([245, 215, 150], np.float32) * weight
    coverage = np.zeros((size, size), np.float32)
    for points, width in vessels:
        points = np.asarray(points, dtype=np.float64)
        band = width / 2 + 1.0
        x0, y0 = np.maximum(np.floor(points.min(axis=0) - band).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(points.max(axis=0) + band).astype(int), size - 1)
        if x1 < x0 or y1 < y0:
            continue
        raster = np.ones((y1 - y0 + 1, x1 - x0 + 1), bool)
        cols = np.clip(np.round(points[:, 0]).astype(int) - x0, 0, x1 - x0)
        rows = np.clip(np.round(points[:, 1]).astype(int) - y0, 0, y1 - y0)
        raster[rows, cols] = False
        near = ndimage.distance_transform_edt(raster) <= band + 1
        ry, rx = np.nonzero(near)
        distance, _ = cKDTree(points).query(np.stack([rx + x0, ry + y0], axis=1), distance_upper_bound=band)
        cover = np.clip(width / 2 + 0.5 - np.nan_to_num(distance, posinf=band), 0.0, 1.0).astype(np.float32)
        coverage[ry + y0, rx + x0] = np.maximum(coverage[ry + y0, rx + x0], cover)
    coverage[~field] = 0.0
    image *= 1.0 - coverage[..., None] * np.asarray(vessel_contrast, np.float32)[None, None, :]
    image = ndimage.gaussian_filter(image, (0.8, 0.8, 0))
    image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    image[~field] = rng.normal(2.0, 1.0, (int((~field).sum()), 3))
    return SyntheticFundus(
        rgb=np.clip(image, 0, 255).round().astype(np.uint8),
        coverage=coverage,
        field=field,
        disc_centre=(dx, dy),
        disc_radius=disc_radius,
        field_radius=field_radius,
    )


def demo_vessel_tree(
    size: int = 1024,
    *,
    amplitude: float = 0.0,
    branches: int = 3,
    width_scale: float = 1.0,
    disc: tuple[float, float] = (0.70, 0.48),
    seed: int = 0,
) -> list:
    """A plausible vessel tree for demo photos: four arcades around the macula and two nasal vessels from
    the disc, each with ``branches`` side branches; ``amplitude`` (fraction of the size) adds a sinusoidal
    meander (tortuosity)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    s = size / 1024
    dx, dy = disc[0] * size, disc[1] * size
    wave = 0.07 * size
    arcades = [
        ((dx, dy), (dx - 0.10 * size, dy - 0.42 * size), (0.12 * size, dy - 0.30 * size), 12),
        ((dx, dy), (dx - 0.16 * size, dy - 0.36 * size), (0.14 * size, dy - 0.16 * size), 9),
        ((dx, dy), (dx - 0.10 * size, dy + 0.42 * size), (0.12 * size, dy + 0.30 * size), 12),
        ((dx, dy), (dx - 0.16 * size, dy + 0.36 * size), (0.14 * size, dy + 0.17 * size), 9),
        ((dx, dy), (dx + 0.10 * size, dy - 0.25 * size), (0.90 * size, dy - 0.30 * size), 8),
        ((dx, dy), (dx + 0.12 * size, dy + 0.22 * size), (0.90 * size, dy + 0.28 * size), 8),
    ]
    vessels = []
    for p0, p1, p2, width in arcades:
        main = vessel_path(p0, p1, p2, amplitude=amplitude * size, wavelength=wave)
        vessels.append((main, width * s * width_scale))
        for _ in range(branches):
            at = main[int(rng.uniform(0.25, 0.85) * (len(main) - 1))]
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.10, 0.22) * size
            end = at + length * np.array([np.cos(angle), np.sin(angle)])
            bend = (at + end) / 2 + rng.normal(0, 0.03 * size, 2)
            branch = vessel_path(at, bend, end, amplitude=amplitude * size * 0.8, wavelength=wave * 0.8)
            vessels.append((branch, rng.uniform(3.5, 6.0) * s * width_scale))
    return vessels


def _png(rgb) -> bytes:
    return imaging.encode_png(rgb, compress_level=6)


# --- the analyzer -------------------------------------------------------------------------------------------------
@register
class RetinalAnalyzer(Analyzer):
    name = "retinal"
    no_confidence_reason = "Not applicable: a rule on measured vessel and quality features, not a probability"
    label = "Retinal photo"
    description = (
        "Vessel density, vessel tortuosity and optic-disc location from a colour fundus photograph "
        "(Frangi vesselness at a 1024 px working size)."
    )
    queue = "default"
    accepted_types = {"image/jpeg": "jpg", "image/png": "png", "image/tiff": "tif"}
    requires_files = True
    max_pixels = MAX_PIXELS
    deadline_seconds = 120
    stages = (
        StageSpec("image", "Read the photograph"),
        StageSpec("field", "Find the field of view"),
        StageSpec("quality", "Check focus and illumination"),
        StageSpec("vessels", "Segment the vessels (Frangi vesselness)"),
        StageSpec("measures", "Vessel density, tortuosity, optic disc"),
        StageSpec("explain", "Vessel overlay and summary"),
    )
    catalogue = CATALOGUE

    def prepare_files(self, files: list) -> list:
        """One photograph; refused here (400, nothing stored) when too small or black."""
        from PIL import Image

        if len(files) != 1:
            raise InputError({"files": f"Upload exactly one fundus photograph (got {len(files)} files)."})
        upload = files[0]
        name = upload.original_filename
        upload.content.seek(0)
        try:
            with Image.open(upload.content) as image:
                width, height = image.size
                if min(width, height) < MIN_SIDE:
                    raise InputError(
                        {
                            "files": f"{name}: the photo is {width}x{height} pixels; fundus analysis needs at least "
                            f"{MIN_SIDE} pixels on the shorter side (the smallest vessels must be resolved)."
                        }
                    )
                image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # JPEG: decode at a reduced scale
                image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
                problem = black_problem(imaging.pil_to_rgb(image))
        except InputError:
            raise
        except (OSError, SyntaxError, ValueError):
            raise InputError({"files": f"{name}: the image cannot be decoded."}) from None
        finally:
            upload.content.seek(0)
        if problem:
            raise InputError({"files": f"{name}: {problem}"})
        return files

    def demo_cases(self) -> list[DemoCase]:
        size = 1024
        cases = [
            ("fundus-typical.png", demo_vessel_tree(size, branches=6, seed=1), 11),
            ("fundus-tortuous.png", demo_vessel_tree(size, branches=6, amplitude=0.014, seed=2), 12),
            ("fundus-sparse.png", demo_vessel_tree(size, branches=1, width_scale=0.6, seed=3), 13),
        ]
        return [
            DemoCase(files=[(name, _png(synthetic_fundus(size, vessels, fovea=(0.36, 0.50), seed=seed).rgb))])
            for name, vessels, seed in cases
        ]

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        if len(context.files) != 1:
            raise AnalysisError(f"This analysis reads one fundus photograph; the assessment has {len(context.files)}.")
        with context.stage("image"):
            rgb = imaging.load_rgb(context.files[0], max_pixels=self.max_pixels)
        with context.stage("field"):
            work = working_image(rgb)
            del rgb
        with context.stage("quality"):
            quality = assess_quality(work)
        with context.stage("vessels"):
            vessels = segment_vessels(work)
        with context.stage("measures"):
            region_pixels = int(work.region.sum())
            density = 100.0 * float(vessels[work.region].sum()) / region_pixels
            if density < MIN_DENSITY:
                raise AnalysisError(
                    f"No retinal vessel tree was found (vessels cover {density:.2f}% of the field; a fundus photo "
                    f"shows at least {MIN_DENSITY:g}%). The photo may be out of focus or not a fundus photograph."
                )
            if density > MAX_DENSITY:
                raise AnalysisError(
                    f"No retinal vessel tree stands out: vessel-like texture covers {density:.0f}% of the field, where "
                    f"a fundus photo's vessels cover under {MAX_DENSITY:g}%. The photo may show noise or texture "
                    "rather than a retina."
                )
            tortuosity_mean, segments, ratios = tortuosity(vessels)
            disc = locate_disc(work)
        with context.stage("explain"):
            return self._result(work, quality, vessels, density, tortuosity_mean, segments, ratios, disc)

    def _result(self, work, quality, vessels, density, tortuosity_mean, segments, ratios, disc) -> AnalysisResult:
        biomarkers = {"vessel_density": round(density, 3)}
        not_applicable = {"arteriole_venule_ratio": CALIBRE_NOT_MEASURED}
        if tortuosity_mean is not None:
            biomarkers["vessel_tortuosity"] = round(tortuosity_mean, 4)
        else:
            not_applicable["vessel_tortuosity"] = (
                f"No vessel segment of at least {MIN_SEGMENT_LENGTH:g} px between branch points was found."
            )
        width, height = work.original_size
        results: dict[str, Any] = {
            "image_quality": quality.grade,
            "focus_variance_of_laplacian": round(quality.focus, 2),
            "field_contrast": round(quality.contrast, 2),
            "field_brightness": round(quality.brightness, 1),
            "underexposed_percent": round(100 * quality.dark_fraction, 2),
            "overexposed_percent": round(100 * quality.bright_fraction, 2),
            "vessel_tortuosity_segments": segments,
            "vessel_tortuosity_median": round(sorted(ratios)[len(ratios) // 2], 4) if ratios else None,
            "optic_disc_x": None,
            "optic_disc_y": None,
            "field_fraction_percent": round(100 * work.field_fraction, 1),
            "analysis_region_px": int(work.region.sum()),
            "working_scale": round(work.scale, 6),
            "working_width_px": int(work.rgb.shape[1]),
            "working_height_px": int(work.rgb.shape[0]),
            "original_width_px": width,
            "original_height_px": height,
            "red_free_photo": work.greyscale,
        }
        if disc is not None:
            x, y = work.to_original(disc.x, disc.y)
            results["optic_disc_x"] = round(float(x) / width, 4)
            results["optic_disc_y"] = round(float(y) / height, 4)
            results["optic_disc_contrast"] = round(float(disc.contrast), 3)
        else:
            not_applicable["optic_disc"] = (
                f"No region of the field is {DISC_MIN_CONTRAST:g} times brighter than its median: the disc may be "
                "outside the photo or the exposure flattens it."
            )
        notes = [
            f"Measured at a working size of {work.rgb.shape[1]}x{work.rgb.shape[0]} px (the field of view resampled "
            f"to {WORKING_SIZE} px across), inside the field less a {FIELD_MARGIN} px margin.",
            "Optic disc position: fractions of the photo's width (x) and height (y) from its top-left corner.",
            "Image measurements for decision support, not a diagnosis: a clinician should grade the photograph.",
        ]
        recommendations = []
        if quality.problems:
            score, level, contributions = None, "", []
            not_applicable["risk_score"] = "Not scored: " + "; ".join(quality.problems) + "."
            recommendations.append(
                {
                    "text": "Retake the photograph before relying on these measures: "
                    + "; ".join(quality.problems)
                    + ". Blur and poor exposure lower the measured vessel density by themselves.",
                    "source": RULE_SOURCE,
                }
            )
        else:
            score, level, contributions = risk(density=density, tortuosity_mean=tortuosity_mean)
            if contributions[0]["contribution_points"]:
                recommendations.append(
                    {
                        "text": f"Vessel tortuosity is increased (arc/chord {tortuosity_mean:.2f}). Tortuosity is "
                        "associated with blood pressure and other cardiovascular risk factors; review the photograph "
                        "and the patient's blood pressure.",
                        "source": "Cheung et al., Ophthalmology 2011;118:812-818 (tortuosity and blood pressure); "
                        + RULE_SOURCE,
                    }
                )
            if contributions[1]["contribution_points"]:
                recommendations.append(
                    {
                        "text": f"Vessel density is low ({density:.1f}% of the field). Check the photograph's focus "
                        "and exposure first; if they are good, review the photograph for vessel narrowing or loss.",
                        "source": RULE_SOURCE,
                    }
                )
        recommendations.append(
            {
                "text": "These are automated image measurements, not a diagnosis; have the photograph graded by a "
                "clinician trained in fundus photography.",
                "source": RULE_SOURCE,
            }
        )
        results["not_applicable"] = not_applicable
        results["notes"] = notes
        disc_text = (
            f"the optic disc is at x {results['optic_disc_x']:.2f}, y {results['optic_disc_y']:.2f} of the photo"
            if disc is not None
            else "the optic disc was not located"
        )
        tortuosity_text = (
            f"mean tortuosity (arc/chord) {tortuosity_mean:.3f} over {segments} segments"
            if tortuosity_mean is not None
            else "tortuosity not measurable"
        )
        summary = (
            f"Vessels (cyan) cover {density:.1f}% of the field; {tortuosity_text}; {disc_text} (yellow circle). "
            f"Image quality {quality.grade}" + (f" ({'; '.join(quality.problems)})" if quality.problems else "") + "."
        )
        return AnalysisResult(
            method_version=METHOD_VERSION,
            risk_score=score,
            risk_level=level,
            confidence=None,
            recommendations=recommendations,
            results=results,
            biomarkers=biomarkers,
            explanation_summary=summary,
            contributions=contributions,
            explanation_image_png=overlay_png(work, vessels, disc),
        )
