"""The cardiology (ECG) modality; importing this package registers its analyzer."""

from .analyzer import CardiologyAnalyzer  # noqa: F401
