"""Portal forms. They shape and display input; services decide what is valid and save it."""

from django import forms
from django.forms.models import fields_for_model, model_to_dict
from django.forms.utils import ErrorDict
from django.utils import timezone
from rest_framework import serializers

from modalities import inputs as schema_fields
from modalities import registry

from .models import Patient
from .services import PATIENT_FIELDS

PATIENT_LABELS = {
    "mrn": "Medical record number (MRN)",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "postcode": "Postcode",
    "sex_at_birth": "Sex at birth",
    "height_cm": "Height (cm)",
    "weight_kg": "Weight (kg)",
    "has_diabetes": "Diabetes",
    "treated_hypertension": "Treated hypertension",
    "current_smoker": "Current smoker",
    "on_statin": "On a statin",
    "prior_cardiovascular_disease": "Prior cardiovascular disease",
    "history_notes": "History notes",
}

HISTORY_FIELDS = ["has_diabetes", "treated_hypertension", "current_smoker", "on_statin", "prior_cardiovascular_disease"]


class HistorySelect(forms.NullBooleanSelect):
    """Yes, no or unknown for a history item. A ticked checkbox's "on" (older forms, scripts) reads as yes;
    anything not understood reads as unknown, never as no."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", "Unknown"), ("true", "Yes"), ("false", "No")]

    def value_from_datadict(self, data, files, name):
        value = data.get(name)
        if isinstance(value, str) and value.strip().lower() in ("on", "yes"):
            return True
        if isinstance(value, str) and value.strip().lower() == "no":
            return False
        return super().value_from_datadict(data, files, name)


PATIENT_GROUPS = [
    ("Identity", ["mrn", "given_name", "family_name", "date_of_birth", "sex_at_birth", "postcode"]),
    ("Measurements", ["height_cm", "weight_kg"]),
    ("History", ["has_diabetes", "treated_hypertension", "current_smoker", "on_statin",
                 "prior_cardiovascular_disease", "history_notes"]),
]


class PatientForm(forms.Form):
    """The Patient fields as the model declares them, without model validation: services.create_patient
    and services.update_patient check the values (future date of birth, implausible weight, duplicate MRN)
    and their errors are put back on these fields."""

    def __init__(self, *args, patient: Patient | None = None, with_consent: bool = False, **kwargs):
        if patient is not None and "initial" not in kwargs:
            kwargs["initial"] = model_to_dict(patient, fields=PATIENT_FIELDS)
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.fields.update(
            fields_for_model(
                Patient,
                fields=PATIENT_FIELDS,
                labels=PATIENT_LABELS,
                widgets={
                    "mrn": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                    "given_name": forms.TextInput(attrs={"autocomplete": "off"}),
                    "family_name": forms.TextInput(attrs={"autocomplete": "off"}),
                    "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                    "history_notes": forms.Textarea(attrs={"rows": 3}),
                    "postcode": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                    **{name: HistorySelect() for name in HISTORY_FIELDS},
                },
                help_texts={
                    "mrn": "Unique within this organization.",
                    "postcode": "Optional.",
                    "history_notes": "Free text. Avoid copying documents here: attach them to an assessment.",
                },
            )
        )
        if patient is None and not self.is_bound:
            # A new record starts unknown: "no" is an answer someone gives, not a default.
            for name in HISTORY_FIELDS:
                self.fields[name].initial = None
        # The model's blank choice reads "---------"; say what it means.
        self.fields["sex_at_birth"].choices = [("", "Choose…"), *Patient.SexAtBirth.choices]
        if with_consent:
            self.fields["consent"] = forms.BooleanField(
                label="Consent recorded",
                required=False,
                help_text="Tick only if the patient's consent to assessment is on record. Your name and the "
                "time are stored with it.",
            )

    def groups(self):
        """(legend, bound fields) for the template, in display order; nothing is left out."""
        placed = {name for _, names in PATIENT_GROUPS for name in names}
        out = [(legend, [self[name] for name in names if name in self.fields]) for legend, names in PATIENT_GROUPS]
        rest = [self[name] for name in self.fields if name not in placed]
        if rest:
            out.append(("Consent", rest))
        return out

    def service_fields(self) -> dict:
        fields = {name: self.cleaned_data.get(name) for name in PATIENT_FIELDS}
        if self.patient is not None:
            # An edit that does not send a history answer leaves it as recorded (as a ModelForm leaves an
            # omitted field), rather than turning a recorded yes or no into unknown.
            for name in HISTORY_FIELDS:
                if self.fields[name].widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name)):
                    fields.pop(name)
        return fields


class ModalityForm(forms.Form):
    modality = forms.ChoiceField(label="Modality", choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modality"].choices = registry.choices()


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; the content checks (magic bytes, size, type) are the services'."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)) and data:
            return [single(item, initial) for item in data]
        cleaned = single(data, initial)  # raises "required" when the field needs a file
        return [cleaned] if cleaned else []


ATTACHMENT_ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
ATTACHMENT_HELP = (
    "Supporting documents such as a lab report or a referral letter: PDF, JPEG or PNG. Images are stored "
    "without their metadata. The type is checked from the content, not the file name."
)


class UploadsForm(forms.Form):
    """Supporting documents, and input files when the modality takes them."""

    attachments = MultipleFileField(label="Supporting documents", help_text=ATTACHMENT_HELP)

    def __init__(self, *args, analyzer=None, max_upload_mb: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].widget.attrs["accept"] = ATTACHMENT_ACCEPT
        if max_upload_mb:
            self.fields["attachments"].help_text += f" Up to {max_upload_mb} MB per file."
        modality = analyzer.modality if analyzer is not None else None
        accepted = modality.accepted_types if modality is not None else {}
        if accepted:
            extensions = sorted(set(accepted.values()))
            # Not required here: services say so when the modality needs files, in its own words.
            needed = " At least one is needed." if modality.requires_files else ""
            field = MultipleFileField(
                label=f"{modality.label} input files",
                help_text="Accepted: " + ", ".join(e.upper() for e in extensions) + "." + needed,
            )
            field.widget.attrs["accept"] = ",".join([*(f".{e}" for e in extensions), *sorted(accepted)])
            # Input files come first: they are what the analysis runs on.
            self.fields = {"files": field, **self.fields}


class AttachmentForm(forms.Form):
    attachments = MultipleFileField(label="Add supporting documents", required=True, help_text=ATTACHMENT_HELP)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].widget.attrs["accept"] = ATTACHMENT_ACCEPT


class SignOffForm(forms.Form):
    note = forms.CharField(
        label="Review note",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: what you checked, or what follows from these results.",
    )
    acknowledge_reference_model = forms.BooleanField(
        label="I acknowledge this result comes from a reference model, not for clinical use, and will not use it "
        "for a clinical decision",
        required=False,
    )
    # The result version the page showed: a sign-off names the version it signs, and is refused when a
    # re-analysis has replaced it since the page was loaded.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, reference_model: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not reference_model:
            del self.fields["acknowledge_reference_model"]


class DiscussionMessageForm(forms.Form):
    body = forms.CharField(
        label="Message",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write a message first."},
    )


# --- a modality's inputs ------------------------------------------------------------------------------
class InputsForm(forms.Form):
    """A modality's input schema as a form: presentation only. Its fields are made from the schema's (labels,
    help texts, choices) by ``inputs_form``; what is typed goes, as text, to the schema, which validates it (in
    services.create_assessment, as for the API), and its errors are put back on these fields."""

    def full_clean(self):
        self._errors = ErrorDict()
        self.cleaned_data = {}


NOT_RECORDED = ("", "Not recorded")
FLAG_CHOICES = [("", "Unknown"), ("True", "Yes"), ("False", "No")]


def _form_field(field: serializers.Field) -> forms.Field | None:
    """The form field that shows a schema field; None for what the portal does not ask (nested objects)."""
    common = {"label": field.label, "help_text": field.help_text or "", "required": field.required}
    if isinstance(field, schema_fields.Flag):
        # Yes / no, prefilled from the record; "Unknown" when the record does not say, so the person answers
        # (a checkbox could not tell "no" from "not asked", and the schema refuses an unanswered history item).
        return forms.ChoiceField(choices=FLAG_CHOICES, **{**common, "required": False})
    if isinstance(field, serializers.ChoiceField):
        choices = list(field.choices.items())
        if not field.required and field.initial is None:
            choices = [NOT_RECORDED, *choices]
        return forms.ChoiceField(choices=choices, **common)
    if isinstance(field, serializers.IntegerField):
        return forms.IntegerField(**common)
    if isinstance(field, serializers.FloatField):
        return forms.FloatField(**common)
    if isinstance(field, serializers.DateField):
        widget = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "max": timezone.localdate().isoformat()})
        return forms.DateField(widget=widget, **common)
    if isinstance(field, serializers.CharField):
        return forms.CharField(**common)
    return None


def inputs_form(schema, *, prefix: str, data=None, initial=None) -> InputsForm | None:
    """The portal's form for an input schema, or None when the portal asks nothing of it (no schema, or inputs
    that only a device or partner sends, such as the cognitive battery's raw responses)."""
    if schema is None or schema.json_schema is not None:
        return None
    form = InputsForm(data=data, initial=initial, prefix=prefix)
    for name, field in schema().fields.items():
        shown = _form_field(field)
        if shown is not None:
            form.fields[name] = shown
    return form if form.fields else None


# How the portal lays out a modality's input form. Presentation only: the modality's input schema stays the
# one source of fields and validation. A modality not listed here (or a field not named) still renders, in a
# group of its own.
INPUT_GROUPS: dict[str, list[tuple[str, list[str]]]] = {
    "cvd_risk": [
        ("Patient", ["age", "sex", "race"]),
        ("Cholesterol", ["total_cholesterol", "hdl_cholesterol", "cholesterol_unit"]),
        ("Blood pressure", ["systolic_bp", "bp_treated"]),
        ("Kidney function", ["egfr", "creatinine", "creatinine_unit"]),
        ("Other risk factors", ["bmi", "diabetic", "smoker", "statin"]),
        ("When measured", ["measured_on"]),
    ]
}


def input_groups(modality: str, form) -> list[tuple[str, list]]:
    layout = INPUT_GROUPS.get(modality, [])
    placed = set()
    groups = []
    for legend, names in layout:
        fields = [form[name] for name in names if name in form.fields]
        placed.update(names)
        if fields:
            groups.append((legend, fields))
    rest = [form[name] for name in form.fields if name not in placed]
    if rest:
        groups.append(("Inputs" if not groups else "Other inputs", rest))
    return groups
