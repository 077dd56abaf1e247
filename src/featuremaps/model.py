"""The seed notebook's CNN, sized from params and the dataset, and its checkpoint file.

conv1 (1->c1, 3x3, pad 1) -> ReLU -> maxpool 2 -> Dropout2d
conv2 (c1->c2, 3x3, pad 1) -> ReLU -> maxpool 2 -> Dropout2d
fc1 -> ReLU -> Dropout -> fc2 -> ReLU -> Dropout -> fc3 (one logit per class)

The checkpoint holds only tensors and plain values, so it loads with
torch.load(path, weights_only=True, map_location="cpu") on any machine.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from featuremaps.errors import ArtifactError, first_line
from featuremaps.files import atomic_path
from featuremaps.params import ModelParams


class ConvNet(nn.Module):
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

    def forward(self, x):
        x = self.dropout2d(self.pool(F.relu(self.conv1(x))))
        x = self.dropout2d(self.pool(F.relu(self.conv2(x))))
        x = torch.flatten(x, 1)
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


def save_checkpoint(path, model: nn.Module, config: dict, mean: float, std: float, classes: list) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    ckpt = {"state_dict": state, "config": config, "mean": float(mean), "std": float(std),
            "classes": list(classes)}
    # Through a file object: torch names the archive inside after a file path (here a random
    # temporary one), so the same weights would hash differently and DVC would rerun extract.
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(ckpt, fh)


def load_checkpoint(path, expected_config: dict | None = None):
    """(model in eval mode on the CPU, checkpoint dict); refuses pickled objects.

    expected_config: config keys the checkpoint must match (e.g. the dataset's image_shape).
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: not found; run the train stage first (dvc repro)")
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        # weights_only refused a pickled global (a class or function that could run code).
        name = re.search(r"GLOBAL ([\w.]+)", str(exc))
        raise ArtifactError(f"{path}: refused: it holds Python objects other than tensors"
                            f"{f' ({name.group(1)})' if name else ''}, which could run code when loaded; "
                            f"a featuremaps checkpoint holds only tensors, numbers and strings") from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as exc:
        raise ArtifactError(f"{path}: not a loadable featuremaps checkpoint ({first_line(exc)}); "
                            f"rerun the train stage to write one") from None
    if not isinstance(ckpt, dict) or not {"state_dict", "config", "mean", "std", "classes"} <= set(ckpt):
        raise ArtifactError(f"{path}: not a featuremaps checkpoint; expected keys state_dict, config, "
                            f"mean, std, classes")
    if expected_config is not None and any(ckpt["config"].get(k) != v for k, v in expected_config.items()):
        found, wanted = ckpt["config"], expected_config
        diff = sorted(k for k in wanted if found.get(k) != wanted[k])
        was = ", ".join(f"{k}={found.get(k)!r}" for k in diff)
        now = ", ".join(f"{k}={wanted.get(k)!r}" for k in diff)
        raise ArtifactError(f"{path}: was trained with {was} but the dataset has {now}; "
                            f"rerun the train stage")
    try:
        model = build_model(ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError, KeyError) as exc:
        raise ArtifactError(f"{path}: weights do not fit the model it describes ({first_line(exc)}); "
                            f"rerun the train stage") from None
    return model.eval(), ckpt
