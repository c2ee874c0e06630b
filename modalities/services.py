"""Every state change of the model registry: upload, activate, retire, roll back.

Keyword-only arguments, an explicit acting user (None for the system, e.g. the demo's
``register_reference_models``), one transaction, the audit event recorded last in it. Errors a person
can fix are ``ValidationError`` with a message meant for them.

Scopes: a version is platform-wide (``organization`` null) or one organization's override. At most one
version is active per (modality, scope); the database enforces it too (partial unique constraints).
Activating a version retires the one it replaces. Rolling back reactivates the version that was active
most recently before the current one (by ``activated_at``) and retires the current one.

Weights: safetensors only, checked against the named architecture before anything is stored, stored
content-addressed at ``models/<modality>/<name>/<version>/<sha256>.safetensors``, and read back and
verified against their SHA-256 before a version is made active (a version whose stored bytes changed
cannot go live).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from medilens import storage

from . import architectures
from .base import AnalysisError
from .models import ModelVersion, validate_semver

DEFAULT_MAX_WEIGHTS_BYTES = 512 * 1024 * 1024
_MODALITY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,119}$")
Status = ModelVersion.Status


def weights_key(*, modality: str, name: str, version: str, sha256: str) -> str:
    return f"models/{modality}/{name}/{version}/{sha256}.safetensors"


def _read(weights: Any) -> bytes:
    limit = int(getattr(settings, "MODEL_MAX_WEIGHTS_BYTES", DEFAULT_MAX_WEIGHTS_BYTES))
    if isinstance(weights, bytes | bytearray):
        data = bytes(weights)
    else:
        if hasattr(weights, "seek"):
            weights.seek(0)
        data = weights.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({"weights": f"The weights file is larger than the {limit // (1024 * 1024)} MB allowed."})
    if not data:
        raise ValidationError({"weights": "The weights file is empty."})
    return data


def _audit_details(version: ModelVersion, **extra) -> dict:
    # "name" is refused in audit details (it usually means a person's name): say "model".
    return {
        "modality": version.modality,
        "model": version.name,
        "version": version.version,
        "sha256": version.weights_sha256,
        "scope": f"organization:{version.organization_id}" if version.organization_id else "platform",
        **extra,
    }


def check_upload(
    *,
    modality: str,
    name: str,
    version: str,
    architecture: str,
    weights: Any,
    input_spec: Any,
    output_labels: Any,
) -> tuple[bytes, dict, list[str], dict[str, str]]:
    """Everything an upload must satisfy, as ValidationError field errors: (bytes, input_spec, labels,
    file metadata). The admin form calls it in ``clean`` so refusals are form errors, not 500s."""
    errors: dict[str, str] = {}
    if not _MODALITY.match(modality or ""):
        errors["modality"] = "A modality is a lower-case name such as 'radiology'."
    if not _NAME.match(name or ""):
        errors["name"] = "A model name is lower-case letters, digits, '_', '-' or '.', e.g. 'cxr_reference_v1'."
    try:
        validate_semver(version)
    except ValidationError as error:
        errors["version"] = error.messages[0]
    if architecture not in architectures.ARCHITECTURES:
        errors["architecture"] = (
            f"'{architecture}' is not an architecture defined in the code. "
            f"Choose one of: {', '.join(architectures.ARCHITECTURES)}."
        )
    try:
        input_spec = architectures.check_input_spec(input_spec)
    except architectures.WeightsError as error:
        errors["input_spec"] = str(error)
    try:
        output_labels = architectures.check_labels(output_labels)
    except architectures.WeightsError as error:
        errors["output_labels"] = str(error)
    try:
        data = _read(weights)
    except ValidationError as error:
        errors.update({field: messages[0] for field, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    try:
        metadata = architectures.check_weights(
            architecture, data, channels=input_spec["channels"], num_labels=len(output_labels)
        )
    except architectures.WeightsError as error:
        raise ValidationError({"weights": str(error)}) from None
    return data, input_spec, output_labels, metadata


def _store_weights(key: str, data: bytes, sha256: str) -> bool:
    """Put the bytes at their content-addressed key; True if this call wrote the object."""
    if default_storage.exists(key):
        with storage.open_object(key) as stored:
            if hashlib.sha256(stored.read()).hexdigest() == sha256:
                return False
        default_storage.delete(key)  # an object at this key with other bytes was tampered with: replace it
    storage.store(key, ContentFile(data))
    return True


def upload_model_version(
    *,
    acting_user,
    modality: str,
    name: str,
    version: str,
    architecture: str,
    weights: Any,
    input_spec: Any,
    output_labels: Any,
    intended_use: str,
    limitations: str,
    validation_metrics: dict | None = None,
    organization=None,
    is_reference: bool = False,
) -> ModelVersion:
    """A new draft version: its weights checked against the architecture (never unpickled), stored, and
    the row created. Activate it separately."""
    data, input_spec, output_labels, _ = check_upload(
        modality=modality,
        name=name,
        version=version,
        architecture=architecture,
        weights=weights,
        input_spec=input_spec,
        output_labels=output_labels,
    )
    errors = {}
    if not (intended_use or "").strip():
        errors["intended_use"] = "Say what the model is for (and, for a reference model, that it is not clinical)."
    if not (limitations or "").strip():
        errors["limitations"] = "Say what the model was not validated for."
    if validation_metrics is not None and not isinstance(validation_metrics, dict):
        errors["validation_metrics"] = 'Validation metrics are an object, e.g. {"auc": 0.91, "dataset": "..."}.'
    if errors:
        raise ValidationError(errors)
    if _exists(modality=modality, name=name, version=version, organization=organization):
        raise ValidationError({"version": f"{name} {version} is already registered for {modality} in this scope."})
    sha256 = hashlib.sha256(data).hexdigest()
    key = weights_key(modality=modality, name=name, version=version, sha256=sha256)
    wrote = _store_weights(key, data, sha256)
    try:
        with transaction.atomic():
            model_version = ModelVersion.objects.create(
                modality=modality,
                name=name,
                version=version,
                architecture=architecture,
                format=ModelVersion.Format.SAFETENSORS,
                weights_key=key,
                weights_sha256=sha256,
                weights_size=len(data),
                input_spec=input_spec,
                output_labels=output_labels,
                intended_use=intended_use.strip(),
                limitations=limitations.strip(),
                validation_metrics=validation_metrics or {},
                is_reference=is_reference,
                organization=organization,
                status=Status.DRAFT,
                created_by=acting_user if getattr(acting_user, "pk", None) else None,
            )
            audit.record(
                action="model_version.uploaded",
                actor=acting_user,
                organization=organization,
                target=model_version,
                details=_audit_details(
                    model_version, architecture=architecture, size=len(data), is_reference=is_reference
                ),
            )
    except IntegrityError:
        if wrote:
            storage.delete_quietly([key])
        raise ValidationError(
            {"version": f"{name} {version} is already registered for {modality} in this scope."}
        ) from None
    except Exception:
        if wrote:
            storage.delete_quietly([key])
        raise
    return model_version


def _exists(*, modality, name, version, organization) -> bool:
    return ModelVersion.objects.filter(
        modality=modality, name=name, version=version, organization=organization
    ).exists()


def verify_stored_weights(model_version: ModelVersion) -> None:
    """Read the stored weights back and compare their SHA-256 with the registered one."""
    from .runtime import _read_weights

    try:
        data = _read_weights(model_version)
    except AnalysisError as error:
        raise ValidationError(error.reason) from None
    if hashlib.sha256(data).hexdigest() != model_version.weights_sha256:
        raise ValidationError(
            f"The weights of model {model_version.name} {model_version.version} failed their integrity check "
            "(SHA-256 mismatch); the version was not activated."
        )


def _scope(model_version: ModelVersion):
    return ModelVersion.objects.filter(
        modality=model_version.modality, organization_id=model_version.organization_id
    )


def _lock_scope(modality: str, organization_id: int | None) -> list[ModelVersion]:
    """Lock every version of one (modality, scope): concurrent activations of that scope queue here."""
    return list(
        ModelVersion.objects.select_for_update()
        .filter(modality=modality, organization_id=organization_id)
        .order_by("pk")
    )


def _retire(acting_user, version: ModelVersion, **details) -> None:
    version.status = Status.RETIRED
    version.save(update_fields=["status"])
    audit.record(
        action="model_version.retired",
        actor=acting_user,
        organization=version.organization,
        target=version,
        details=_audit_details(version, **details),
    )


def _make_active(acting_user, version: ModelVersion) -> None:
    version.status = Status.ACTIVE
    version.activated_by = acting_user if getattr(acting_user, "pk", None) else None
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "activated_by", "activated_at"])


REFERENCE_ACTIVATION_REFUSED = (
    "{model} is a reference model (trained on generated data, not for clinical use): it is activated "
    "automatically only on the embedded demo. Outside it, activate it only with the explicit reference-model "
    "action, which is recorded in the audit log."
)


def _check_reference_activation(version: ModelVersion, allow_reference: bool) -> dict:
    """A reference model's results are never for clinical use: outside the embedded demo (no DATABASE_URL)
    it is activated only by an explicit, audited step. Returns what the audit event adds."""
    if not version.is_reference:
        return {}
    if not settings.EMBEDDED and not allow_reference:
        raise ValidationError(REFERENCE_ACTIVATION_REFUSED.format(model=f"{version.name} {version.version}"))
    return {"reference_model": True, "explicit_reference_activation": bool(allow_reference)}


def activate_model_version(*, acting_user, model_version: ModelVersion, allow_reference: bool = False) -> ModelVersion:
    """Make this version the active one of its modality and scope; the one it replaces is retired.
    ``allow_reference``: the explicit step a reference model needs outside the embedded demo."""
    reference = _check_reference_activation(model_version, allow_reference)
    verify_stored_weights(model_version)
    with transaction.atomic():
        versions = {v.pk: v for v in _lock_scope(model_version.modality, model_version.organization_id)}
        target = versions[model_version.pk]
        if target.status == Status.ACTIVE:
            return target
        previous = next((v for v in versions.values() if v.status == Status.ACTIVE), None)
        if previous is not None:
            _retire(acting_user, previous, replaced_by=target.pk)
        _make_active(acting_user, target)
        audit.record(
            action="model_version.activated",
            actor=acting_user,
            organization=target.organization,
            target=target,
            details=_audit_details(target, previous_id=previous.pk if previous else None, **reference),
        )
    return target


def retire_model_version(*, acting_user, model_version: ModelVersion) -> ModelVersion:
    """Take a version out of use. If it was active, its scope has none until another is activated (an
    organization then falls back to the platform's version)."""
    with transaction.atomic():
        versions = {v.pk: v for v in _lock_scope(model_version.modality, model_version.organization_id)}
        target = versions[model_version.pk]
        if target.status == Status.RETIRED:
            return target
        _retire(acting_user, target, was_active=target.status == Status.ACTIVE)
    return target


def previous_version(*, modality: str, organization=None) -> ModelVersion | None:
    """The version a rollback would reactivate: the most recently activated one other than the current."""
    organization_id = organization.pk if organization is not None else None
    return (
        ModelVersion.objects.filter(modality=modality, organization_id=organization_id, activated_at__isnull=False)
        .exclude(status=Status.ACTIVE)
        .order_by("-activated_at", "-pk")
        .first()
    )


def rollback_model_version(
    *, acting_user, modality: str, organization=None, allow_reference: bool = False
) -> ModelVersion:
    """Reactivate the previously active version of this modality and scope; retire the current one. A
    reference model comes back only as activation would let it (see ``_check_reference_activation``)."""
    organization_id = organization.pk if organization is not None else None
    scope_label = f"{modality} ({organization.name if organization is not None else 'platform-wide'})"
    target = previous_version(modality=modality, organization=organization)
    if target is None:
        raise ValidationError(f"There is no earlier version of the {scope_label} model to roll back to.")
    reference = _check_reference_activation(target, allow_reference)
    verify_stored_weights(target)
    with transaction.atomic():
        versions = {v.pk: v for v in _lock_scope(modality, organization_id)}
        if previous_version(modality=modality, organization=organization) != target:
            raise ValidationError(f"The {scope_label} models changed while rolling back; try again.")
        target = versions[target.pk]
        current = next((v for v in versions.values() if v.status == Status.ACTIVE), None)
        if current is not None:
            current.status = Status.RETIRED
            current.save(update_fields=["status"])
        _make_active(acting_user, target)
        audit.record(
            action="model_version.rolled_back",
            actor=acting_user,
            organization=target.organization,
            target=target,
            details=_audit_details(target, from_version_id=current.pk if current else None, **reference),
        )
    return target
