"""The train stage's model file: the network's weights (with its input normalisation, which the
model holds as buffers), its config and class names, written and read back.

The checkpoint holds only tensors and plain values, so it loads with
torch.load(path, weights_only=True, map_location="cpu") on any machine; a file holding
other Python objects is refused, never run. A checkpoint of the two-block network from before
the architecture came from params (config conv1_channels..fc2_units, one scalar mean and std
beside the weights) is read as the same network.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch import nn

from featuremaps import paths
from featuremaps.errors import ArgumentError, ArtifactError, first_line
from featuremaps.files import atomic_path, read_artifact
from featuremaps.model.sources import model_from_config

KEYS = ("state_dict", "config", "classes")
STAGE = paths.WRITER[paths.MODEL]


def save_checkpoint(path, model: nn.Module, config: dict, classes: list, architecture: dict | None = None) -> None:
    """architecture: featuremaps.model.architecture's record of the model, kept beside its weights."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    ckpt = {"state_dict": state, "config": config, "classes": list(classes)}
    if architecture is not None:
        ckpt["architecture"] = architecture
    # Through a file object: torch names the archive inside after a file path (here a random
    # temporary one), so the same weights would hash differently and DVC would rerun extract.
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(ckpt, fh)


def _load_tensors(path: Path):
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        # weights_only refused a pickled global (a class or function that could run code).
        name = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if name is None and "Unsupported operand" in str(exc):  # not a pickle at all: text, an image...
            raise ArtifactError(f"{path}: not a loadable featuremaps checkpoint (not a file torch.save wrote); "
                                f"rerun the {STAGE} stage") from None
        raise ArtifactError(f"{path}: refused: it holds Python objects other than tensors"
                            f"{f' ({name.group(1)})' if name else ''}, which could run code when loaded; "
                            f"a featuremaps checkpoint holds only tensors, numbers and strings") from None


def _upgraded(ckpt: dict) -> dict:
    """A checkpoint of the earlier format (fixed two blocks, scalar mean/std beside the weights) in
    today's: the same network, its normalisation moved into the state dict."""
    config = dict(ckpt["config"])
    if "conv_channels" in config or "conv1_channels" not in config:
        return ckpt
    config = {"image_shape": config["image_shape"], "n_classes": config["n_classes"], "in_channels": 1,
              "conv_channels": [config["conv1_channels"], config["conv2_channels"]], "kernel_size": 3,
              "batch_norm": False, "fc_units": [config["fc1_units"], config["fc2_units"]],
              "dropout": config["dropout"], "dropout2d": config["dropout2d"]}
    state = {**ckpt["state_dict"], "pixel_mean": torch.tensor([ckpt["mean"]], dtype=torch.float32),
             "pixel_std": torch.tensor([ckpt["std"]], dtype=torch.float32)}
    return {**ckpt, "config": config, "state_dict": state}


def read_checkpoint(path, expected_config: dict | None = None) -> dict:
    """The checkpoint dict (state_dict, config, classes), checked, without building its model: what
    a reader of the model's description needs (compare). Refuses pickled objects.

    expected_config: config keys the checkpoint must match (e.g. the dataset's image_shape).
    """
    path = Path(path)
    ckpt = read_artifact(path, _load_tensors, what="a loadable featuremaps checkpoint", stage=STAGE,
                         errors=(zipfile.BadZipFile, RuntimeError, EOFError, OSError))
    if not isinstance(ckpt, dict) or not set(KEYS) <= set(ckpt):
        raise ArtifactError(f"{path}: not a featuremaps checkpoint; expected keys {', '.join(KEYS)}; "
                            f"rerun the {STAGE} stage")
    try:
        ckpt = _upgraded(ckpt)
    except (KeyError, TypeError):
        raise ArtifactError(f"{path}: not a featuremaps checkpoint (its config is incomplete); "
                            f"rerun the {STAGE} stage") from None
    if expected_config is not None and any(ckpt["config"].get(k) != v for k, v in expected_config.items()):
        found, wanted = ckpt["config"], expected_config
        diff = sorted(k for k in wanted if found.get(k) != wanted[k])
        was = ", ".join(f"{k}={found.get(k)!r}" for k in diff)
        now = ", ".join(f"{k}={wanted.get(k)!r}" for k in diff)
        raise ArtifactError(f"{path}: was trained with {was} but the dataset has {now}; "
                            f"rerun the {STAGE} stage")
    return ckpt


def load_checkpoint(path, expected_config: dict | None = None, root: Path = Path(".")):
    """(model in eval mode on the CPU, checkpoint dict): read_checkpoint, then the model it describes
    built and loaded. root: the project folder a model.factory file is read from."""
    path = Path(path)
    ckpt = read_checkpoint(path, expected_config)
    try:
        model = model_from_config(ckpt["config"], root=root)
    except ArgumentError as exc:  # the user's model code (model.factory), read from the working folder
        raise ArtifactError(f"{path}: its model cannot be built here ({first_line(exc)})") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError, KeyError, ArgumentError) as exc:
        raise ArtifactError(f"{path}: weights do not fit the model it describes ({first_line(exc)}); "
                            f"rerun the {STAGE} stage") from None
    return model.eval(), ckpt
