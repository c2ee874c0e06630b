import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.tenancy import TenantModel
from medilens.crypto.blind import BlindIndexField
from medilens.crypto.fields import EncryptedCharField, EncryptedDateField, EncryptedTextField, SealAfterInsert


class Patient(TenantModel):
    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        UNKNOWN = "unknown", "Unknown / not recorded"

    # The key is known before the insert: it is part of every sealed value's associated data.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PHI is sealed under the organization's data key (medilens.crypto); search goes through the blind
    # tokens of PatientSearchToken, and the one-MRN-per-organization rule through mrn_index.
    mrn = EncryptedCharField("medical record number", max_length=64)
    mrn_index = BlindIndexField(source="mrn", kind="mrn-unique")
    given_name = EncryptedCharField(max_length=120)
    family_name = EncryptedCharField(max_length=120)
    date_of_birth = EncryptedDateField()
    postcode = EncryptedCharField(max_length=16, null=True, blank=True)
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices)
    height_cm = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    # Structured history: yes, no, or None for unknown (not asked, not on record). Unknown is never read as
    # "no": an equation that needs the answer asks for it (modalities/cvd_risk/inputs.py).
    has_diabetes = models.BooleanField(null=True, default=False)
    treated_hypertension = models.BooleanField(null=True, default=False)
    current_smoker = models.BooleanField(null=True, default=False)
    on_statin = models.BooleanField(null=True, default=False)
    prior_cardiovascular_disease = models.BooleanField(null=True, default=False)
    history_notes = EncryptedTextField(blank=True)
    # Consent
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Plaintext, for ordering the list and for retention (retention/): the patient's last assessment, edit or
    # sign-off, set by the services that do those (never auto_now: a key rotation or a migration that
    # rewrites rows is not patient activity).
    last_activity_at = models.DateTimeField(default=timezone.now)
    # A legal hold stops the retention purge of this patient until an organization admin releases it.
    legal_hold = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn_index"], name="patient_mrn_index_unique_per_org")
        ]
        indexes = [
            # With the id: a search's top rows by activity come from the index alone (no row fetched).
            models.Index(fields=["organization", "-last_activity_at", "-id"], name="patient_org_activity_idx"),
        ]
        ordering = ["-last_activity_at", "id"]

    def __str__(self):
        # Never PHI: this string reaches logs, admin and error reports.
        return f"Patient {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: date) -> int:
        """Completed years on ``day``: derived, never stored."""
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())

    @property
    def bmi(self) -> float | None:
        if self.height_cm and self.weight_kg:
            metres = float(self.height_cm) / 100
            return round(float(self.weight_kg) / (metres * metres), 1)
        return None

    @property
    def has_consent(self) -> bool:
        return self.consent_recorded_at is not None


class PatientSearchToken(TenantModel):
    """One blind index token of a patient (see assessments/patient_index.py): the HMAC of a normalised MRN,
    MRN prefix, name prefix or date of birth under the organization's index key. Searching compares
    tokens; nothing here can be read back into a name."""

    class Kind(models.TextChoices):
        MRN = "mrn", "Exact MRN"
        MRN_PREFIX = "mrn_prefix", "MRN prefix"
        NAME = "name", "Name prefix"
        DATE_OF_BIRTH = "dob", "Date of birth"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="search_tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    token = models.BinaryField(max_length=16)
    # The patient's last_activity_at, kept equal by patient_services (a stamp updates the patient's ~20
    # tokens): a one-term search takes its most recently active matches from this index alone, where a
    # join to the patient table cost a scan of the organization's whole activity index.
    last_activity_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "token", "-last_activity_at", "patient"], name="patient_search_token_idx"
            )
        ]

    def __str__(self):
        return f"{self.kind} token of patient {self.patient_id}"


class Assessment(TenantModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # Allowed moves; everything else is refused by assessments.status.transition().
    TRANSITIONS = {
        Status.DRAFT: {Status.QUEUED, Status.CANCELLED},
        Status.QUEUED: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.RUNNING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.QUEUED},
        Status.FAILED: {Status.QUEUED},
        Status.COMPLETED: set(),
        Status.CANCELLED: set(),
    }
    FINISHED = {Status.COMPLETED, Status.FAILED, Status.CANCELLED}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    modality = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    inputs = models.JSONField(default=dict, blank=True, help_text="The resolved inputs the analysis ran on.")
    # Results
    risk_score = models.FloatField(null=True, blank=True)
    risk_level = models.CharField(max_length=20, blank=True)
    confidence = models.FloatField(null=True, blank=True, help_text="0-1, or null where the method has none.")
    recommendations = models.JSONField(default=list, blank=True)
    results = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    method_version = models.CharField(max_length=200, blank=True)
    model_version = models.ForeignKey(
        "modalities.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The model that produced the result, for model-backed modalities.",
    )
    # Lifecycle
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    # The task id of the last run_assessment message published for it (status_services.publish): a worker that
    # ran it in a batch knows that message is answered when it comes (assessments.pipeline._claimed_here).
    last_message_id = models.UUIDField(null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    reaper_requeues = models.PositiveIntegerField(default=0)
    # Clinician sign-off: results are preliminary until then.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = EncryptedTextField(blank=True)
    # Signing off a reference model's result (not for clinical use) needs this explicit acknowledgement.
    review_acknowledged_reference_model = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="assessment_org_created_idx"),
            models.Index(fields=["organization", "status"], name="assessment_org_status_idx"),
            models.Index(fields=["organization", "patient", "-created_at"], name="assessment_org_patient_idx"),
            models.Index(fields=["status", "deadline_at"], name="assessment_status_deadline_idx"),
        ]

    def __str__(self):
        return f"{self.modality} assessment {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_preliminary(self) -> bool:
        return self.status == self.Status.COMPLETED and self.reviewed_at is None


class PipelineStage(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=60)
    label = models.CharField(max_length=120, blank=True)
    order = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["order"]
        constraints = [models.UniqueConstraint(fields=["assessment", "name"], name="stage_name_unique")]

    def __str__(self):
        return f"{self.name} ({self.status})"


class BiomarkerValue(TenantModel):
    class Flag(models.TextChoices):
        NORMAL = "normal", "Normal"
        LOW = "low", "Low"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"
        # A biomarker that is itself a risk score, flagged in its score's risk categories (low risk is
        # "normal"): the same words as the assessment's risk level, so the two never disagree.
        BORDERLINE = "borderline", "Borderline"
        INTERMEDIATE = "intermediate", "Intermediate"
        # A measurement with no reference range (e.g. a lesion's area): shown for trend, never "normal".
        NO_RANGE = "none", "No range"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="biomarkers")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=80)
    category = models.CharField(max_length=60)
    value = models.FloatField()
    unit = models.CharField(max_length=40, blank=True)
    reference_low = models.FloatField(null=True, blank=True)
    reference_high = models.FloatField(null=True, blank=True)
    # Whether a value equal to the limit is within the range (its source decides: a systolic 120 mmHg is
    # already "elevated", a heart rate of 100 bpm is not yet tachycardia). Kept with the value, as the
    # flag is, so a stored range reads as it was applied.
    reference_low_inclusive = models.BooleanField(default=True)
    reference_high_inclusive = models.BooleanField(default=True)
    flag = models.CharField(max_length=12, choices=Flag.choices, default=Flag.NORMAL)
    measured_at = models.DateTimeField()

    class Meta:
        ordering = ["category", "name"]
        indexes = [
            # One patient's values of one biomarker over time.
            models.Index(fields=["organization", "patient", "name", "-measured_at"], name="biomarker_history_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "name"], name="biomarker_once_per_assessment"),
        ]

    def __str__(self):
        return f"{self.name}={self.value} {self.unit}"


class UploadedFile(SealAfterInsert, TenantModel):
    class Kind(models.TextChoices):
        INPUT = "input", "Input"
        ATTACHMENT = "attachment", "Attachment"

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INPUT)
    storage_key = models.CharField(max_length=300, unique=True)
    # The name as uploaded often names the patient: sealed like PHI, never shown, signed or used in a key.
    original_filename = EncryptedCharField(max_length=255)
    # What pages, the API and downloads call the file: modality, upload date and index, no PHI
    # (e.g. "cardiology-2026-12-06-1.edf"; attachments "cardiology-document-2026-12-06-1.pdf").
    display_name = models.CharField(max_length=100)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256_original = models.CharField(max_length=64)
    sha256_stored = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.display_name


class AIExplanation(TenantModel):
    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="explanation")
    summary = models.TextField()
    contributions = models.JSONField(default=list, blank=True)
    image_key = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Explanation of {self.assessment_id}"


class Discussion(TenantModel):
    """An assessment's discussion among the clinic's staff (one per assessment). Tables keep their first
    names (chat thread and message): sealed message bodies name their table in their associated data."""

    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="discussion")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "assessments_chatthread"


class DiscussionMessage(SealAfterInsert, TenantModel):
    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="messages", db_column="thread_id")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "assessments_chatmessage"
        ordering = ["created_at"]


class IdempotencyRecord(TenantModel):
    """The outcome of a POST with an Idempotency-Key: its status and the ids of what it created, never
    the response body (patient data). A retry with the same body re-reads those resources. Expires after
    IDEMPOTENCY_KEY_TTL_HOURS (see assessments.api.idempotency)."""

    api_client = models.ForeignKey("accounts.ApiClient", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    resource_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "api_client", "key"], name="idempotency_key_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]


from .version_models import ResultArtifact, ResultVersion  # noqa: E402  (re-exported: one models namespace)

__all__ = [
    "AIExplanation", "Assessment", "BiomarkerValue", "Discussion", "DiscussionMessage", "IdempotencyRecord",
    "Patient", "PatientSearchToken", "PipelineStage", "ResultArtifact", "ResultVersion", "UploadedFile",
]
