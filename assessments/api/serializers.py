"""API representations. Field names are a contract with partners: keep them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assessments.models import Assessment, BiomarkerValue, Patient, PipelineStage, UploadedFile
from modalities import registry


class PatientSerializer(serializers.ModelSerializer):
    age = serializers.IntegerField(read_only=True)
    consent = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="On create: consent to assessment has been recorded."
    )
    consent_recorded_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "age",
            "sex_at_birth",
            "height_cm",
            "weight_kg",
            "has_diabetes",
            "treated_hypertension",
            "current_smoker",
            "on_statin",
            "prior_cardiovascular_disease",
            "history_notes",
            "consent",
            "consent_recorded_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness is checked by the service (inside the organization's scope), not by DRF's validator.
        validators = []

    def get_unique_together_validators(self):
        return []


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = PipelineStage
        fields = ["name", "label", "order", "status", "started_at", "finished_at", "duration_ms", "error"]


class ReferenceRangeSerializer(serializers.Serializer):
    """``low`` and ``high`` (null when the range has no such limit), and whether a value equal to each is
    within the range: {"low": 90, "high": 120, "low_inclusive": true, "high_inclusive": false} is 90 <= x < 120.
    The biomarker's ``flag`` was computed with exactly this range."""

    low = serializers.FloatField(source="reference_low", allow_null=True, read_only=True)
    high = serializers.FloatField(source="reference_high", allow_null=True, read_only=True)
    low_inclusive = serializers.BooleanField(source="reference_low_inclusive", read_only=True)
    high_inclusive = serializers.BooleanField(source="reference_high_inclusive", read_only=True)


class BiomarkerSerializer(serializers.ModelSerializer):
    reference_range = ReferenceRangeSerializer(source="*", read_only=True)
    label = serializers.SerializerMethodField()

    class Meta:
        model = BiomarkerValue
        fields = ["name", "label", "category", "value", "unit", "reference_range", "flag", "measured_at"]

    def get_label(self, obj) -> str:
        assessment = self.context.get("assessment")
        modality = assessment.modality if assessment else None
        try:
            spec = registry.get(modality).catalogue.get(obj.name) if modality else None
        except registry.UnknownModality:
            spec = None
        return spec.label if spec else obj.name


class BiomarkerHistorySerializer(serializers.ModelSerializer):
    reference_range = ReferenceRangeSerializer(source="*", read_only=True)
    assessment = serializers.UUIDField(source="assessment_id")

    class Meta:
        model = BiomarkerValue
        fields = ["assessment", "value", "unit", "reference_range", "flag", "measured_at"]


class FileSerializer(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_filename")
    sha256 = serializers.CharField(source="sha256_stored")

    class Meta:
        model = UploadedFile
        fields = ["id", "kind", "filename", "content_type", "size", "sha256", "sha256_original", "created_at"]


class AssessmentSerializer(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient_id")
    stages = StageSerializer(many=True)
    biomarkers = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()
    files = FileSerializer(many=True)
    preliminary = serializers.BooleanField(source="is_preliminary")
    review = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "patient",
            "modality",
            "status",
            "risk_score",
            "risk_level",
            "confidence",
            "failure_reason",
            "method_version",
            "model_version",
            "stages",
            "biomarkers",
            "explanation",
            "recommendations",
            "results",
            "inputs",
            "files",
            "preliminary",
            "review",
            "created_at",
            "queued_at",
            "started_at",
            "completed_at",
            "failed_at",
            "cancelled_at",
            "updated_at",
        ]

    @extend_schema_field(BiomarkerSerializer(many=True))
    def get_biomarkers(self, obj) -> list[dict]:
        return BiomarkerSerializer(obj.biomarkers.all(), many=True, context={"assessment": obj}).data

    def get_explanation(self, obj) -> dict | None:
        explanation = getattr(obj, "explanation", None)
        if explanation is None:
            return None
        return {
            "summary": explanation.summary,
            "contributions": explanation.contributions,
            "has_image": bool(explanation.image_key),
        }

    def get_model_version(self, obj) -> dict | None:
        model = obj.model_version
        if model is None:
            return None
        return {
            "id": model.pk,
            "name": model.name,
            "version": model.version,
            "reference_model": model.is_reference,
            "intended_use": model.intended_use,
            "limitations": model.limitations,
        }

    def get_review(self, obj) -> dict | None:
        if obj.reviewed_at is None:
            return None
        return {"reviewed_by": obj.reviewed_by_id, "reviewed_at": obj.reviewed_at, "note": obj.review_note}


class AssessmentCreateSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    modality = serializers.CharField(max_length=40)
    inputs = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Risk factors overriding the patient's record (JSON object; a JSON string in multipart requests).",
    )

    def validate_modality(self, value):
        if value not in registry.names():
            raise serializers.ValidationError(
                f"'{value}' is not a modality. Choose one of: {', '.join(registry.names())}."
            )
        return value

    def validate_inputs(self, value):
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise serializers.ValidationError("inputs must be a JSON object.") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("inputs must be a JSON object.")
        return value
