"""The network: conv blocks and fully connected layers sized from params and the dataset, and the
normalisation of its input, which it owns.

Each block i = 1..N: conv<i> (k x k, padding k//2: the size is kept) -> [bn<i>] -> maxpool 2 -> ReLU
-> Dropout2d; then fc1 .. fc<M> with ReLU and Dropout between them, the last one logit per class.
The defaults (blocks of 6 and 16 channels, 3x3, fc 120 and 84) are the seed notebook's CNN.

The model takes stored uint8 images (grey [N, H, W] or colour [N, H, W, C]) through `normalise`,
with the train split's per-channel mean and std kept as buffers (saved with the weights), and its
forward takes the normalised floats [N, C, H, W]. `features(x, upto)` is the conv part alone,
stopping at a conv layer's map (after its batch norm, if any; `output_module` is the module that
makes it); `spatial_path(layer)` lists the kernels, strides and paddings on the way to it, from
which receptive_field says which input pixels a unit of that layer sees.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from featuremaps.model.blocks import max_blocks
from featuremaps.model.batches import pixel_batches
from featuremaps.model.normalisation import attach_normalisation, input_channels, normalise, standardise
from featuremaps.errors import ArgumentError
from featuremaps.params import ModelParams


class ConvNet(nn.Module):
    def __init__(self, image_shape=(28, 28), n_classes=10, in_channels=1, conv_channels=(6, 16), kernel_size=3,
                 batch_norm=False, fc_units=(120, 84), dropout=0.1, dropout2d=0.1):
        super().__init__()
        h, w = image_shape
        if len(conv_channels) > max_blocks(image_shape):
            raise ArgumentError(f"{len(conv_channels)} conv blocks pool a {h}x{w} image below 1 px; "
                                f"at most {max_blocks(image_shape)} fit")
        self.conv_layers = tuple(f"conv{i + 1}" for i in range(len(conv_channels)))
        self.batch_norm = bool(batch_norm)
        # Parameters are made in the order conv1..convN, fc1..fcM: the seeded initial weights (and the
        # optimiser's and the gradient clipping's order) follow it.
        c_in = in_channels
        for i, c_out in enumerate(conv_channels):
            setattr(self, f"conv{i + 1}", nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2))
            if batch_norm:
                setattr(self, f"bn{i + 1}", nn.BatchNorm2d(c_out))
            c_in, h, w = c_out, h // 2, w // 2
        self.pool = nn.MaxPool2d(2, 2)
        widths = [c_in * h * w, *fc_units, n_classes]
        self.fc_layers = tuple(f"fc{i + 1}" for i in range(len(widths) - 1))
        for name, a, b in zip(self.fc_layers, widths, widths[1:]):
            setattr(self, name, nn.Linear(a, b))
        self.dropout = nn.Dropout(dropout)
        self.dropout2d = nn.Dropout2d(dropout2d)
        attach_normalisation(self, torch.zeros(in_channels), torch.ones(in_channels))

    @property
    def in_channels(self) -> int:
        return input_channels(self)

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 images -> the model's input (featuremaps.model.normalisation.normalise)."""
        return normalise(self, pixels)

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """float [N, C, H, W] in [0, 1] units -> the model's input, differentiably."""
        return standardise(self, x)

    def output_module(self, layer: str) -> nn.Module:
        """The module whose output is `layer`'s map: its batch norm if it has one, else the conv."""
        if layer not in self.conv_layers:
            raise ArgumentError(f"{layer!r} is not a conv layer of the model; its conv layers: "
                                f"{', '.join(self.conv_layers)}")
        return getattr(self, "bn" + layer[4:]) if self.batch_norm else getattr(self, layer)

    def features(self, x, upto: str | None = None):
        """The conv part of forward; with `upto`, stop at that conv layer's map (before pool and ReLU)."""
        for name in self.conv_layers:
            x = getattr(self, name)(x)
            if self.batch_norm:
                x = getattr(self, "bn" + name[4:])(x)
            if name == upto:
                return x
            # Pooling before the ReLU gives the same values and gradients (max and ReLU commute),
            # with the ReLU on a quarter of the elements: a training step in about half the time.
            x = self.dropout2d(F.relu(self.pool(x)))
        return x

    def spatial_path(self, layer: str) -> list:
        """(kernel, stride, padding) pairs of every spatial step from the input to `layer`'s output."""
        pairs = lambda v: tuple(v) if isinstance(v, tuple) else (v, v)  # noqa: E731
        steps = []
        for name in self.conv_layers:
            conv = getattr(self, name)
            steps.append((pairs(conv.kernel_size), pairs(conv.stride), pairs(conv.padding)))
            if name == layer:
                return steps
            steps.append((pairs(self.pool.kernel_size), pairs(self.pool.stride), pairs(self.pool.padding)))
        raise ValueError(f"{layer!r} is not one of {', '.join(self.conv_layers)}")

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        for name in self.fc_layers[:-1]:
            x = self.dropout(F.relu(getattr(self, name)(x)))
        return getattr(self, self.fc_layers[-1])(x)


def dataset_config(meta: dict) -> dict:
    """What the dataset (its meta.json) dictates of the network: a checkpoint must match it."""
    return {"image_shape": [int(s) for s in meta["image_shape"]], "n_classes": len(meta["classes"]),
            "in_channels": int(meta["channels"])}


def model_config(params: ModelParams, meta: dict) -> dict:
    """The constructor arguments of ConvNet: params plus what the dataset dictates."""
    return {**dataset_config(meta), "conv_channels": list(params.conv_channels),
            "kernel_size": params.kernel_size, "batch_norm": params.batch_norm,
            "fc_units": list(params.fc_units), "dropout": params.dropout, "dropout2d": params.dropout2d}


def build_model(config: dict, mean=None, std=None) -> ConvNet:
    """The network `config` describes; with `mean` and `std` (per channel, in [0, 1] units), its input
    normalisation (else what its state dict will bring)."""
    model = ConvNet(**{**config, "image_shape": tuple(config["image_shape"]),
                       "conv_channels": tuple(config["conv_channels"]), "fc_units": tuple(config["fc_units"])})
    if mean is not None:
        model.pixel_mean.copy_(torch.tensor(mean, dtype=torch.float32))
        model.pixel_std.copy_(torch.tensor(std, dtype=torch.float32))
    return model


def conv_layer_names(model: nn.Module) -> list:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def check_layers(model: nn.Module, layers) -> None:
    """ArgumentError unless every name in `layers` is a conv layer of `model`."""
    allowed = conv_layer_names(model)
    unknown = [name for name in layers if name not in allowed]
    if unknown:
        raise ArgumentError(f"{unknown[0]!r} is not a conv layer of the model; its conv layers: {', '.join(allowed)}")


def selected_layers(model: nn.Module, layers) -> list:
    """The conv layers `layers` names (a list, or "all": every one, in order), checked."""
    if layers == "all":
        return conv_layer_names(model)
    check_layers(model, layers)
    return list(layers)


def receptive_field(path: list, y: int, x: int, image_shape) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive: the input pixels that unit (y, x) of the layer at the
    end of `path` (from spatial_path) sees, clipped to the image."""
    (top, bottom), (left, right) = (y, y), (x, x)
    for (kh, kw), (sh, sw), (ph, pw) in reversed(path):
        top, bottom = top * sh - ph, bottom * sh - ph + kh - 1
        left, right = left * sw - pw, right * sw - pw + kw - 1
    h, w = image_shape
    return max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)


def normalised_batches(model: nn.Module, images: np.ndarray, batch_size: int, device=torch.device("cpu")):
    """(start, normalised batch) over uint8 images (an array or a stored split read from disk),
    batch_size at a time, in order: each batch is read while the one before is used
    (featuremaps.model.batches), so memory does not grow with N."""
    for pixels, rows in pixel_batches(images, None, batch_size, device):
        yield rows.start, normalise(model, pixels)


def normalised_images(model: nn.Module, images: np.ndarray, device=torch.device("cpu")) -> torch.Tensor:
    """uint8 images [N, H, W] or [N, H, W, C] -> the model's float32 input [N, C, H, W] on `device`."""
    return normalise(model, torch.from_numpy(np.ascontiguousarray(images)).to(device))
