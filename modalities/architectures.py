"""Model architectures defined in code, and the checks that tie a weights file to one of them.

A ``ModelVersion`` names one of ``ARCHITECTURES`` and carries only weights (safetensors: loading them runs
no code). The factory builds the network from the version's input specification (``channels``) and its
number of output labels; a weights file must match that network's ``state_dict`` exactly (same tensor
names, same shapes, floating-point dtypes), or it is refused at upload with the differences named.

Every architecture names its ``explained_layer``: the module whose output is the last convolutional feature
map, the layer Grad-CAM explains (Selvaraju et al., ICCV 2017; modalities.runtime runs Captum's LayerGradCam
on it).

torch is imported inside functions only: the web process imports this module at start-up.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from typing import Any

# safetensors dtypes we accept for parameters (converted to float32 when loaded).
FLOAT_DTYPES = frozenset({"F32", "F16", "BF16", "F64"})


class WeightsError(ValueError):
    """A weights file that cannot be used with the named architecture; the message says why."""


@functools.cache
def _small_cnn_class():
    from torch import nn

    class SmallCNN(nn.Module):
        """A stride-2 3x3 convolution stem, then 3x3 convolution + ReLU blocks with 2x2 max-pooling after
        the first two, global max pooling, one linear layer.

        A 128x128 input gives a 16x16 feature map for Grad-CAM. Global max pooling rather than average:
        a finding such as an opacity is local, and averaging over the whole image dilutes it (in the
        reference model's training, average pooling had not learnt after 200 steps; max pooling had).
        """

        def __init__(self, *, in_channels: int, num_classes: int, widths: tuple[int, int, int, int]):
            super().__init__()
            first, second, third, fourth = widths
            self.backbone = nn.Sequential(
                nn.Conv2d(in_channels, first, kernel_size=3, stride=2, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(first, second, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(second, third, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.Conv2d(third, fourth, kernel_size=3, padding=1),
                nn.ReLU(),
            )
            self.classifier = nn.Linear(fourth, num_classes)

        @property
        def explained_layer(self):
            return self.backbone

        def forward(self, x):
            return self.classifier(self.backbone(x).amax(dim=(2, 3)))

    return SmallCNN


def small_cnn_v1(*, in_channels: int, num_classes: int):
    """About 15 k parameters (61 KB of float32 weights): the reference chest-X-ray model's network."""
    return _small_cnn_class()(in_channels=in_channels, num_classes=num_classes, widths=(8, 16, 32, 32))


def small_cnn_wide_v1(*, in_channels: int, num_classes: int):
    """Twice the width of small_cnn_v1 (about 60 k parameters), e.g. for colour photographs."""
    return _small_cnn_class()(in_channels=in_channels, num_classes=num_classes, widths=(16, 32, 64, 64))


ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "small_cnn_v1": small_cnn_v1,
    "small_cnn_wide_v1": small_cnn_wide_v1,
}


def choices() -> list[tuple[str, str]]:
    return [
        (name, f"{name}: {(factory.__doc__ or '').strip().splitlines()[0]}") for name, factory in ARCHITECTURES.items()
    ]


def build(architecture: str, *, channels: int, num_labels: int):
    """A fresh (randomly initialised) network of the named architecture."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        raise WeightsError(
            f"'{architecture}' is not an architecture defined in the code. Choose one of: {', '.join(ARCHITECTURES)}."
        ) from None
    return factory(in_channels=channels, num_classes=num_labels)


# --- input specification ------------------------------------------------------------------------------
def check_input_spec(spec: Any) -> dict:
    """``{"size": [H, W], "channels": 1 | 3, "mean": [...], "std": [...]}`` with one mean/std per channel."""
    if not isinstance(spec, dict):
        raise WeightsError('The input specification must be an object like {"size": [128, 128], "channels": 1, '
                           '"mean": [0.5], "std": [0.25]}.')
    size, channels = spec.get("size"), spec.get("channels")
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 2048 for v in size)
    ):
        raise WeightsError("The input specification's size must be [height, width] in pixels, each 8 to 2048.")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise WeightsError("The input specification's channels must be 1 (greyscale) or 3 (RGB).")
    mean, std = spec.get("mean"), spec.get("std")
    for key, values in (("mean", mean), ("std", std)):
        if not isinstance(values, list | tuple) or len(values) != channels:
            raise WeightsError(f"The input specification's {key} must list one number per channel ({channels}).")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise WeightsError(f"The input specification's {key} must be numbers.")
    if not all(v > 0 for v in std):
        raise WeightsError("The input specification's std values must be positive.")
    return {"size": [int(v) for v in size], "channels": int(channels), "mean": [float(v) for v in mean],
            "std": [float(v) for v in std]}


def check_labels(labels: Any) -> list[str]:
    if (
        not isinstance(labels, list | tuple)
        or len(labels) < 2
        or not all(isinstance(v, str) and v.strip() for v in labels)
        or len(set(labels)) != len(labels)
    ):
        raise WeightsError('The output labels must be a list of at least two distinct names, e.g. '
                           '["no_finding", "opacity"].')
    return [str(v) for v in labels]


# --- safetensors ----------------------------------------------------------------------------------------
def read_safetensors_header(data: bytes) -> tuple[dict[str, dict], dict[str, str]]:
    """Read and check a safetensors file's header without torch: ``({tensor: {dtype, shape}}, metadata)``.

    ``safetensors.safe_open`` checks the format (https://github.com/huggingface/safetensors): the header's
    length and JSON, each tensor's dtype, shape and byte range, ranges that cover the data exactly with no
    gap or overlap. Nothing in the file is executed. safe_open reads a path, so the bytes go through a
    temporary file. Raises WeightsError when the bytes are not such a file.
    """
    from safetensors import SafetensorError, safe_open

    with tempfile.NamedTemporaryFile(prefix="weights-", suffix=".safetensors") as file:
        file.write(data)
        file.flush()
        try:
            with safe_open(file.name, framework="numpy") as weights:
                metadata = weights.metadata() or {}
                tensors = {}
                for name in weights.keys():
                    tensor = weights.get_slice(name)
                    tensors[name] = {"dtype": tensor.get_dtype(), "shape": list(tensor.get_shape())}
        except SafetensorError as error:
            raise WeightsError(f"The weights file is not a safetensors file ({_reason(error)}).") from None
    return tensors, metadata


def _reason(error: Exception) -> str:
    """safetensors' reason, in the words a member of staff looking at a damaged upload would use."""
    reason = str(error).removeprefix("Error while deserializing header: ")
    if "not fully covered" in reason:
        return "its size does not match its header: truncated or padded"
    return reason


def check_weights(architecture: str, data: bytes, *, channels: int, num_labels: int) -> dict[str, str]:
    """Refuse (WeightsError) a file that is not safetensors or whose tensors do not match the architecture's
    ``state_dict`` exactly; return the file's metadata. Parses with safetensors.torch.load, never pickle."""
    tensors, metadata = read_safetensors_header(data)
    model = build(architecture, channels=channels, num_labels=num_labels)
    expected = {name: list(value.shape) for name, value in model.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}")
    for name in sorted(set(expected) & set(tensors)):
        if tensors[name]["shape"] != expected[name]:
            problems.append(f"{name} has shape {tensors[name]['shape']}, the architecture needs {expected[name]}")
        elif tensors[name]["dtype"] not in FLOAT_DTYPES:
            problems.append(f"{name} is {tensors[name]['dtype']}, not a floating-point tensor")
    if problems:
        raise WeightsError(
            f"The weights do not match architecture {architecture} with {channels} input channel(s) and "
            f"{num_labels} output labels: " + "; ".join(problems[:10]) + "."
        )
    # The header said the right things; make sure the tensor data parses too (still no pickle involved).
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        load(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise WeightsError(f"The weights file could not be read as safetensors: {error}.") from None
    return metadata


def load_state_dict(model, data: bytes) -> None:
    """Load safetensors bytes into ``model`` strictly (exact names and shapes), as float32."""
    import torch
    from safetensors.torch import load

    state = {name: tensor.to(torch.float32) for name, tensor in load(data).items()}
    model.load_state_dict(state, strict=True)
