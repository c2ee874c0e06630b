"""The retinal modality: vessel density, vessel tortuosity and optic-disc location measured on a colour (or
red-free) fundus photograph (JPEG, PNG or TIFF; TIFF and rotated JPEG reach the analysis as PNG, re-stored
losslessly by the upload layer).

* ``suitability``: is it a fundus photograph at all (a circular field of view or an optic disc)?
* ``field``: decoding, the field of view, the 1024 px working size.
* ``quality``: focus and exposure; a poor photo is measured but not scored.
* ``vessels``: CLAHE + Frangi vesselness + hysteresis: the vessel mask and its density.
* ``measure``: tortuosity (arc/chord, Hart et al. 1999) and the optic disc.
* ``catalogue``: the biomarkers; ``rule``: MediLens's own screening points; ``explain``: overlay and text.
* ``analyzer``: the registered analyzer. ``synthetic``: demo photos (never imported by the worker's path).

Importing this package registers the analyzer; numpy, scipy, scikit-image and Pillow are imported lazily.
"""

from .analyzer import RetinalAnalyzer

__all__ = ["RetinalAnalyzer"]

# The demo generator's names, reachable as modalities.retinal.<name> for older callers (e.g. the browser tests)
# without importing it on the worker's path: it is loaded only when one of them is asked for.
_SYNTHETIC = frozenset({"SyntheticFundus", "demo_vessel_tree", "synthetic_fundus", "vessel_path"})


def __getattr__(name):
    if name in _SYNTHETIC:
        from . import synthetic

        return getattr(synthetic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
