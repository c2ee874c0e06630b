"""The speech modality: one voice recording in, Praat's voice and fluency measures out; importing this package
registers its analyzer. See ``analyzer`` for the shape of the package."""

from .analyzer import SpeechAnalyzer  # noqa: F401
