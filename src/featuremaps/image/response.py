"""The trained network's response to prepared images: each class's probability, the maps of
its layers (the activation extract records), and Grad-CAM of each layer for the predicted class
(featuremaps.analysis.attribution, through Captum)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from featuremaps.analysis.activations import hooked_layers
from featuremaps.analysis.attribution import gradcam
from featuremaps.model.network import normalised_images


@dataclass
class Response:
    probabilities: np.ndarray   # [N, C]
    maps: dict                  # layer -> [N, F, h, w] float32
    gradcam: dict               # layer -> [N, H, W] for the predicted class


def response(model, images: np.ndarray, activation: str, layers: list) -> Response:
    """images: uint8 [N, H, W(, C)] as prepared; the model in eval mode on the CPU; `layers` checked
    (featuremaps.model.seam.chosen_layers)."""
    x = normalised_images(model, images)
    with torch.inference_mode(), hooked_layers(model, layers, activation) as captured:
        probabilities = torch.softmax(model(x).double(), 1).numpy()
        maps = {layer: captured[layer].float().numpy() for layer in layers}
    predicted = torch.from_numpy(probabilities.argmax(1))
    cams = {layer: gradcam(model, layer, x, predicted).numpy() for layer in layers}
    return Response(probabilities, maps, cams)
