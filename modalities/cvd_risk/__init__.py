"""The cardiovascular-risk modality. Importing ``modalities.cvd_risk.analyzer`` registers it; the
equations (``equations``, ``rule``, ``advice``) are pure Python and import no Django."""
