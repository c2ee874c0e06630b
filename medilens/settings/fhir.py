"""The FHIR export (fhir/): the base URI of MediLens's own code systems and identifier systems."""

from .base import *  # noqa: F403 (these settings build on the base's)

# An installation names its own: identifiers (an organization's MRNs) and code systems live under it.
FHIR_SYSTEM_BASE = env.str("FHIR_SYSTEM_BASE", default="https://medilens.example/fhir")
