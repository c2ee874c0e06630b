"""Stage "vessels" of the retinal analysis: the vessel mask at the working size.

The green channel (highest vessel contrast in fundus photos), outside the field set to the field's mean, is
enhanced by CLAHE (Zuiderveld, "Contrast limited adaptive histogram equalization", Graphics Gems IV, 1994,
pp. 474-485; scikit-image ``equalize_adapthist``, 8x8 tiles, clip limit 0.01), then filtered by Frangi's
multiscale vesselness (Frangi, Niessen, Vincken & Viergever, "Multiscale vessel enhancement filtering", MICCAI
1998, LNCS 1496:130-137; scikit-image ``frangi``, dark ridges, alpha = beta = 0.5, c = half the maximum Hessian
norm) at ``FRANGI_SIGMAS``. Vessel pixels: hysteresis threshold at ``HYSTERESIS_LOW`` / ``HYSTERESIS_HIGH`` of
the maximum vesselness in the region (a pixel above the low threshold is kept only when connected to one above
the high threshold), closed with a disc of ``CLOSING_RADIUS`` px (wide vessels and vessels with a central light
reflex answer at their edges only), objects under ``MIN_VESSEL_OBJECT`` px dropped. Vessels covering under
``MIN_DENSITY`` or over ``MAX_DENSITY`` percent of the region fail with the reason: no vessel tree was found, or
the segmentation followed noise or texture instead of one. The thresholds are MediLens's own engineering values.
"""

from __future__ import annotations

from ..base import AnalysisError
from .field import Working

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


def density(work: Working, vessels) -> float:
    """Vessel pixels / analysis-region pixels (%); AnalysisError when no vessel tree was found."""
    density = 100.0 * float(vessels[work.region].sum()) / int(work.region.sum())
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
    return density
