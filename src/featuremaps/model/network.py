"""The seed notebook's CNN, sized from params and the dataset, and its input normalisation.

conv1 (1->c1, 3x3, pad 1) -> ReLU -> maxpool 2 -> Dropout2d
conv2 (c1->c2, 3x3, pad 1) -> ReLU -> maxpool 2 -> Dropout2d
fc1 -> ReLU -> Dropout -> fc2 -> ReLU -> Dropout -> fc3 (one logit per class)

Its input is the stored uint8 images, normalised once with the train split's pixel mean
and std (normalised_images), in training and in extraction alike.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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


def normalised_images(images: np.ndarray, mean: float, std: float, device=torch.device("cpu")) -> torch.Tensor:
    """uint8 [N,H,W] -> float32 [N,1,H,W] on `device`: (x/255 - mean)/std."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).unsqueeze(1).float()
    return x.div_(255.0).sub_(mean).div_(std)
