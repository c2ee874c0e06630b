"""Running registered models on the workers: choose the active version, load and verify its weights,
predict, explain.

The contract analyzers use (torch is imported lazily, inside functions only)::

    active_model(modality: str, organization_id: int | None) -> ModelVersion | None
        # the organization's active override first, then the platform-wide active version
    load(version: ModelVersion) -> LoadedModel
        # reads the weights from default storage (version.weights_key) and verifies their SHA-256 BEFORE use:
        #   mismatch -> AnalysisError("The weights of model <name> <version> failed their integrity check
        #               (SHA-256 mismatch); the model was not used.")
        #   retired  -> AnalysisError; missing object -> AnalysisError
        # safetensors only, parsed by safetensors.torch.load (nothing is ever unpickled)
        # bounded in-process LRU cache (cachetools) keyed by (version.pk, sha256); size
        # settings.MODEL_CACHE_SIZE (default 2)
    class LoadedModel:
        version: ModelVersion; labels: list[str]
        input_spec: dict  # {"size": [H, W], "channels": 1|3, "mean": [...], "std": [...]}
        predict(image) -> dict[str, float]
            # image: numpy float HxW or HxWx3 in 0..1, any size; converted to the model's channels
            # (greyscale by ITU-R BT.601 luma), resized (bilinear, antialiased) and normalised per
            # input_spec; run under torch.inference_mode(); softmax probabilities, label -> probability
        saliency(image, label) -> numpy.ndarray
            # Grad-CAM (Selvaraju et al., ICCV 2017; Captum's LayerGradCam) for that label, as a separate
            # pass under torch.enable_grad(); float32 HxW in 0..1 at the input image's size
    heatmap_overlay_png(image, heat) -> bytes  # Pillow PNG: the heat map (matplotlib's jet) over the image
    configure_torch()  # torch.set_num_threads(settings.TORCH_NUM_THREADS, default 1); called from the
                       # Celery worker_init (solo/threads pools) and worker_process_init (prefork children)
                       # handlers in medilens/celery.py, and applied on the first lazy import of torch here
    clear_cache(); cached_keys()  # for tests and benchmarks (keys in the order they were loaded)

An image that is not HxW / HxWx3, holds NaNs, or runs outside 0..1 is an AnalysisError naming the problem.
Analyzers set ``AnalysisResult.model_version_id = loaded.version.pk`` so every result names its model.

Why verify on every load: the weights are read from object storage, which staff (or an attacker with
bucket access) can change behind the registry's back; the SHA-256 recorded at upload is the registry's
promise of which weights were validated. A cache hit skips the read because the cached network was
built from bytes that passed the check, and the key includes that SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from django.conf import settings

from medilens import storage

from .base import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import numpy

    from .models import ModelVersion

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 2
DEFAULT_NUM_THREADS = 1
_READ_CHUNK = 1024 * 1024
# ITU-R BT.601 luma coefficients (the ones Pillow's "L" conversion uses) for RGB -> greyscale.
_LUMA = (0.299, 0.587, 0.114)

_configured = False


class _ModelCache(LRUCache):
    """Least recently used models out first; an eviction is logged (the next use reads storage again)."""

    def popitem(self):
        key, loaded = super().popitem()
        logger.info("model cache: evicted model version %s", key[0])
        return key, loaded


# cachetools' caches are not thread-safe: every use holds the lock.
_cache = _ModelCache(maxsize=DEFAULT_CACHE_SIZE)
_cache_lock = threading.Lock()


# --- torch set-up -------------------------------------------------------------------------------------
def _num_threads() -> int:
    return max(1, int(getattr(settings, "TORCH_NUM_THREADS", DEFAULT_NUM_THREADS)))


def configure_torch() -> None:
    """Limit torch's intra-op threads to ``settings.TORCH_NUM_THREADS`` (default 1).

    On this 2-core machine one inference task runs at a time per worker process; a thread per core per
    process would oversubscribe the CPU when the light queue runs beside it. The OpenMP/MKL variables
    are set too, so that a torch imported later in this process starts with the same limit. torch is
    imported here only if something already imported it: a worker that never serves the inference
    queue never pays for it (the lazy import below calls this function again).
    """
    global _configured
    threads = _num_threads()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))
    torch = sys.modules.get("torch")
    if torch is None:
        return
    torch.set_num_threads(threads)
    try:
        # Only allowed before any inter-op parallel work has started in the process.
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    _configured = True


def _torch():
    import torch

    if not _configured:
        configure_torch()
    return torch


# --- choosing and loading a version ---------------------------------------------------------------------
def active_model(modality: str, organization_id: int | None) -> ModelVersion | None:
    """The version to run for this modality: the organization's active override, else the platform's."""
    from .models import ModelVersion

    active = ModelVersion.objects.filter(modality=modality, status=ModelVersion.Status.ACTIVE)
    if organization_id is not None:
        override = active.filter(organization_id=organization_id).first()
        if override is not None:
            return override
    return active.filter(organization__isnull=True).first()


def cache_size() -> int:
    return max(1, int(getattr(settings, "MODEL_CACHE_SIZE", DEFAULT_CACHE_SIZE)))


def _models() -> _ModelCache:
    """The process's model cache; a changed settings.MODEL_CACHE_SIZE starts an empty one of the new size.
    The caller holds ``_cache_lock``."""
    global _cache
    if _cache.maxsize != cache_size():
        _cache = _ModelCache(maxsize=cache_size())
    return _cache


def clear_cache() -> None:
    with _cache_lock:
        _models().clear()


def cached_keys() -> list[tuple[int | None, str]]:
    """The cached (version pk, SHA-256) keys, in the order they were loaded."""
    with _cache_lock:
        return list(_models())


def _model_name(version: ModelVersion) -> str:
    return f"{version.name} {version.version}"


def _read_weights(version: ModelVersion) -> bytes:
    """The stored bytes (through medilens.storage, so a flaky store is a TransientStorageError to retry)."""
    if not version.weights_key:
        raise AnalysisError(f"Model {_model_name(version)} has no weights file; the model was not used.")
    buffer = io.BytesIO()
    try:
        with storage.open_object(version.weights_key) as stored:
            while chunk := stored.read(_READ_CHUNK):
                buffer.write(chunk)
    except storage.TransientStorageError:
        raise
    except (FileNotFoundError, OSError) as error:
        logger.warning("weights of model version %s unreadable: %s", version.pk, type(error).__name__)
        raise AnalysisError(
            f"The weights of model {_model_name(version)} are missing from storage; the model was not used."
        ) from None
    except Exception as error:
        if storage.is_transient(error):
            raise storage.TransientStorageError(type(error).__name__) from error
        # e.g. botocore's 403 for a bucket policy that shuts the workers out
        logger.warning("weights of model version %s unreadable: %s", version.pk, type(error).__name__)
        raise AnalysisError(
            f"The weights of model {_model_name(version)} could not be read from storage; the model was not used."
        ) from None
    return buffer.getvalue()


def load(version: ModelVersion) -> LoadedModel:
    """The ready-to-run model for ``version``, from the process cache or from storage (verified)."""
    from .architectures import WeightsError, build, check_input_spec, check_labels, load_state_dict
    from .models import ModelVersion

    if version.status == ModelVersion.Status.RETIRED:
        raise AnalysisError(
            f"Model {_model_name(version)} is retired and was not used; an administrator must activate a "
            "current version of this modality's model."
        )
    if version.format != ModelVersion.Format.SAFETENSORS:
        raise AnalysisError(
            f"Model {_model_name(version)} is in the format '{version.format}', which the workers do not run; "
            "the model was not used."
        )
    expected_sha = (version.weights_sha256 or "").lower()
    key = (version.pk, expected_sha)
    with _cache_lock:
        loaded = _models().get(key)
    if loaded is not None:
        return loaded

    data = _read_weights(version)
    if hashlib.sha256(data).hexdigest() != expected_sha:
        logger.error("model version %s: stored weights do not match the registered SHA-256", version.pk)
        raise AnalysisError(
            f"The weights of model {_model_name(version)} failed their integrity check (SHA-256 mismatch); "
            "the model was not used."
        )
    _torch()  # configures the thread count before the first network is built
    try:
        labels = check_labels(version.output_labels)
        input_spec = check_input_spec(version.input_spec)
        network = build(version.architecture, channels=input_spec["channels"], num_labels=len(labels))
        load_state_dict(network, data)
    except (WeightsError, RuntimeError, ValueError) as error:
        logger.error("model version %s could not be built: %s", version.pk, error)
        raise AnalysisError(
            f"Model {_model_name(version)} could not be built from its weights (they do not fit architecture "
            f"{version.architecture}); the model was not used."
        ) from None
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    loaded = LoadedModel(version=version, labels=labels, input_spec=input_spec, network=network)
    with _cache_lock:
        _models()[key] = loaded
    return loaded


# --- inference ------------------------------------------------------------------------------------------
class LoadedModel:
    """A verified network and what it needs to be fed. Safe to share between threads for ``predict``."""

    def __init__(self, *, version: ModelVersion, labels: list[str], input_spec: dict, network: Any):
        self.version = version
        self.labels = list(labels)
        self.input_spec = dict(input_spec)
        self.network = network

    def __repr__(self):
        return f"<LoadedModel {self.version.name} {self.version.version} ({self.version.pk})>"

    def _as_array(self, image) -> numpy.ndarray:
        import numpy as np

        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[:, :, :3]  # alpha does not reach the model
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3) or min(array.shape[:2]) < 2:
            raise AnalysisError(
                f"The image could not be given to model {_model_name(self.version)}: it must be a greyscale or "
                f"RGB image, not an array of shape {tuple(array.shape)}."
            )
        if not np.isfinite(array).all():
            raise AnalysisError(
                f"The image could not be given to model {_model_name(self.version)}: it holds non-numeric pixels."
            )
        if array.min() < -1e-3 or array.max() > 1 + 1e-3:
            raise AnalysisError(
                f"The image could not be given to model {_model_name(self.version)}: its intensities run from "
                f"{array.min():.3g} to {array.max():.3g}, not 0 to 1."
            )
        return np.clip(array, 0.0, 1.0)

    def _tensor(self, array):
        """numpy HxW / HxWx3 in 0..1 -> normalised float32 tensor [1, C, H', W'] per the input spec."""
        import numpy as np

        torch = _torch()
        channels = self.input_spec["channels"]
        if channels == 1 and array.ndim == 3:
            array = array @ np.asarray(_LUMA, dtype=np.float32)
        if array.ndim == 2:
            array = array[:, :, None]
        if channels == 3 and array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
        height, width = self.input_spec["size"]
        if tuple(tensor.shape[2:]) != (height, width):
            # antialias: a 2048-px radiograph brought to 128 px must be low-pass filtered, not decimated
            tensor = torch.nn.functional.interpolate(
                tensor, size=(height, width), mode="bilinear", align_corners=False, antialias=True
            )
        mean = torch.tensor(self.input_spec["mean"], dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.input_spec["std"], dtype=torch.float32).view(1, -1, 1, 1)
        return (tensor - mean) / std

    def predict(self, image) -> dict[str, float]:
        torch = _torch()
        array = self._as_array(image)
        with torch.inference_mode():
            logits = self.network(self._tensor(array))
            probabilities = torch.softmax(logits.double(), dim=1)[0].tolist()
        return {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)}

    def saliency(self, image, label: str) -> numpy.ndarray:
        """Grad-CAM with Captum's LayerGradCam on the architecture's ``explained_layer`` (the last
        convolutional feature map): each feature map weighted by the mean gradient of the label's score (the
        logit, before softmax), summed, the positive part kept (Selvaraju et al. 2017, eq. 1-2); upsampled
        (bilinear) to the image and scaled to 0..1 by its maximum. All zeros when no region speaks for the
        label."""
        import numpy as np
        from captum.attr import LayerAttribution, LayerGradCam

        if label not in self.labels:
            raise ValueError(f"{label!r} is not an output of this model ({', '.join(self.labels)})")
        torch = _torch()
        array = self._as_array(image)
        height, width = array.shape[:2]
        # A separate pass with gradients on, even if a caller wrapped us in inference_mode.
        with torch.inference_mode(False), torch.enable_grad():
            grad_cam = LayerGradCam(self.network, self.network.explained_layer)
            cam = grad_cam.attribute(self._tensor(array), target=self.labels.index(label), relu_attributions=True)
        with torch.no_grad():
            cam = LayerAttribution.interpolate(cam.detach(), (height, width), interpolate_mode="bilinear")
            cam = cam[0, 0].clamp_min(0)
            peak = float(cam.max())
            heat = (cam / peak).numpy() if peak > 0 else np.zeros((height, width), dtype=np.float32)
        return np.clip(heat.astype(np.float32, copy=False), 0.0, 1.0)


# --- explanation image -------------------------------------------------------------------------------------
def _colour_map(heat):
    """matplotlib's "jet" (dark blue, cyan, yellow, dark red) for 0..1 values, as uint8 RGB."""
    from matplotlib import colormaps

    return colormaps["jet"](heat, bytes=True)[..., :3]


def heatmap_overlay_png(image, heat, *, max_side: int = 1024, opacity: float = 0.5) -> bytes:
    """The heat map blended over the image (more opaque where the heat is higher), as PNG bytes.

    ``image``: HxW or HxWx3 in 0..1; ``heat``: 0..1 at any size (resized to the image). Images larger
    than ``max_side`` are shown scaled down: the overlay is an explanation, not the clinical image.
    """
    import numpy as np
    from PIL import Image

    base = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
    if base.ndim == 3 and base.shape[2] == 1:
        base = base[:, :, 0]
    if base.ndim == 3:
        base = base[:, :, :3]
    picture = Image.fromarray((base * 255 + 0.5).astype(np.uint8)).convert("RGB")
    scale = min(1.0, max_side / max(picture.size))
    if scale < 1.0:
        picture = picture.resize(
            (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.Resampling.LANCZOS
        )
    heat_array = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0, 1)
    heat_image = Image.fromarray(heat_array).resize(picture.size, Image.Resampling.BILINEAR)
    heat_array = np.clip(np.asarray(heat_image, dtype=np.float32), 0, 1)
    alpha = (opacity * heat_array)[:, :, None]
    blended = (1 - alpha) * np.asarray(picture, dtype=np.float32) + alpha * _colour_map(heat_array)
    out = io.BytesIO()
    # zlib level 3: about half the encoding time of the default 6 for a few % more bytes (noisy images)
    Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8)).save(out, format="PNG", compress_level=3)
    return out.getvalue()
