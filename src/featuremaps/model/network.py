"""The seed notebook's CNN, sized from params and the dataset, and its input normalisation.

conv1 (1->c1, 3x3, pad 1) -> maxpool 2 -> ReLU -> Dropout2d
conv2 (c1->c2, 3x3, pad 1) -> maxpool 2 -> ReLU -> Dropout2d
fc1 -> ReLU -> Dropout -> fc2 -> ReLU -> Dropout -> fc3 (one logit per class)

Its input is the stored uint8 images, normalised once with the train split's pixel mean
and std (normalised_images), in training and in extraction alike. `features(x, upto)` is
the conv part alone, stopping at a conv layer; `spatial_path(layer)` lists the kernels,
strides and paddings on the way to it, from which receptive_field says which input
pixels a unit of that layer sees.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from featuremaps.errors import ArgumentError
from featuremaps.params import ModelParams


class ConvNet(nn.Module):
    CONV_LAYERS = ("conv1", "conv2")

    def __init__(self, image_shape=(28, 28), n_classes=10, conv1_channels=6, conv2_channels=16,
                 fc1_units=120, fc2_units=84, dropout=0.1, dropout2d=0.1):
        super().__init__()
        h, w = image_shape
        self.conv1 = nn.Conv2d(1, conv1_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(conv1_channels, conv2_channels, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(conv2_channels * (h // 4) * (w // 4), fc1_units)
        self.fc2 = nn.Linear(fc1_units, fc2_units)
        self.fc3 = nn.Linear(fc2_units, n_classes)
        self.dropout = nn.Dropout(dropout)
        self.dropout2d = nn.Dropout2d(dropout2d)

    def features(self, x, upto: str | None = None):
        """The conv part of forward; with `upto`, stop at that conv layer's raw output."""
        for name in self.CONV_LAYERS:
            x = getattr(self, name)(x)
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
        for name in self.CONV_LAYERS:
            conv = getattr(self, name)
            steps.append((pairs(conv.kernel_size), pairs(conv.stride), pairs(conv.padding)))
            if name == layer:
                return steps
            steps.append((pairs(self.pool.kernel_size), pairs(self.pool.stride), pairs(self.pool.padding)))
        raise ValueError(f"{layer!r} is not one of {', '.join(self.CONV_LAYERS)}")

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


def model_config(params: ModelParams, image_shape, n_classes: int) -> dict:
    """The constructor arguments of ConvNet: params plus what the dataset dictates."""
    return {"image_shape": [int(s) for s in image_shape], "n_classes": int(n_classes),
            **{k: getattr(params, k) for k in ("conv1_channels", "conv2_channels", "fc1_units",
                                               "fc2_units", "dropout", "dropout2d")}}


def build_model(config: dict) -> ConvNet:
    return ConvNet(**{**config, "image_shape": tuple(config["image_shape"])})


def conv_layer_names(model: nn.Module) -> list:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def check_layers(model: nn.Module, layers) -> None:
    """ArgumentError unless every name in `layers` is a conv layer of `model`."""
    allowed = conv_layer_names(model)
    unknown = [name for name in layers if name not in allowed]
    if unknown:
        raise ArgumentError(f"{unknown[0]!r} is not a conv layer of the model; its conv layers: {', '.join(allowed)}")


def receptive_field(path: list, y: int, x: int, image_shape) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive: the input pixels that unit (y, x) of the layer at the
    end of `path` (from spatial_path) sees, clipped to the image."""
    (top, bottom), (left, right) = (y, y), (x, x)
    for (kh, kw), (sh, sw), (ph, pw) in reversed(path):
        top, bottom = top * sh - ph, bottom * sh - ph + kh - 1
        left, right = left * sw - pw, right * sw - pw + kw - 1
    h, w = image_shape
    return max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)


def normalised_batches(images: np.ndarray, mean: float, std: float, batch_size: int, device=torch.device("cpu")):
    """(start, normalised batch) over uint8 images [N, H, W], batch_size at a time. The uint8 images
    reach the device once (on the CPU a view, no copy; on a GPU a 60k split is 47 MB) and each batch
    is cut and made float there: memory for floats does not grow with N, and nothing crosses to the
    device per batch."""
    source = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    for start in range(0, len(images), batch_size):
        yield start, normalised(source[start:start + batch_size], mean, std)


def normalised(pixels: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 [N,H,W] tensor -> float32 [N,1,H,W] on its device: (x/255 - mean)/std."""
    return pixels.unsqueeze(1).float().div_(255.0).sub_(mean).div_(std)


def normalised_images(images: np.ndarray, mean: float, std: float, device=torch.device("cpu")) -> torch.Tensor:
    """uint8 [N,H,W] -> float32 [N,1,H,W] on `device`: (x/255 - mean)/std."""
    return normalised(torch.from_numpy(np.ascontiguousarray(images)).to(device), mean, std)
