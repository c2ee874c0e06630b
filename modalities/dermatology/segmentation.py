"""Finding the lesion in the photo (scikit-image / SciPy).

The photo is smoothed (Gaussian, sigma 2 px at 1024 px) and converted to CIELAB. The skin colour is the
median of the outer 8% frame of the photo; every pixel's colour difference from it (CIE76 Delta E*ab) is
thresholded by hysteresis: Otsu's threshold (Otsu, IEEE Trans Syst Man Cybern 1979;9:62), never below
Delta E 8 (a plainly visible difference; the just-noticeable one is about 2.3, Sharma, Digital Color Imaging
Handbook 2003), seeds the lesion, which grows into pixels above half that threshold (a dark lesion pulls
Otsu's threshold above its own light-brown parts). Opening (disk radius 2 px), closing (radius 4 px: the
seams where two lesion colours blend into something skin-like), hole filling, 8-connected components; the
lesion is the largest component that does not come within 6 px of the photo's edge. A dark dermatoscope rim
(L* < 10 joined to the edge) is outside the field of view. Failures say why: no region differs from the
skin, the region is too small, it covers most of the photo, or it touches the edge of the photo or of the
dermatoscope's field. Sizes come out about 1% large on a sharp edge (the low threshold crosses the smoothed
edge ~1.3 px outside it); the tests hold them to that. The 8% frame, the Delta E floor of 8, the hysteresis
ratio and the size limits are MediLens's own operating values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .photo import PhotoProblem

MIN_LESION_PIXELS = 400  # at the working size: about 22 px across
MIN_DELTA_E = 8.0
SKIN_FRAME = 0.08
VIGNETTE_LIGHTNESS = 10.0
WHOLE_PHOTO_FRACTION = 0.8


@dataclass
class Segmentation:
    mask: Any  # bool HxW, the lesion
    lab: Any  # float32 HxWx3 CIELAB of the smoothed photo (sigma 2 px at 1024 px)
    skin_lab: tuple[float, float, float]
    threshold: float
    contrast: float  # median Delta E of the lesion from the skin
    field_fraction: float  # of the photo inside the dermatoscope's field (1.0 for a clinical photo)


def _edge_labels(labels, width: int = 1):
    """Labels present within ``width`` px of the photo's edge."""
    import numpy as np

    return np.unique(
        np.concatenate(
            [labels[:width].ravel(), labels[-width:].ravel(), labels[:, :width].ravel(), labels[:, -width:].ravel()]
        )
    )


def _outside_field(lightness):
    """Pixels of a dark dermatoscope rim: L* below 10 and joined to the photo's edge."""
    import numpy as np
    from scipy import ndimage

    dark = lightness < VIGNETTE_LIGHTNESS
    if not dark.any():
        return dark
    labels, _ = ndimage.label(dark)
    edge = _edge_labels(labels)
    return np.isin(labels, edge[edge > 0])


def _fill_holes(mask):
    """Background regions not joined to the photo's edge become foreground (one labelling pass: much faster
    than ndimage.binary_fill_holes' iterated dilation on a full photo)."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(~mask)
    keep = np.zeros(count + 1, dtype=bool)
    keep[_edge_labels(labels)] = True
    keep[0] = False
    return ~keep[labels]


def lab_image(rgb, sigma: float):
    """CIELAB (float32) of an RGB image (float, 0..1) smoothed by a Gaussian of ``sigma`` px."""
    import numpy as np
    from scipy import ndimage
    from skimage import color

    smooth = ndimage.gaussian_filter(rgb, sigma=(sigma, sigma, 0), truncate=3.0)
    return color.rgb2lab(np.clip(smooth, 0, 1)).astype(np.float32)


def delta_e(lab, reference):
    """CIE76 colour difference (Delta E*ab) of every pixel from one reference colour, in the image's own
    precision (float32: a float64 reference would double the memory of a full-size difference map)."""
    import numpy as np
    from skimage.color import deltaE_cie76

    return deltaE_cie76(lab, np.asarray(reference, dtype=lab.dtype))


def segment_lesion(rgb) -> Segmentation:
    """Find the lesion in a working-size photo (float HxWx3, 0..1). Raises PhotoProblem with the reason."""
    import numpy as np
    from scipy import ndimage
    from skimage import filters
    from skimage.morphology import disk

    h, w, _ = rgb.shape
    lab = lab_image(rgb, max(1.0, max(h, w) / 512))
    outside = _outside_field(lab[..., 0])
    field_mask = ~outside
    margin = max(4, round(SKIN_FRAME * min(h, w)))
    frame = np.zeros((h, w), dtype=bool)
    frame[:margin], frame[-margin:], frame[:, :margin], frame[:, -margin:] = True, True, True, True
    skin_pixels = lab[frame & field_mask]
    if len(skin_pixels) < 0.25 * frame.sum():
        raise PhotoProblem(
            "too little skin is visible at the edges of the photo to tell the lesion from the skin around it: "
            "frame the lesion with a margin of skin all round."
        )
    skin = np.median(skin_pixels, axis=0)
    difference = delta_e(lab, skin)
    threshold = max(float(filters.threshold_otsu(difference[field_mask])), MIN_DELTA_E)
    if not (difference[field_mask] > threshold).any():
        raise PhotoProblem(
            f"no lesion found: nothing in the photo differs from the skin at its edges by more than Delta E "
            f"{MIN_DELTA_E:g} (a plainly visible colour difference). If the lesion fills the photo, take it from "
            "further away, with skin all round it."
        )
    # Hysteresis: Otsu's threshold seeds the lesion, which then grows into pixels at half that difference
    # (a dark lesion pulls Otsu's threshold above its light-brown parts); closing bridges the thin seams
    # where two lesion colours blend into something skin-like, and holes are filled.
    low = max(MIN_DELTA_E, threshold / 2)
    candidate = filters.apply_hysteresis_threshold(np.where(field_mask, difference, 0), low, threshold)
    candidate = ndimage.binary_opening(candidate, structure=disk(2))
    candidate = _fill_holes(ndimage.binary_closing(candidate, structure=disk(4)) & field_mask)
    labels, count = ndimage.label(candidate, structure=np.ones((3, 3), dtype=bool))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[0] = 0
    if count == 0 or areas.max() < MIN_LESION_PIXELS:
        largest_area = int(areas.max()) if count else 0
        raise PhotoProblem(
            f"no lesion found: the largest region that differs from the skin covers {largest_area} pixels at "
            f"the working size, below the {MIN_LESION_PIXELS} this analysis needs; photograph the lesion "
            "closer or at a higher resolution."
        )
    field_area = int(field_mask.sum())
    largest = int(np.argmax(areas))
    if areas[largest] > WHOLE_PHOTO_FRACTION * field_area:
        raise PhotoProblem(
            f"the region that differs from the skin covers {areas[largest] / field_area:.0%} of the photo: "
            "the lesion must be framed with skin all round it."
        )
    # Opening and closing treat the world beyond the photo as background, so they pull a lesion up to 4 px
    # back from the edge: "touching" is coming within 6 px of it (or of the dermatoscope's rim).
    touching = np.zeros(count + 1, dtype=bool)
    touching[_edge_labels(labels, width=6)] = True
    if outside.any():
        touching[labels[ndimage.binary_dilation(outside, iterations=6)]] = True
    touching[0] = False
    interior = np.flatnonzero((areas >= MIN_LESION_PIXELS) & ~touching)
    centre = labels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    largest_reaches_centre = bool((centre == largest).any())
    if touching[largest] and (
        len(interior) == 0 or (areas[largest] > areas[interior].max() and largest_reaches_centre)
    ):
        where = "of the dermatoscope's field" if outside.any() else "of the photo"
        raise PhotoProblem(
            f"the lesion touches the edge {where}: the whole lesion must be in the picture with a margin "
            "of skin around it."
        )
    chosen = int(interior[np.argmax(areas[interior])])
    mask = labels == chosen
    return Segmentation(
        mask=mask,
        lab=lab,
        skin_lab=(float(skin[0]), float(skin[1]), float(skin[2])),
        threshold=threshold,
        contrast=float(np.median(difference[mask])),
        field_fraction=field_area / (h * w),
    )
