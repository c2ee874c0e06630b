"""Chest X-ray (radiology) modality: DICOM CR/DX, PNG or JPEG frontal chest radiographs.

* ``dicom``: what is accepted; ``deidentify``: de-identification before storage (PS3.15 Annex E basic
  profile, as an allow-list that keeps no free text).
* ``suitability``: is a PNG/JPEG plausibly a chest radiograph (refused at upload, and before analysis).
* ``image``: decoding, windowing (PS3.3 VOI LUT) and image-quality measures.
* ``catalogue``: the biomarkers; ``rule``: the score (the model's probability of an abnormal film at its
  version's operating point); ``explain``: notes, recommendations, summary.
* ``analyzer``: the registered analyzer (stages, model inference, Grad-CAM, the typed result).
* ``demo``: generated radiographs for the demo, the tests and the benchmark.

Importing this package registers the analyzer; pydicom, numpy, Pillow and torch are imported lazily.
"""

from .analyzer import RadiologyAnalyzer

__all__ = ["RadiologyAnalyzer"]
