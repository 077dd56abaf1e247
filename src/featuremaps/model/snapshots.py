"""The network's weights while it trained: at epoch 0 (the seeded initialisation) and after every
`train.snapshot_every`-th epoch (the last one always), in one file beside the model.

    data/model/snapshots.pt   {"epochs": [0, 1, ...], "states": {"0": state dict, "1": ...}}

Only tensors, numbers and strings, so it loads with torch.load(weights_only=True); the states are
the model's state dicts (normalisation buffers included), so any snapshot loads into the network
model.pt's config describes.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from featuremaps import paths
from featuremaps.errors import ArtifactError
from featuremaps.files import atomic_path, read_artifact

STAGE = paths.WRITER[paths.MODEL]


class Snapshots:
    """Collects the states of the chosen epochs during fit (its after_epoch callback)."""

    def __init__(self, epochs: list):
        self.epochs, self.states = set(epochs), {}

    def __call__(self, epoch: int, model, record) -> None:
        if epoch in self.epochs:
            self.states[epoch] = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def write_snapshots(path, states: dict) -> None:
    """states: {epoch: state dict}. Through a file object, as the model is: the bytes follow the weights."""
    epochs = sorted(states)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save({"epochs": epochs, "states": {str(e): states[e] for e in epochs}}, fh)


def read_snapshots(path) -> dict:
    """{epoch: state dict} of a snapshots file."""
    path = Path(path)
    raw = read_artifact(path, lambda p: torch.load(p, weights_only=True, map_location="cpu"),
                        what="weight snapshots", stage=STAGE,
                        errors=(RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile))
    if not isinstance(raw, dict) or set(raw) != {"epochs", "states"}:
        raise ArtifactError(f"{path}: not a featuremaps snapshots file; rerun the {STAGE} stage")
    return {int(e): raw["states"][str(e)] for e in raw["epochs"]}
