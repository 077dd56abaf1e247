"""Choosing the torch device by name: auto = CUDA, then MPS, then CPU."""
from __future__ import annotations

import os

import torch

from featuremaps.errors import ArgumentError

DEVICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list:
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return ["auto", "cpu"] + (["cuda"] if cuda else []) + (["mps"] if mps else [])


def select_device(name: str) -> torch.device:
    """The device `name` (one of DEVICES); ArgumentError where this machine has none."""
    available = available_devices()
    if name == "auto":
        name = next(d for d in ("cuda", "mps", "cpu") if d in available)
    if name not in available:
        raise ArgumentError(f"this machine has no {name.upper()} device; available here: {', '.join(available)}")
    if name == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    return torch.device(name)
