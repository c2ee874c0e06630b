"""Chest X-ray (radiology) modality: DICOM CR/DX, PNG or JPEG frontal chest radiographs.

* ``dicom``: what is accepted, and de-identification before storage (PS3.15 Annex E basic profile).
* ``image``: decoding, windowing (PS3.3 VOI LUT) and image-quality measures.
* ``analyzer``: the registered analyzer (stages, catalogue, risk rule, model inference, Grad-CAM).
* ``demo``: generated radiographs for the demo, the tests and the benchmark.

Importing this package registers the analyzer; pydicom, numpy, Pillow and torch are imported lazily.
"""

from .analyzer import RadiologyAnalyzer

__all__ = ["RadiologyAnalyzer"]
