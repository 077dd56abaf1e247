"""Choosing the torch device from params: auto = CUDA, then MPS, then CPU."""
from __future__ import annotations

import os

import torch

from featuremaps.errors import ParamsError


def select_device(name: str, key: str = "train.device") -> torch.device:
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    available = ["auto", "cpu"] + (["cuda"] if cuda else []) + (["mps"] if mps else [])
    if name not in available:
        raise ParamsError(f"params.yaml: {key} = {name!r} but this machine has no {name.upper()} device; "
                          f"available here: {', '.join(available)}")
    if name == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    return torch.device(name)
