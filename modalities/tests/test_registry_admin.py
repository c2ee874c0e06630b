"""Staff manage model versions in Django admin: upload (weights checked against the architecture, never
unpickled; bad files refused as form errors with nothing stored), activate, retire, roll back; all
audited; the reference label shown."""

import hashlib
import html
import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from modalities import runtime, services
from modalities.models import ModelVersion

from .test_registry import random_weights

CHANGELIST = "/admin/modalities/modelversion/"
ADD = CHANGELIST + "add/"
# Any registered modality will do for the form; cvd_risk is always registered.
MODALITY = "cvd_risk"


@pytest.fixture
def staff_user(db):
    return User.objects.create_superuser("models@medilens.example.org", "x" * 16, full_name="Model Admin")


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def _text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


def _post_upload(staff, weights: bytes, filename="model.safetensors", **fields):
    data = {
        "modality": MODALITY,
        "name": "clinic_model",
        "version": "1.0.0",
        "architecture": "small_cnn_v1",
        "input_spec": '{"size": [64, 64], "channels": 1, "mean": [0.5], "std": [0.25]}',
        "output_labels": '["no_finding", "finding"]',
        "intended_use": "Tests.",
        "limitations": "Random weights.",
        "validation_metrics": '{"auc": 0.5}',
        "weights": SimpleUploadedFile(filename, weights, content_type="application/octet-stream"),
    } | fields
    return staff.post(ADD, data)


def _key(weights: bytes, name="clinic_model", version="1.0.0") -> str:
    sha = hashlib.sha256(weights).hexdigest()
    return services.weights_key(modality=MODALITY, name=name, version=version, sha256=sha)


def test_staff_upload_a_version(staff, staff_user):
    weights = random_weights(seed=11)
    response = _post_upload(staff, weights)
    assert response.status_code == 302, _text(response)
    version = ModelVersion.objects.get(name="clinic_model")
    assert version.status == "draft" and version.weights_sha256 == hashlib.sha256(weights).hexdigest()
    assert version.validation_metrics == {"auc": 0.5} and version.created_by == staff_user
    assert default_storage.exists(_key(weights))
    assert AuditEvent.objects.filter(action="model_version.uploaded", target_id=str(version.pk)).exists()
    page = _text(staff.get(f"{CHANGELIST}{version.pk}/change/"))
    assert version.weights_sha256 in page and "Random weights." in page and "brought by staff" in page


def _pickle_bytes() -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({"backbone.0.weight": torch.zeros(8, 1, 3, 3)}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("weights", "fields", "message"),
    [
        (lambda: b"", {}, "The submitted file is empty."),
        (lambda: b"just some text, not weights at all", {}, "not a safetensors file"),
        (_pickle_bytes, {}, "not a safetensors file"),
        (lambda: random_weights(seed=1)[:-100], {}, "truncated"),
        (
            lambda: random_weights(seed=1, architecture="small_cnn_wide_v1"),
            {},
            "do not match architecture small_cnn_v1",
        ),
        (lambda: random_weights(seed=1), {"output_labels": '["a", "b", "c"]'}, "classifier.weight has shape [2, 32]"),
        (lambda: random_weights(seed=1), {"input_spec": '{"size": [64, 64], "channels": 3, "mean": [0.5, 0.5, 0.5], '
                                          '"std": [0.2, 0.2, 0.2]}'}, "backbone.0.weight has shape [8, 1, 3, 3]"),
        (lambda: random_weights(seed=1), {"input_spec": '{"size": [64, 64], "channels": 2}'}, "must be 1 (greyscale)"),
        (lambda: random_weights(seed=1), {"output_labels": '["only_one"]'}, "at least two distinct names"),
        (lambda: random_weights(seed=1), {"version": "1.0"}, "is not a semantic version"),
    ],
    ids=[
        "empty", "text", "torch-pickle", "truncated", "other-architecture", "label-count", "channel-count",
        "bad-input-spec", "one-label", "bad-version",
    ],
)
def test_bad_uploads_are_form_errors_and_nothing_is_stored(staff, weights, fields, message):
    data = weights()
    rows, events = ModelVersion.objects.count(), AuditEvent.objects.count()
    response = _post_upload(staff, data, **fields)
    assert response.status_code == 200, "the form comes back with the error, never a 500"
    assert message in _text(response)
    assert ModelVersion.objects.count() == rows and AuditEvent.objects.count() == events
    if data:
        assert not default_storage.exists(_key(data, version=fields.get("version", "1.0.0")))


def test_a_pickle_is_never_unpickled(staff, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("an uploaded file was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    response = _post_upload(staff, _pickle_bytes())
    assert response.status_code == 200 and "not a safetensors file" in _text(response)


def _versions(staff_user, count):
    return [
        services.upload_model_version(
            acting_user=staff_user, modality=MODALITY, name="clinic_model", version=f"1.{n}.0",
            architecture="small_cnn_v1", weights=random_weights(seed=20 + n),
            input_spec={"size": [64, 64], "channels": 1, "mean": [0.5], "std": [0.25]},
            output_labels=["no_finding", "finding"], intended_use="Tests.", limitations="Random weights.",
        )
        for n in range(count)
    ]


def _action(staff, action, versions):
    return staff.post(CHANGELIST, {"action": action, "_selected_action": [v.pk for v in versions]}, follow=True)


def test_activate_retire_and_roll_back_from_the_changelist(staff, staff_user):
    first, second = _versions(staff_user, 2)
    assert "Activated" in _text(_action(staff, "activate", [first]))
    _action(staff, "activate", [second])
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {"1.0.0": "retired", "1.1.0": "active"}
    assert "Rolled back to" in _text(_action(staff, "roll_back", [second]))
    assert dict(ModelVersion.objects.values_list("version", "status")) == {"1.0.0": "active", "1.1.0": "retired"}
    _action(staff, "retire", [first])
    assert not ModelVersion.objects.filter(status="active").exists()
    actions = list(AuditEvent.objects.filter(action__startswith="model_version.").values_list("action", flat=True))
    assert actions.count("model_version.activated") == 2 and "model_version.rolled_back" in actions
    assert actions.count("model_version.retired") == 2
    assert all(
        e.actor_user == staff_user for e in AuditEvent.objects.filter(action__startswith="model_version.")
    )


def test_activating_two_at_once_is_refused(staff, staff_user):
    versions = _versions(staff_user, 2)
    page = _text(_action(staff, "activate", versions))
    assert "Select exactly one version to activate." in page
    assert not ModelVersion.objects.filter(status="active").exists()


def test_tampered_weights_cannot_be_activated_from_admin(staff, staff_user):
    (version,) = _versions(staff_user, 1)
    from django.core.files.base import ContentFile

    from medilens import storage

    default_storage.delete(version.weights_key)
    storage.store(version.weights_key, ContentFile(b"changed"))
    page = _text(_action(staff, "activate", [version]))
    assert "Could not activate" in page and "integrity check" in page
    version.refresh_from_db()
    assert version.status == "draft"


def test_the_reference_model_is_labelled_and_cannot_be_deleted(staff):
    call_command("register_reference_models", stdout=io.StringIO())
    runtime.clear_cache()
    version = ModelVersion.objects.get(is_reference=True)
    page = _text(staff.get(f"{CHANGELIST}{version.pk}/change/"))
    assert "Reference model: for validating the pipeline, not for clinical use" in page
    assert "Not for clinical use." in page and '"auc"' in page
    assert staff.get(f"{CHANGELIST}{version.pk}/delete/").status_code == 403
    assert "not for clinical use" in _text(staff.get(CHANGELIST))


def test_a_reference_model_needs_the_explicit_admin_action_outside_the_demo(staff):
    call_command("register_reference_models", stdout=io.StringIO())
    version = ModelVersion.objects.get(is_reference=True)
    page = _text(_action(staff, "activate", [version]))
    assert "Could not activate" in page and "not for clinical use" in page
    assert ModelVersion.objects.get(pk=version.pk).status == "draft"
    _action(staff, "activate_reference_model", [version])
    assert ModelVersion.objects.get(pk=version.pk).status == "active"
    event = AuditEvent.objects.get(action="model_version.activated", target_id=str(version.pk))
    assert event.details["explicit_reference_activation"] is True


def test_clinic_members_cannot_reach_the_registry(tenant_a):
    response = tenant_a.client_for("org_admin").get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
