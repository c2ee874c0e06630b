"""Model registry and runtime against the real S3 test server and PostgreSQL: integrity check of stored
weights, retired versions, activation and rollback (one active per scope, audited), organization
overrides, the bounded model cache, and torch staying out of processes that never run a model."""

import hashlib
import io
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.test import override_settings

from accounts.models import User
from audit.models import AuditEvent
from medilens import storage
from modalities import runtime, services
from modalities.base import AnalysisError
from modalities.models import ModelVersion

MODALITY = "radiology"
SPEC = {"size": [64, 64], "channels": 1, "mean": [0.5], "std": [0.25]}
LABELS = ["no_finding", "finding"]


def random_weights(*, seed: int = 0, architecture: str = "small_cnn_v1", channels: int = 1, labels: int = 2) -> bytes:
    """safetensors bytes of a randomly initialised network (tests need valid weights, not good ones)."""
    import torch
    from safetensors.torch import save

    from modalities.architectures import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = build(architecture, channels=channels, num_labels=labels)
    return save({name: tensor.contiguous() for name, tensor in network.state_dict().items()})


def upload(*, version: str = "1.0.0", seed: int = 0, organization=None, acting_user=None, name="test_cxr", **extra):
    fields = {
        "modality": MODALITY,
        "name": name,
        "version": version,
        "architecture": "small_cnn_v1",
        "weights": random_weights(seed=seed),
        "input_spec": SPEC,
        "output_labels": LABELS,
        "intended_use": "Tests of the registry.",
        "limitations": "Random weights.",
    } | extra
    return services.upload_model_version(acting_user=acting_user, organization=organization, **fields)


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("models@medilens.example.org", "x" * 16, full_name="Model Admin")


@pytest.fixture(autouse=True)
def _empty_cache():
    runtime.clear_cache()
    yield
    runtime.clear_cache()


def _actions(version) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="modalities.modelversion", target_id=str(version.pk))
        .order_by("occurred_at", "id")
        .values_list("action", flat=True)
    )


# --- upload and integrity ----------------------------------------------------------------------------------
def test_upload_stores_weights_content_addressed_and_audits(staff):
    data = random_weights(seed=3)
    version = upload(acting_user=staff, weights=data)
    digest = hashlib.sha256(data).hexdigest()
    assert version.weights_sha256 == digest and version.weights_size == len(data)
    assert version.weights_key == f"models/{MODALITY}/test_cxr/1.0.0/{digest}.safetensors"
    with default_storage.open(version.weights_key, "rb") as stored:
        assert stored.read() == data
    assert version.status == ModelVersion.Status.DRAFT and version.created_by == staff
    event = AuditEvent.objects.get(action="model_version.uploaded", target_id=str(version.pk))
    assert event.actor_user == staff and event.details["sha256"] == digest and event.organization is None


def test_tampered_weights_fail_the_load_with_the_reason_and_are_not_used(staff):
    version = upload(acting_user=staff)
    default_storage.delete(version.weights_key)
    storage.store(version.weights_key, ContentFile(random_weights(seed=99)))  # other, well-formed weights
    with pytest.raises(AnalysisError) as refused:
        runtime.load(version)
    assert refused.value.reason == (
        "The weights of model test_cxr 1.0.0 failed their integrity check (SHA-256 mismatch); the model was not used."
    )
    assert runtime.cached_keys() == []
    with pytest.raises(ValidationError, match="integrity check"):
        services.activate_model_version(acting_user=staff, model_version=version)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.DRAFT


def test_missing_weights_are_a_readable_failure(staff):
    version = upload(acting_user=staff)
    default_storage.delete(version.weights_key)
    with pytest.raises(AnalysisError, match="missing from storage; the model was not used"):
        runtime.load(version)


def test_a_retired_version_is_refused(staff):
    version = upload(acting_user=staff)
    services.activate_model_version(acting_user=staff, model_version=version)
    services.retire_model_version(acting_user=staff, model_version=version)
    version.refresh_from_db()
    with pytest.raises(AnalysisError, match="test_cxr 1.0.0 is retired and was not used"):
        runtime.load(version)
    assert runtime.active_model(MODALITY, None) is None
    assert _actions(version) == ["model_version.uploaded", "model_version.activated", "model_version.retired"]


def test_a_format_the_workers_do_not_run_is_refused_before_reading_weights(staff):
    # safetensors is the only Format choice; a row changed behind the model's back (raw SQL, a shell) is
    # still refused by the worker rather than handed to a loader that does not exist.
    version = upload(acting_user=staff)
    ModelVersion.objects.filter(pk=version.pk).update(format="onnx")
    version.refresh_from_db()
    with pytest.raises(AnalysisError, match="in the format 'onnx', which the workers do not run"):
        runtime.load(version)
    assert runtime.cached_keys() == []


def test_a_version_already_registered_in_the_scope_is_refused(staff, tenant_a):
    upload(acting_user=staff)
    with pytest.raises(ValidationError, match="already registered"):
        upload(acting_user=staff, seed=1)
    # The same name and version as an organization's own model is another scope: allowed.
    assert upload(acting_user=staff, organization=tenant_a.organization).organization == tenant_a.organization


# --- activation and rollback ---------------------------------------------------------------------------------
def test_activation_keeps_one_active_version_and_is_audited(staff):
    first, second = upload(acting_user=staff, version="1.0.0"), upload(acting_user=staff, version="1.1.0", seed=1)
    services.activate_model_version(acting_user=staff, model_version=first)
    services.activate_model_version(acting_user=staff, model_version=second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    assert second.activated_by == staff and second.activated_at is not None
    assert runtime.active_model(MODALITY, None) == second
    assert _actions(first) == ["model_version.uploaded", "model_version.activated", "model_version.retired"]
    assert _actions(second) == ["model_version.uploaded", "model_version.activated"]
    activated = AuditEvent.objects.filter(action="model_version.activated", target_id=str(second.pk)).get()
    assert activated.details["previous_id"] == first.pk and activated.actor_user == staff
    # Activating the active version again changes nothing and records nothing.
    services.activate_model_version(acting_user=staff, model_version=second)
    assert _actions(second) == ["model_version.uploaded", "model_version.activated"]
    # The database refuses a second active platform version even if code went around the services.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=first.pk).update(status="active")


def test_rollback_reactivates_the_previous_version(staff):
    versions = [upload(acting_user=staff, version=f"1.{n}.0", seed=n) for n in range(3)]
    for version in versions:
        services.activate_model_version(acting_user=staff, model_version=version)
    restored = services.rollback_model_version(acting_user=staff, modality=MODALITY)
    assert restored == versions[1]
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {"1.0.0": "retired", "1.1.0": "active", "1.2.0": "retired"}
    event = AuditEvent.objects.get(action="model_version.rolled_back")
    assert event.target_id == str(versions[1].pk) and event.details["from_version_id"] == versions[2].pk
    assert runtime.active_model(MODALITY, None) == versions[1]


def test_rollback_without_an_earlier_version_is_refused(staff):
    only = upload(acting_user=staff)
    with pytest.raises(ValidationError, match="no earlier version"):
        services.rollback_model_version(acting_user=staff, modality=MODALITY)
    services.activate_model_version(acting_user=staff, model_version=only)
    with pytest.raises(ValidationError, match="no earlier version"):
        services.rollback_model_version(acting_user=staff, modality=MODALITY)
    only.refresh_from_db()
    assert only.status == "active"


def test_an_organization_override_wins_over_the_platform_version(staff, tenant_a, tenant_b):
    platform = upload(acting_user=staff, version="1.0.0")
    override = upload(acting_user=staff, version="2.0.0", seed=1, organization=tenant_a.organization)
    services.activate_model_version(acting_user=staff, model_version=platform)
    services.activate_model_version(acting_user=staff, model_version=override)
    platform.refresh_from_db()
    assert platform.status == "active", "an organization's activation does not retire the platform version"
    assert runtime.active_model(MODALITY, tenant_a.organization.pk) == override
    assert runtime.active_model(MODALITY, tenant_b.organization.pk) == platform
    assert runtime.active_model(MODALITY, None) == platform
    assert runtime.active_model("dermatology", tenant_a.organization.pk) is None
    event = AuditEvent.objects.get(action="model_version.activated", target_id=str(override.pk))
    assert event.organization == tenant_a.organization, "an override's events go to that organization's chain"
    services.retire_model_version(acting_user=staff, model_version=override)
    assert runtime.active_model(MODALITY, tenant_a.organization.pk) == platform


# --- the cache ---------------------------------------------------------------------------------------------
def test_the_cache_keeps_the_two_most_recently_used_models(staff, monkeypatch):
    opened = []
    real_open = storage.open_object

    def counting_open(key):
        opened.append(key)
        return real_open(key)

    first, second, third = (upload(acting_user=staff, version=f"1.{n}.0", seed=n) for n in range(3))
    monkeypatch.setattr(storage, "open_object", counting_open)
    with override_settings(MODEL_CACHE_SIZE=2):
        loaded_first = runtime.load(first)
        assert runtime.load(first) is loaded_first, "a cache hit returns the same network"
        runtime.load(second)
        assert len(opened) == 2
        runtime.load(third)  # evicts first, the least recently used
        assert [key[0] for key in runtime.cached_keys()] == [second.pk, third.pk]
        runtime.load(second)  # a hit: no storage read
        assert len(opened) == 3
        reloaded = runtime.load(first)  # read from storage again, evicting third
        assert len(opened) == 4 and opened[-1] == first.weights_key
        assert reloaded is not loaded_first
        assert [key[0] for key in runtime.cached_keys()] == [second.pk, first.pk]


def test_the_cache_key_includes_the_sha256(staff):
    """A row whose SHA-256 changed (weights re-registered) is never served the network built from the old
    bytes: the new key misses, the read is verified against the new digest and refused here."""
    version = upload(acting_user=staff)
    runtime.load(version)
    version.weights_sha256 = "0" * 64
    with pytest.raises(AnalysisError, match="integrity check"):
        runtime.load(version)


# --- the safetensors header, read by safetensors.safe_open ------------------------------------------------
def _with_header(header: dict, body: bytes) -> bytes:
    import json
    import struct

    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def _damaged_weights() -> dict[str, bytes]:
    import numpy as np
    from safetensors.numpy import save

    good = save({"a": np.zeros((2, 3), np.float32), "b": np.ones(4, np.float16)}, metadata={"source": "test"})
    length = int.from_bytes(good[:8], "little")
    body = good[8 + length :]
    a = {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    b = {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]}
    return {
        "text": b"just some text, not weights at all",
        "too short": b"abc",
        "header not JSON": (4).to_bytes(8, "little") + b"abcd",
        "truncated": good[:-10],
        "padded": good + bytes(8),
        "gap between tensors": _with_header({"a": {**a, "data_offsets": [0, 20]}, "b": b}, body),
        "overlapping tensors": _with_header({"a": a, "b": {**b, "data_offsets": [16, 32]}}, body),
        "shape and bytes disagree": _with_header({"a": {**a, "shape": [3, 3]}, "b": b}, body),
        "metadata not text": _with_header({"__metadata__": {"source": 1}, "a": a, "b": b}, body),
    }


def test_the_safetensors_header_is_read_without_torch_and_damage_is_refused():
    import numpy as np
    from safetensors.numpy import save

    from modalities.architectures import WeightsError, read_safetensors_header

    data = save({"a": np.zeros((2, 3), np.float32), "b": np.ones(4, np.float16)}, metadata={"source": "test"})
    assert read_safetensors_header(data) == (
        {"a": {"dtype": "F32", "shape": [2, 3]}, "b": {"dtype": "F16", "shape": [4]}},
        {"source": "test"},
    )
    for case, damaged in _damaged_weights().items():
        with pytest.raises(WeightsError, match="not a safetensors file") as refused:
            read_safetensors_header(damaged)
        if case in ("truncated", "padded"):
            assert "truncated" in str(refused.value)


# --- inference on random weights -----------------------------------------------------------------------------
def test_predict_and_saliency_contract(staff):
    import numpy as np

    model = runtime.load(upload(acting_user=staff))
    assert model.labels == LABELS and model.input_spec == SPEC
    rng = np.random.default_rng(0)
    for image in (rng.random((300, 200), dtype=np.float32), rng.random((90, 120, 3), dtype=np.float32)):
        probabilities = model.predict(image)
        assert list(probabilities) == LABELS
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-9)  # softmax in float64
        assert all(0 <= p <= 1 for p in probabilities.values())
        heat = model.saliency(image, "finding")
        assert heat.shape == image.shape[:2] and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() <= 1
    with pytest.raises(AnalysisError, match="not 0 to 1"):
        model.predict(np.full((32, 32), 255, dtype=np.float32))
    with pytest.raises(AnalysisError, match="greyscale or RGB"):
        model.predict(np.zeros((4, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="not an output"):
        model.saliency(np.zeros((32, 32), dtype=np.float32), "pneumothorax")


def test_saliency_works_inside_inference_mode(staff):
    import numpy as np
    import torch

    model = runtime.load(upload(acting_user=staff))
    with torch.inference_mode():
        heat = model.saliency(np.random.default_rng(1).random((64, 64), dtype=np.float32), "finding")
    assert heat.shape == (64, 64)


def test_heatmap_overlay_is_a_png_of_the_image_size():
    import numpy as np
    from PIL import Image

    image = np.linspace(0, 1, 120 * 80, dtype=np.float32).reshape(120, 80)
    heat = np.zeros((10, 10), dtype=np.float32)
    heat[5, 5] = 1
    png = runtime.heatmap_overlay_png(image, heat)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.size == (80, 120) and picture.mode == "RGB"
    big = runtime.heatmap_overlay_png(np.zeros((3000, 1500), dtype=np.float32), heat)
    assert Image.open(io.BytesIO(big)).size == (512, 1024), "explanations are scaled to 1024 px at most"


def test_the_overlay_colours_heat_on_the_jet_scale_and_leaves_cold_pixels_as_they_were():
    """Half opacity at full heat: a grey 0.5 pixel becomes half grey, half jet's top colour (dark red,
    RGB 0.5, 0, 0); a pixel with no heat keeps the image's own grey; mid heat is jet's green."""
    import numpy as np
    from PIL import Image

    image = np.full((40, 30), 0.5, dtype=np.float32)
    heat = np.zeros((40, 30), dtype=np.float32)
    heat[:, 20:] = 1.0
    heat[:, 10:20] = 0.5
    pixels = np.asarray(Image.open(io.BytesIO(runtime.heatmap_overlay_png(image, heat))).convert("RGB")).astype(int)
    grey = round(0.5 * 255)
    assert np.abs(pixels[20, 2] - [grey, grey, grey]).max() <= 1
    hot = pixels[20, 25]
    assert abs(hot[0] - (0.5 * grey + 0.5 * 127.5)) <= 2 and abs(hot[1] - 0.5 * grey) <= 2 and hot[1] == hot[2]
    middle = pixels[20, 15]
    assert middle[1] > middle[0] and middle[1] > middle[2], "the middle of jet is green"


# --- torch in the processes -----------------------------------------------------------------------------------
def test_configure_torch_sets_the_thread_count():
    import torch

    before = torch.get_num_threads()
    try:
        with override_settings(TORCH_NUM_THREADS=1):
            runtime.configure_torch()
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_worker_processes_set_the_thread_count_when_they_start():
    import torch
    from celery.signals import worker_process_init

    import medilens.celery  # noqa: F401  (connects the handler)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with override_settings(TORCH_NUM_THREADS=1):
            worker_process_init.send(sender=None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_importing_the_runtime_does_not_import_torch():
    """The web process imports analyzer modules at start-up: torch must wait for the first inference."""
    code = (
        "import sys, django; django.setup(); before = 'torch' in sys.modules; "
        "import modalities.runtime, modalities.architectures, modalities.services, modalities.admin, medilens.celery; "
        "from modalities.management.commands import build_reference_model, register_reference_models; "
        "print(before, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "medilens.test_settings"},
    )
    # (If another module imported torch during set-up, that is its own test's business, not this one's.)
    before, after = result.stdout.strip().splitlines()[-1].split()
    assert after == before, "importing the registry's modules imported torch"
