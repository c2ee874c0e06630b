"""The dermatology (skin lesion) modality; importing this package registers its analyzer."""

from .analyzer import DermatologyAnalyzer  # noqa: F401
