"""API representations. Field names are a contract with partners: keep them."""

from functools import cached_property

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assessments.models import Assessment, BiomarkerValue, Patient, PipelineStage, UploadedFile
from assessments.presenters import REFERENCE_MODEL_NOTICE, biomarker_spec
from medilens import safe_json
from medilens.api_representation import ReadFieldsOnce
from modalities import registry

HISTORY_FIELDS = ("has_diabetes", "treated_hypertension", "current_smoker", "on_statin", "prior_cardiovascular_disease")
HISTORY_HELP = (
    "true, false, or null when not known. Omitted on create: null (unknown), never read as false; an analysis "
    "that needs the answer refuses the submission and names it."
)


class PatientSerializer(ReadFieldsOnce, serializers.ModelSerializer):
    """Identity fields are encrypted at rest (per organization) and read here decrypted; their length limits
    are the plaintext's."""

    age = serializers.IntegerField(read_only=True)
    consent = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="On create: consent to assessment has been recorded."
    )
    consent_recorded_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When consent was recorded; null while it has not been."
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "postcode",
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
            "last_activity_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "last_activity_at"]
        # Rules the services enforce (a 400 naming the field), stated where a partner reads the contract.
        extra_kwargs = {
            "mrn": {"help_text": "Medical record number: unique within the organization (a duplicate is a 400)."},
            "date_of_birth": {"help_text": "YYYY-MM-DD; not in the future (a future date is a 400)."},
            # A partner that does not send a history answer has not recorded one: unknown (null), never "no".
            **{
                name: {"default": None, "allow_null": True, "help_text": HISTORY_HELP}
                for name in HISTORY_FIELDS
            },
        }
        # Uniqueness is checked by the service (inside the organization's scope), not by DRF's validator.
        validators = []

    def get_unique_together_validators(self):
        return []


class StageSerializer(ReadFieldsOnce, serializers.ModelSerializer):
    class Meta:
        model = PipelineStage
        fields = ["name", "label", "order", "status", "started_at", "finished_at", "duration_ms", "error"]


class ReferenceRangeSerializer(ReadFieldsOnce, serializers.Serializer):
    """``low`` and ``high`` (null when the range has no such limit), and whether a value equal to each is
    within the range: {"low": 90, "high": 120, "low_inclusive": true, "high_inclusive": false} is 90 <= x < 120.
    The biomarker's ``flag`` was computed with exactly this range."""

    low = serializers.FloatField(source="reference_low", allow_null=True, read_only=True)
    high = serializers.FloatField(source="reference_high", allow_null=True, read_only=True)
    low_inclusive = serializers.BooleanField(source="reference_low_inclusive", read_only=True)
    high_inclusive = serializers.BooleanField(source="reference_high_inclusive", read_only=True)


class RiskBandSerializer(serializers.Serializer):
    """One risk category of a biomarker that is itself a risk score: values from ``start`` (inclusive unless
    ``start_inclusive`` is false) up to the next band's start read as ``level``. Below the first band: low,
    flagged "normal"."""

    level = serializers.ChoiceField(choices=["borderline", "intermediate", "high"])
    start = serializers.FloatField()
    start_inclusive = serializers.BooleanField()


def _cached_assessment(value: BiomarkerValue) -> Assessment | None:
    """The value's assessment when it is already in memory, never a query: rows read through an assessment's
    ``biomarkers`` (prefetched or not) carry it, as Django sets the reverse relation on them."""
    field = BiomarkerValue._meta.get_field("assessment")
    return field.get_cached_value(value) if field.is_cached(value) else None


def risk_bands(spec) -> list[dict] | None:
    """A biomarker's ``risk_bands`` from its catalogue entry (None: not a risk score, or not in the catalogue)."""
    if spec is None or spec.bands is None:
        return None
    bands = spec.bands
    return [
        {"level": level, "start": start, "start_inclusive": level not in bands.above} for start, level in bands.starts
    ]


class _RiskBandsMixin:
    """``risk_bands``: for a biomarker that is itself a risk score (a PCE risk, a Stolz TDS), the categories
    its ``flag`` is read in (its ``reference_range`` is then empty); null for every other biomarker."""

    def _spec(self, obj):
        assessment = self.context.get("assessment") or _cached_assessment(obj)
        return biomarker_spec(obj.name, assessment.modality if assessment else None)

    @extend_schema_field(RiskBandSerializer(many=True, allow_null=True))
    def get_risk_bands(self, obj) -> list[dict] | None:
        return risk_bands(self._spec(obj))


class BiomarkerSerializer(ReadFieldsOnce, _RiskBandsMixin, serializers.ModelSerializer):
    reference_range = ReferenceRangeSerializer(source="*", read_only=True)
    label = serializers.SerializerMethodField()
    risk_bands = serializers.SerializerMethodField()

    class Meta:
        model = BiomarkerValue
        fields = ["name", "label", "category", "value", "unit", "reference_range", "risk_bands", "flag", "measured_at"]

    def get_label(self, obj) -> str:
        spec = self._spec(obj)
        return spec.label if spec else obj.name


class BiomarkerHistorySerializer(ReadFieldsOnce, _RiskBandsMixin, serializers.ModelSerializer):
    reference_range = ReferenceRangeSerializer(source="*", read_only=True)
    risk_bands = serializers.SerializerMethodField()
    assessment = serializers.UUIDField(source="assessment_id")

    class Meta:
        model = BiomarkerValue
        fields = ["assessment", "value", "unit", "reference_range", "risk_bands", "flag", "measured_at"]


class FileSerializer(ReadFieldsOnce, serializers.ModelSerializer):
    # The neutral display name (modality, date, index): the name a file was uploaded under often holds a
    # patient's name or MRN and is never returned. A partner matches its own files by sha256_original.
    filename = serializers.CharField(
        source="display_name",
        help_text="A neutral name: modality, upload date and index, e.g. 'cardiology-2026-12-06-1.edf'.",
    )
    sha256 = serializers.CharField(source="sha256_stored")

    class Meta:
        model = UploadedFile
        fields = ["id", "kind", "filename", "content_type", "size", "sha256", "sha256_original", "created_at"]


# What assessments.view_results guards: a key or member without it sees an assessment's status, stages
# and inputs, not its outcome.
RESULT_FIELDS = frozenset(
    {
        "risk_score",
        "risk_score_label",
        "risk_score_unit",
        "risk_level",
        "confidence",
        "biomarkers",
        "explanation",
        "recommendations",
        "results",
        "files",
        "review",
    }
)


class AssessmentSerializer(ReadFieldsOnce, serializers.ModelSerializer):
    """Result fields (RESULT_FIELDS) are left out unless the context says ``view_results=True``: a caller
    that forgets to say fails closed."""

    patient = serializers.UUIDField(source="patient_id")
    stages = StageSerializer(many=True)
    biomarkers = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()
    files = FileSerializer(many=True)
    preliminary = serializers.BooleanField(source="is_preliminary")
    review = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()
    risk_score_label = serializers.SerializerMethodField(
        help_text="What risk_score is, e.g. '10-year ASCVD risk (PCE)' or 'Stolz total dermoscopy score (TDS)'; "
        "null when there is no score. results.score has its scale, source and risk categories."
    )
    risk_score_unit = serializers.SerializerMethodField(
        help_text="The unit of risk_score ('%', 'points', ...); null when there is no score."
    )

    class Meta:
        model = Assessment
        fields = [
            "id",
            "patient",
            "modality",
            "status",
            "risk_score",
            "risk_score_label",
            "risk_score_unit",
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

    def get_fields(self):
        fields = super().get_fields()
        if not self.context.get("view_results", False):
            for name in RESULT_FIELDS:
                fields.pop(name, None)
        return fields

    @cached_property
    def _biomarkers(self) -> serializers.ListSerializer:
        """One BiomarkerSerializer for every assessment of the response: DRF builds a serializer's fields anew
        for each instance (about 1 ms of CPU), which a new one per assessment did 50 times per page. Each
        value's assessment (for its risk bands) is the one it was read through (``_cached_assessment``)."""
        return BiomarkerSerializer(many=True)

    @extend_schema_field(BiomarkerSerializer(many=True))
    def get_biomarkers(self, obj) -> list[dict]:
        return self._biomarkers.to_representation(obj.biomarkers.all())

    def get_explanation(self, obj) -> dict | None:
        explanation = getattr(obj, "explanation", None)
        if explanation is None:
            return None
        return {
            "summary": explanation.summary,
            "contributions": explanation.contributions,
            "has_image": bool(explanation.image_key),
        }

    def _score(self, obj) -> dict:
        return (obj.results or {}).get("score") or {} if obj.risk_score is not None else {}

    def get_risk_score_label(self, obj) -> str | None:
        return self._score(obj).get("label")

    def get_risk_score_unit(self, obj) -> str | None:
        return self._score(obj).get("unit")

    def get_model_version(self, obj) -> dict | None:
        model = obj.model_version
        if model is None:
            return None
        return {
            "id": model.pk,
            "name": model.name,
            "version": model.version,
            "reference_model": model.is_reference,
            # A reference model was trained on generated data: its results are never for clinical use.
            "not_for_clinical_use": model.is_reference,
            "notice": REFERENCE_MODEL_NOTICE if model.is_reference else "",
            "intended_use": model.intended_use,
            "limitations": model.limitations,
        }

    def get_review(self, obj) -> dict | None:
        if obj.reviewed_at is None:
            return None
        return {
            "reviewed_by": obj.reviewed_by_id,
            "reviewed_at": obj.reviewed_at,
            "note": obj.review_note,
            "reference_model_acknowledged": obj.review_acknowledged_reference_model,
        }


class BoundedJSONField(serializers.JSONField):
    """DRF's JSONField decodes a multipart form's string with json.loads, where a deeply nested one is a
    RecursionError (a 500): decode it with the nesting bounded instead."""

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):
            try:
                return safe_json.loads(data)
            except safe_json.JSONTooDeep as error:
                raise serializers.ValidationError(str(error)) from None
            except ValueError:
                self.fail("invalid")
        return super().to_internal_value(data)


class AssessmentCreateSerializer(serializers.Serializer):
    """The create request's envelope. ``inputs`` is checked here only as a JSON object: the modality's input
    schema validates it (in services.create_assessment, as for the portal), and the OpenAPI document shows that
    schema per modality (assessments.api.schema)."""

    patient = serializers.UUIDField()
    modality = serializers.CharField(max_length=40)
    inputs = BoundedJSONField(
        required=False,
        default=dict,
        help_text="The modality's structured inputs (JSON object; a JSON string in multipart requests).",
    )

    def validate_modality(self, value):
        if value not in registry.names():
            raise serializers.ValidationError(
                f"'{value}' is not a modality. Choose one of: {', '.join(registry.names())}."
            )
        return value

    def validate_inputs(self, value):
        if isinstance(value, str):
            try:
                value = safe_json.loads(value) if value.strip() else {}
            except safe_json.JSONTooDeep as error:
                raise serializers.ValidationError(str(error)) from None
            except ValueError:
                raise serializers.ValidationError("inputs must be a JSON object.") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("inputs must be a JSON object.")
        return value
