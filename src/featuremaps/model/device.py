"""Choosing the torch device by name: auto = CUDA, then MPS, then CPU."""
from __future__ import annotations

import torch

from featuremaps.errors import ArgumentError
from featuremaps.params import ACCELERATORS
from featuremaps.threads import apply_threads


def available_devices() -> list:
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return ["auto", "cpu"] + (["cuda"] if cuda else []) + (["mps"] if mps else [])


def select_device(name: str) -> torch.device:
    """The device `name` (one of featuremaps.params.DEVICES); ArgumentError where this machine has none."""
    available = available_devices()
    if name == "auto":
        name = next(d for d in (*ACCELERATORS, "cpu") if d in available)
    if name not in available:
        raise ArgumentError(f"this machine has no {name.upper()} device; available here: {', '.join(available)}")
    if name == "cpu":
        apply_threads()
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (for timing); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def device_name(device: torch.device) -> str:
    """The device as a person would name it, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'s' if n > 1 else ''})"
    return device.type
