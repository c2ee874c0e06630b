"""Model registry in Django admin: staff upload versions (safetensors weights checked against an
architecture defined in the code; never unpickled), activate, retire and roll back, all through
``modalities.services`` and audited."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from medilens.admin import AuditedModelAdmin

from . import architectures, registry, services
from .models import ModelVersion

REFERENCE_LABEL = "Reference model: for validating the pipeline, not for clinical use"


def _modality_choices():
    return registry.choices()


class ModelVersionUploadForm(forms.ModelForm):
    modality = forms.ChoiceField(choices=_modality_choices)
    architecture = forms.ChoiceField(choices=architectures.choices)
    weights = forms.FileField(
        help_text="A .safetensors file whose tensors match the architecture exactly. Pickled files "
        "(.pt, .pth, .bin) are refused: loading them can run code."
    )
    input_spec = forms.JSONField(
        initial={"size": [128, 128], "channels": 1, "mean": [0.5], "std": [0.25]},
        help_text='{"size": [height, width], "channels": 1 or 3, "mean": [one per channel], "std": [...]}; '
        "images are given to the model in 0..1, resized to this size, then normalised.",
    )
    output_labels = forms.JSONField(initial=["no_finding", "finding"], help_text="The network's outputs, in order.")
    validation_metrics = forms.JSONField(
        required=False, initial=dict, help_text='e.g. {"auc": 0.91, "dataset": "which data, how many"}'
    )

    class Meta:
        model = ModelVersion
        fields = [
            "modality", "organization", "name", "version", "architecture", "weights", "input_spec",
            "output_labels", "intended_use", "limitations", "validation_metrics", "is_reference",
        ]

    def clean(self):
        data = super().clean()
        if self.errors or not data.get("weights"):
            return data
        try:
            services.check_upload(
                modality=data["modality"],
                name=data["name"],
                version=data["version"],
                architecture=data["architecture"],
                weights=data["weights"],
                input_spec=data["input_spec"],
                output_labels=data["output_labels"],
            )
        except ValidationError as error:
            self.add_error(None, error)
        return data


class ModelVersionEditForm(forms.ModelForm):
    class Meta:
        model = ModelVersion
        fields = ["intended_use", "limitations"]


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedModelAdmin):
    list_display = [
        "name", "version", "modality", "scope", "status", "reference_model", "activated_at", "activated_by",
    ]
    list_filter = ["modality", "status", "is_reference", "organization"]
    search_fields = ["name", "version", "modality", "weights_sha256"]
    ordering = ["modality", "-created_at"]
    actions = ["activate", "activate_reference_model", "retire", "roll_back"]
    readonly = [
        "reference_notice", "modality", "organization", "name", "version", "architecture", "format", "status",
        "weights_key", "weights_sha256", "weights_size", "input_spec_display", "output_labels",
        "validation_metrics_display", "activated_by", "activated_at", "created_by", "created_at",
    ]

    # --- pages -------------------------------------------------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ModelVersionEditForm if obj is not None else ModelVersionUploadForm
        if obj is None:
            kwargs["fields"] = ModelVersionUploadForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ModelVersionUploadForm.Meta.fields
        return [*self.readonly[:1], "intended_use", "limitations", *self.readonly[1:]]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Results name the version that produced them: versions are retired, never deleted.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created = services.upload_model_version(
            acting_user=request.user,
            modality=data["modality"],
            name=data["name"],
            version=data["version"],
            architecture=data["architecture"],
            weights=data["weights"],
            input_spec=data["input_spec"],
            output_labels=data["output_labels"],
            intended_use=data["intended_use"],
            limitations=data["limitations"],
            validation_metrics=data.get("validation_metrics") or {},
            organization=data.get("organization"),
            is_reference=data.get("is_reference", False),
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    # --- columns -----------------------------------------------------------------------------------------
    @admin.display(description="Scope")
    def scope(self, obj):
        return obj.organization.name if obj.organization_id else "platform-wide"

    @admin.display(description="Use", ordering="is_reference")
    def reference_model(self, obj):
        return "Reference model: not for clinical use" if obj.is_reference else "Clinical model brought by staff"

    @admin.display(description="Label")
    def reference_notice(self, obj):
        if obj.is_reference:
            return format_html("<strong>{}</strong>", REFERENCE_LABEL)
        return "A model brought by staff; check its intended use and limitations."

    @admin.display(description="Input specification")
    def input_spec_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.input_spec, indent=2, sort_keys=True))

    @admin.display(description="Validation metrics")
    def validation_metrics_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.validation_metrics, indent=2, sort_keys=True))

    # --- actions -----------------------------------------------------------------------------------------
    def _run(self, request, what, call):
        try:
            result = call()
        except ValidationError as error:
            self.message_user(request, f"Could not {what}: {' '.join(error.messages)}", messages.ERROR)
            return None
        return result

    @admin.action(description="Activate the selected version (retires the active one of its modality and scope)")
    def activate(self, request, queryset):
        self._activate(request, queryset, allow_reference=False)

    @admin.action(
        description="Activate a REFERENCE model (not for clinical use; its results are marked so everywhere; audited)"
    )
    def activate_reference_model(self, request, queryset):
        if queryset.exclude(is_reference=True).exists():
            self.message_user(request, "This action is for reference models only.", messages.ERROR)
            return
        self._activate(request, queryset, allow_reference=True)

    def _activate(self, request, queryset, *, allow_reference: bool):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        activated = self._run(
            request,
            "activate",
            lambda: services.activate_model_version(
                acting_user=request.user, model_version=version, allow_reference=allow_reference
            ),
        )
        if activated is not None:
            self.message_user(request, f"Activated {activated}.", messages.SUCCESS)

    @admin.action(description="Retire the selected versions")
    def retire(self, request, queryset):
        for version in queryset:
            services.retire_model_version(acting_user=request.user, model_version=version)
        self.message_user(request, f"Retired {queryset.count()} version(s).", messages.SUCCESS)

    @admin.action(description="Roll back: reactivate the previously active version of the selected one's modality")
    def roll_back(self, request, queryset):
        scopes = {(v.modality, v.organization) for v in queryset.select_related("organization")}
        for modality, organization in sorted(scopes, key=lambda s: (s[0], s[1].pk if s[1] else 0)):
            restored = self._run(
                request,
                "roll back",
                lambda modality=modality, organization=organization: services.rollback_model_version(
                    acting_user=request.user, modality=modality, organization=organization
                ),
            )
            if restored is not None:
                self.message_user(request, f"Rolled back to {restored}.", messages.SUCCESS)
