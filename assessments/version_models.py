"""Result versions: each analysis of an assessment (the first, and every re-analysis) keeps its own
snapshot of the result and its files, numbered 1..N; the assessment row shows the latest.

Kept apart from ``models.py`` (one idea per module); ``assessments.models`` re-exports both models.
"""

import uuid

from django.conf import settings
from django.db import models

from accounts.tenancy import TenantModel
from medilens.crypto.fields import EncryptedTextField

# What pages call each artifact's content type.
FORMATS = {"model/gltf-binary": "GLB (glTF binary)", "image/png": "PNG", "application/json": "JSON"}


class ResultVersion(TenantModel):
    """One analysis's result as it was written: the score, level, confidence, the typed result document,
    recommendations, the biomarker values (as ``biomarker_value`` rows would hold them) and the explanation.

    ``BiomarkerValue`` rows keep meaning "the latest version" (trends and the patient history read them, one
    value per assessment); earlier versions' values live here. A sign-off names the version it signs:
    ``signed_off_*`` is set on the version a clinician signed."""

    # Known before the insert: the sealed review note's associated data includes it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey("assessments.Assessment", on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    risk_score = models.FloatField(null=True, blank=True)
    risk_level = models.CharField(max_length=20, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    results = models.JSONField(default=dict, blank=True)
    biomarkers = models.JSONField(default=list, blank=True, help_text="This version's biomarker values.")
    method_version = models.CharField("analyzer version", max_length=200, blank=True)
    model_version = models.ForeignKey(
        "modalities.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    explanation_summary = models.TextField(blank=True)
    explanation_contributions = models.JSONField(default=list, blank=True)
    explanation_image_key = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    review_note = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["assessment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "number"], name="result_version_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="result_version_number_positive"),
        ]

    def __str__(self):
        return f"version {self.number} of assessment {self.assessment_id}"


class ResultArtifact(TenantModel):
    """A file one result version wrote (``modalities.results.Artifact``): a 3D model, the viewer's GLB, an
    image, a JSON of measurements. Stored under ``org/<org>/assessments/<id>/results/v<N>/``; the name is the
    analyzer's (no PHI)."""

    version = models.ForeignKey(ResultVersion, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=20)
    label = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=300, unique=True)
    analyzer_version = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="result_artifact_name_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def format_label(self) -> str:
        return FORMATS.get(self.content_type, self.content_type)
