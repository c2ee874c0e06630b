"""The organization's assessments as a list: the filters a clinic asks for, validated by a form, and the
review worklist (completed, not signed off, highest risk first, oldest first within a level).

Risk levels are compared by their order (low < borderline < intermediate < high), never by score: scores
of different modalities are on different scales, their levels are not.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from modalities import registry

from .models import Assessment, Patient

RISK_ORDER = ["low", "borderline", "intermediate", "high"]
RISK_LABELS = {"low": "Low", "borderline": "Borderline", "intermediate": "Intermediate", "high": "High"}

# sort key -> (label, ordering); "risk" puts the highest level first, then the oldest request.
SORTS = {
    "newest": ("Newest request first", ("-created_at", "-id")),
    "oldest": ("Oldest request first", ("created_at", "id")),
    "risk": ("Highest risk first", ("-risk_rank", "created_at", "id")),
    "completed": ("Most recently completed first", ("-completed_at", "-created_at", "-id")),
}
REVIEW_ORDER = ("-risk_rank", "completed_at", "created_at", "id")
# The longest date range a filter may span keeps a typo ("0202-01-01") from being read as a wish.
EARLIEST_YEAR = 2000


def with_risk_rank(queryset: QuerySet[Assessment]) -> QuerySet[Assessment]:
    """``risk_rank``: 1 (low) to 4 (high), 0 with no level (failed, running, a modality without levels)."""
    whens = [When(risk_level=level, then=Value(rank)) for rank, level in enumerate(RISK_ORDER, start=1)]
    return queryset.annotate(risk_rank=Case(*whens, default=Value(0), output_field=IntegerField()))


def listed(queryset: QuerySet[Assessment]) -> QuerySet[Assessment]:
    """What a row shows, in one query: the patient, who signed off, the model version (for its notice)."""
    return with_risk_rank(queryset).select_related("patient", "reviewed_by", "model_version")


def to_review() -> QuerySet[Assessment]:
    """Completed results nobody has signed off, highest risk first, then the longest waiting."""
    waiting = Assessment.objects.filter(status=Assessment.Status.COMPLETED, reviewed_at__isnull=True)
    return listed(waiting).order_by(*REVIEW_ORDER)


def to_review_count() -> int:
    return Assessment.objects.filter(status=Assessment.Status.COMPLETED, reviewed_at__isnull=True).count()


class AssessmentFilterForm(forms.Form):
    """The list's query string. Every field is optional; a malformed value is a field error, shown on the
    page with a 400, never a silently ignored filter."""

    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Assessment.Status.choices])
    modality = forms.ChoiceField(required=False)
    risk = forms.ChoiceField(
        required=False, label="Risk level", choices=[("", "Any risk level"), *RISK_LABELS.items()]
    )
    signed_off = forms.ChoiceField(
        required=False, label="Signed off", choices=[("", "Either"), ("yes", "Signed off"), ("no", "Not signed off")]
    )
    requested_from = forms.DateField(
        required=False, label="Requested from", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    requested_to = forms.DateField(
        required=False, label="Requested to", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    patient = forms.UUIDField(required=False, widget=forms.HiddenInput)
    sort = forms.ChoiceField(
        required=False, label="Sort by", choices=[(key, label) for key, (label, _) in SORTS.items()]
    )

    def __init__(self, *args, results: bool = True, **kwargs):
        """``results``: whether the user may see results. Without it, filtering or sorting by risk level
        would tell which patients are high risk: those fields are not offered (a value sent is ignored)."""
        super().__init__(*args, **kwargs)
        self.fields["modality"].choices = [("", "Any modality"), *registry.choices()]
        if not results:
            del self.fields["risk"]
            self.fields["sort"].choices = [choice for choice in self.fields["sort"].choices if choice[0] != "risk"]
        self.patient_record: Patient | None = None

    def clean_requested_from(self):
        return self._plausible(self.cleaned_data.get("requested_from"))

    def clean_requested_to(self):
        return self._plausible(self.cleaned_data.get("requested_to"))

    @staticmethod
    def _plausible(day):
        if day is not None and not (EARLIEST_YEAR <= day.year <= timezone.localdate().year + 1):
            raise forms.ValidationError(f"Enter a date between {EARLIEST_YEAR} and next year.")
        return day

    def clean_patient(self):
        # Looked up in the organization's scope: another clinic's patient is "not found", as a missing one.
        pk = self.cleaned_data.get("patient")
        if pk is None:
            return None
        self.patient_record = Patient.objects.filter(pk=pk).first()
        if self.patient_record is None:
            raise forms.ValidationError("That patient was not found in this organization.")
        return pk

    def clean(self):
        data = super().clean()
        start, end = data.get("requested_from"), data.get("requested_to")
        if start and end and start > end:
            self.add_error("requested_to", "The end of the range is before its start.")
        return data

    def active_filters(self) -> dict:
        """The filters in use, as the audit event records them (no free text: every value is a choice,
        a date or an id)."""
        return {name: str(value) for name, value in self.cleaned_data.items() if value not in (None, "")}

    def apply(self, queryset: QuerySet[Assessment]) -> QuerySet[Assessment]:
        data = self.cleaned_data
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("modality"):
            queryset = queryset.filter(modality=data["modality"])
        if data.get("risk"):
            queryset = queryset.filter(risk_level=data["risk"])
        if data.get("signed_off") == "yes":
            queryset = queryset.filter(reviewed_at__isnull=False)
        elif data.get("signed_off") == "no":
            queryset = queryset.filter(reviewed_at__isnull=True)
        if data.get("requested_from"):
            queryset = queryset.filter(created_at__gte=_start_of(data["requested_from"]))
        if data.get("requested_to"):
            queryset = queryset.filter(created_at__lt=_start_of(data["requested_to"] + timedelta(days=1)))
        if data.get("patient"):
            queryset = queryset.filter(patient_id=data["patient"])
        return queryset.order_by(*SORTS[data.get("sort") or "newest"][1])


def _start_of(day) -> datetime:
    """Midnight of ``day`` in the portal's time zone: a clinic's "6 December" is its own day."""
    return timezone.make_aware(datetime.combine(day, time.min))
