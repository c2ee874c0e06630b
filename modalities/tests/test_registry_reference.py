"""The committed reference model: rebuilt byte for byte, registered idempotently, and doing what its
validation metrics say on generated images whose truth is known (with Grad-CAM pointing at the drawn
opacity)."""

import hashlib
import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from audit.models import AuditEvent
from modalities import runtime, services
from modalities.management.commands import build_reference_model as reference
from modalities.management.commands.register_reference_models import DIRECTORY
from modalities.models import ModelVersion

COMMITTED = DIRECTORY / f"{reference.NAME}.safetensors"


@pytest.fixture(autouse=True)
def _empty_cache():
    runtime.clear_cache()
    yield
    runtime.clear_cache()


@pytest.fixture
def reference_model(db):
    call_command("register_reference_models", "--activate-outside-demo", stdout=io.StringIO())
    return runtime.load(ModelVersion.objects.get(name=reference.NAME))


def test_the_committed_file_matches_its_sha256_and_is_small():
    data = COMMITTED.read_bytes()
    recorded = (DIRECTORY / f"{reference.NAME}.safetensors.sha256").read_text().split()
    assert recorded == [hashlib.sha256(data).hexdigest(), COMMITTED.name]
    assert len(data) < 1024 * 1024
    description = reference.description_of(data)
    assert description["intended_use"] == reference.INTENDED_USE
    assert "Not for clinical use." in description["intended_use"]


def test_a_rebuild_gives_the_same_bytes_on_the_same_machine(tmp_path):
    """Same machine, same bytes: two rebuilds here are identical. The committed file is not compared byte
    for byte: across CPUs, vectorised kernels sum in another order over 100 Adam steps (on an AMD EPYC the
    weights differ from the committed ones by up to 0.08), so it is checked for what it must do instead
    (the tests below). Takes 20-40 s: it is the whole training run, twice."""
    printed = io.StringIO()
    outputs = [tmp_path / f"rebuilt-{attempt}.safetensors" for attempt in (1, 2)]
    for output in outputs:
        call_command("build_reference_model", output=output, stdout=printed)
    first, second = (output.read_bytes() for output in outputs)
    assert first == second
    assert (tmp_path / "rebuilt-1.safetensors.sha256").read_text().split()[0] == hashlib.sha256(first).hexdigest()
    assert reference.description_of(first)["intended_use"] == reference.INTENDED_USE
    assert '"auc": ' in printed.getvalue() and '"accuracy": ' in printed.getvalue()


@override_settings(EMBEDDED=True)
def test_register_reference_models_is_idempotent_and_activates_once_on_the_demo(db):
    call_command("register_reference_models", stdout=io.StringIO())
    version = ModelVersion.objects.get(name=reference.NAME)
    data = COMMITTED.read_bytes()
    assert version.modality == "radiology" and version.organization is None
    assert version.is_reference and version.status == "active" and version.activated_by is None
    assert version.intended_use == reference.INTENDED_USE
    assert version.validation_metrics == reference.description_of(data)["validation_metrics"]
    assert version.validation_metrics["auc"] > 0.9
    assert version.weights_sha256 == hashlib.sha256(data).hexdigest()
    assert version.weights_key == f"models/radiology/{reference.NAME}/1.0.0/{version.weights_sha256}.safetensors"
    assert "(reference, not for clinical use)" in str(version)
    events = AuditEvent.objects.count()
    printed = io.StringIO()
    call_command("register_reference_models", stdout=printed)
    assert ModelVersion.objects.count() == 1 and AuditEvent.objects.count() == events
    assert printed.getvalue() == ""
    # A version staff retired is not brought back by the demo.
    ModelVersion.objects.filter(pk=version.pk).update(status="retired")
    call_command("register_reference_models", stdout=io.StringIO())
    assert ModelVersion.objects.get(pk=version.pk).status == "retired"


def test_outside_the_demo_a_reference_model_is_registered_but_not_activated(db):
    """With DATABASE_URL set (the test settings are production settings) the reference model never becomes
    active by itself: its results would reach clinicians."""
    printed = io.StringIO()
    call_command("register_reference_models", stdout=printed)
    version = ModelVersion.objects.get(name=reference.NAME)
    assert version.status == "draft"
    assert "registered, not activated" in printed.getvalue() and "--activate-outside-demo" in printed.getvalue()
    assert not AuditEvent.objects.filter(action="model_version.activated").exists()
    with pytest.raises(ValidationError, match="reference model"):
        services.activate_model_version(acting_user=None, model_version=version)
    assert ModelVersion.objects.get(pk=version.pk).status == "draft"


def test_the_explicit_flag_activates_it_and_the_audit_log_says_so(db):
    call_command("register_reference_models", "--activate-outside-demo", stdout=io.StringIO())
    version = ModelVersion.objects.get(name=reference.NAME)
    assert version.status == "active"
    event = AuditEvent.objects.get(action="model_version.activated", target_id=str(version.pk))
    assert event.details["reference_model"] is True and event.details["explicit_reference_activation"] is True


def test_the_reference_model_separates_generated_images_it_never_saw(reference_model):
    """Held-out metrics at build time: accuracy 0.98 on 384 images. On 40 images from yet another seed,
    0.9 is the floor: about three binomial standard deviations (sqrt(0.98 * 0.02 / 40) = 0.022) below
    (measured: 0.975)."""
    rng = np.random.default_rng(12345)
    labels = [index % 2 for index in range(40)]
    correct = 0
    for label in labels:
        probabilities = reference_model.predict(reference.synthetic_chest(rng, opacity=bool(label)))
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        correct += (probabilities["opacity"] >= 0.5) == bool(label)
    assert correct / len(labels) >= 0.9


@pytest.mark.parametrize("centre_x", [40, 88], ids=["right-lung", "left-lung"])
def test_grad_cam_points_at_a_drawn_opacity(reference_model, centre_x):
    """A Gaussian opacity (sigma 8 px, peak 0.3) drawn at a known place in a clear generated chest. The
    Grad-CAM map is 16x16 cells of 8 px, upsampled: its peak must lie within 2 sigma (16 px, two cells)
    of the centre (measured: 3-4 px), and the mean heat within 2 sigma must be at least twice the mean
    outside (measured: about 0.3 against 0.1)."""
    image = reference.synthetic_chest(np.random.default_rng(3), opacity=False)
    yy, xx = np.mgrid[0:128, 0:128]
    distance = np.hypot(xx - centre_x, yy - 60)
    with_opacity = np.clip(image + 0.3 * np.exp(-(distance**2) / (2 * 8**2)), 0, 1).astype(np.float32)
    assert reference_model.predict(with_opacity)["opacity"] > reference_model.predict(image)["opacity"]
    heat = reference_model.saliency(with_opacity, "opacity")
    assert heat.shape == (128, 128) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    peak_y, peak_x = np.unravel_index(heat.argmax(), heat.shape)
    assert np.hypot(peak_x - centre_x, peak_y - 60) <= 16
    assert heat[distance < 16].mean() >= 2 * heat[distance >= 16].mean()


def test_a_512_pixel_image_is_resized_for_the_model_and_explained_at_its_own_size(reference_model):
    from PIL import Image

    small = reference.synthetic_chest(np.random.default_rng(4), opacity=True)
    large = np.asarray(Image.fromarray(small).resize((512, 512), Image.Resampling.BILINEAR))
    probabilities = reference_model.predict(large)
    assert probabilities["opacity"] == pytest.approx(reference_model.predict(small)["opacity"], abs=0.1)
    heat = reference_model.saliency(large, "opacity")
    assert heat.shape == (512, 512) and 0 <= heat.min() and heat.max() <= 1
    png = runtime.heatmap_overlay_png(large, heat)
    assert Image.open(io.BytesIO(png)).size == (512, 512)
