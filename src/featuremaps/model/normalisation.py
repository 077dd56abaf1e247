"""The input normalisation a model owns: per-channel mean and std (in [0, 1] units) kept as the
buffers `pixel_mean` and `pixel_std` of its root module, so that they are saved and loaded with its
weights, whatever the model (the builtin network, a torchvision model or the user's own module).

    attach_normalisation(model, mean, std)   # the train split's (or model.input_mean/input_std)
    x = normalise(model, uint8_images)       # [N, H, W] or [N, H, W, C] -> float [N, C, H, W]
    x = standardise(model, pixels01)         # differentiable, for inputs being optimised
"""
from __future__ import annotations

import torch
from torch import nn

from featuremaps.errors import ArgumentError

MEAN, STD = "pixel_mean", "pixel_std"


def attach_normalisation(model: nn.Module, mean, std) -> nn.Module:
    """`model` with buffers MEAN and STD holding `mean` and `std` (one number per input channel)."""
    mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
    std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
    for name, value in ((MEAN, mean), (STD, std)):
        if name in dict(model.named_buffers(recurse=False)):
            getattr(model, name).copy_(value)
        else:
            model.register_buffer(name, value.clone())
    return model


def input_channels(model: nn.Module) -> int:
    return int(getattr(model, MEAN).numel())


def _per_channel(buffer: torch.Tensor) -> torch.Tensor:
    return buffer.view(1, -1, 1, 1)


def normalise(model: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """uint8 [N, H, W] (grey) or [N, H, W, C] tensor -> float32 [N, C, H, W] on its device:
    (x/255 - mean_c)/std_c. The buffers broadcast on the device (nothing crosses to the host per
    batch), with the same float32 arithmetic, bit for bit, as subtracting and dividing by numbers."""
    x = (pixels.unsqueeze(1) if pixels.ndim == 3 else pixels.permute(0, 3, 1, 2)).float().div_(255.0)
    if x.shape[1] != input_channels(model):
        raise ArgumentError(f"images with {x.shape[1]} channel(s); the model takes {input_channels(model)}")
    return x.sub_(_per_channel(getattr(model, MEAN))).div_(_per_channel(getattr(model, STD)))


def standardise(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """float [N, C, H, W] in [0, 1] units -> the model's input, differentiably (feature
    visualization optimises pixels through it)."""
    return (x - _per_channel(getattr(model, MEAN))) / _per_channel(getattr(model, STD))
