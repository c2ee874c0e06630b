"""Stage "measures" of the retinal analysis: vessel tortuosity and the optic disc.

Tortuosity = the distance metric, arc length / chord length of a centreline segment (Hart, Goldbaum, Cote, Kube
& Nelson, "Measurement and classification of retinal vascular tortuosity", Int J Med Inform 1999;53:239-252;
named DM in Grisan, Foracchia & Ruggeri, "A novel method for the automatic grading of retinal vessel
tortuosity", IEEE Trans Med Imaging 2008;27:310-319), on the skeleton's paths between junctions and ends (skan,
Nunez-Iglesias et al., PeerJ 2018;6:e4312), their pixel paths smoothed (Gaussian, ``PATH_SMOOTHING`` px) so
that the 8-connected staircase does not count as length; the mean over segments at least
``MIN_SEGMENT_LENGTH`` px long whose chord is at least half that (a shorter chord closes a loop: a ring in the
skeleton). No artery/vein classification: the mean is over the whole tree.

Optic disc: the brightest disc-sized window in the field (luminance, window ``DISC_WINDOW_FRACTION`` of the
field diameter), reported as the fraction of the photo's width and height from its top-left corner; not
reported when the window is not brighter than ``DISC_MIN_CONTRAST`` times the field's median. The lengths and
the contrast are MediLens's own engineering values.
"""

from __future__ import annotations

from dataclasses import dataclass

from .field import Working, luminance

# --- measures ------------------------------------------------------------------------------------------
PATH_SMOOTHING = 2.0  # px (Gaussian sigma along the centreline): removes the staircase, keeps real bends
MIN_SEGMENT_LENGTH = 30.0  # px of arc: shorter segments (stubs between close branch points) are mostly noise
DISC_WINDOW_FRACTION = 0.12  # of the field diameter: the optic disc is ~1.8 mm of a ~12-15 mm field
DISC_MIN_CONTRAST = 1.10  # brightest window / field median luminance


@dataclass
class Disc:
    x: float  # working px
    y: float
    radius: float
    contrast: float


def centreline_segments(mask) -> list:
    """The vessel skeleton's paths between junctions and ends, each an ordered (row, col) pixel array (skan).

    A path runs from a junction pixel or an end to the next, so paths meeting at a junction share its pixel.
    A closed loop comes out as a path that ends where it starts: its chord is 0 and ``tortuosity`` drops it.
    skan compiles its walk with numba on the first call in a process (seconds): ``warm_up`` does that at
    worker start.
    """
    import numpy as np
    from scipy import ndimage
    from skan import Skeleton
    from skimage.morphology import skeletonize

    skeleton = skeletonize(mask)
    with_neighbour = ndimage.convolve(skeleton.astype(np.uint8), np.ones((3, 3), dtype=np.uint8), mode="constant")
    if not (skeleton & (with_neighbour > 1)).any():
        return []  # no two pixels touch: no path (and skan refuses a graph without edges)
    paths = Skeleton(skeleton)
    return [paths.path_coordinates(index) for index in range(paths.n_paths)]


def warm_up() -> float:
    """Compile skan's numba code on a small cross (seconds in a new process, then milliseconds); returns the
    seconds it took. A Celery worker calls it before it takes a task (medilens.celery), so no analysis pays
    it."""
    import time

    import numpy as np

    started = time.perf_counter()
    cross = np.zeros((12, 12), dtype=bool)
    cross[6, 1:11] = cross[1:11, 6] = True
    centreline_segments(cross)
    return time.perf_counter() - started


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

    light = luminance(work.rgb)
    field = work.field.astype(np.float32)
    reduce = 4  # the window is ~110 px wide: a quarter-resolution map finds it as well, 16 times cheaper
    height, width = (light.shape[0] // reduce) * reduce, (light.shape[1] // reduce) * reduce

    def pooled(a):
        return a[:height, :width].reshape(height // reduce, reduce, width // reduce, reduce).mean(axis=(1, 3))

    small_lum, small_field = pooled(light * field), pooled(field)
    diameter = DISC_WINDOW_FRACTION * max(work.field.shape)
    window = max(3, int(round(diameter / reduce)) | 1)
    inside = ndimage.uniform_filter(small_field, window, mode="constant")
    mean = ndimage.uniform_filter(small_lum, window, mode="constant") / np.maximum(inside, 1e-6)
    mean[inside < 0.75] = 0.0  # most of the window in the field: the disc may sit near its edge
    row, col = np.unravel_index(int(np.argmax(mean)), mean.shape)
    median = float(np.median(light[work.field]))
    contrast = float(mean[row, col]) / max(median, 1e-6)
    if contrast < DISC_MIN_CONTRAST:
        return None
    return Disc(x=(int(col) + 0.5) * reduce, y=(int(row) + 0.5) * reduce, radius=diameter / 2, contrast=contrast)
