"""The model registry: versions of models that analyzers run, their weights in object storage."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


def validate_semver(value: str) -> None:
    if not SEMVER.match(value or ""):
        raise ValidationError(f"'{value}' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.4.0).")


class ModelVersion(models.Model):
    class Format(models.TextChoices):
        # The only format the workers run: loading safetensors executes no code. An exported program
        # (torch.export, ONNX) is not offered until a worker can run one.
        SAFETENSORS = "safetensors", "safetensors weights for an architecture defined in the code"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    modality = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    version = models.CharField(max_length=40, validators=[validate_semver])
    architecture = models.CharField(max_length=80, help_text="Name of the architecture defined in the code.")
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.SAFETENSORS)
    weights_key = models.CharField(max_length=300, blank=True)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    weights_size = models.PositiveBigIntegerField(default=0)
    input_spec = models.JSONField(default=dict, blank=True, help_text="e.g. size, channels, mean, std.")
    output_labels = models.JSONField(default=list, blank=True)
    intended_use = models.TextField()
    limitations = models.TextField()
    validation_metrics = models.JSONField(default=dict, blank=True)
    is_reference = models.BooleanField(
        default=False, help_text="A reference model for validating the pipeline: not for clinical use."
    )
    # Null: the platform-wide version; set: that organization's override.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["modality", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["modality", "name", "version"],
                condition=models.Q(organization__isnull=True),
                name="platform_model_version_unique",
            ),
            models.UniqueConstraint(
                fields=["modality", "name", "version", "organization"],
                condition=models.Q(organization__isnull=False),
                name="org_model_version_unique",
            ),
            models.UniqueConstraint(
                fields=["modality"],
                condition=models.Q(status="active", organization__isnull=True),
                name="one_active_platform_model_per_modality",
            ),
            models.UniqueConstraint(
                fields=["modality", "organization"],
                condition=models.Q(status="active", organization__isnull=False),
                name="one_active_org_model_per_modality",
            ),
        ]

    def __str__(self):
        suffix = " (reference, not for clinical use)" if self.is_reference else ""
        return f"{self.modality}: {self.name} {self.version}{suffix}"

    @property
    def label(self) -> str:
        return str(self)
