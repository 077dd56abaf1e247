"""Step-indexed images for DVC's own viewers: DVCLive's `log_image` with the epoch in the name, so
DVC's VS Code extension and Studio show each as a slider over the epochs.

    live/plots/images/<layer>_filters/<epoch>.png    every snapshot epoch: the layer's filters
    live/plots/images/<layer>_optimised/<epoch>.png  the vis epochs: its optimised inputs, 8 features a row

The filters share one colour scale per layer across the epochs (RdBu_r, red positive), so a
weight that grows reads as a colour that deepens. A layer's first LAYER_FEATURES features are drawn,
a deep layer's filters by their strongest input channels (featuremaps.drawing.filters); a layer
named with its call (`relu:2`) is in a folder named with `-` (`relu-2_filters`). Written into a temporary folder, then swapped in
whole; the train stage's DVCLive empties live/plots/images when training starts again.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from featuremaps.drawing.filters import drawn_kernels, strongest_inputs
from featuremaps.drawing.tiles import filter_mosaic, image_rgba, mosaic
from featuremaps.files import atomic_folder
from featuremaps.paths import layer_file_stem

LAYER_FEATURES = 32  # features of a layer drawn, the first ones (a ResNet's layer4 has 512)

FILTER_CMAP = "RdBu_r"
PIXELS = 4  # screen pixels per input pixel of an optimised input
FEATURES_PER_ROW = 8


def _uint8(rgba: np.ndarray) -> np.ndarray:
    return np.round(255 * rgba[..., :3]).astype(np.uint8)


def write_live_images(folder: Path, epochs, filters: dict, vis_epochs, vis: dict) -> None:
    """filters: {layer: float [E, F, C_in, k, k]} over `epochs`; vis: {layer: uint8 [V, F, S, H, W(, C)]}
    over `vis_epochs`."""
    from dvclive import Live  # here: only this stage's images need it
    with atomic_folder(folder) as tmp:
        live = Live(dir=str(tmp / "live"), save_dvc_exp=False, dvcyaml=None, report=None)
        for layer, weights in filters.items():
            if weights.size == 0:  # a layer that is not a convolution has no filters
                continue
            weights = weights[:, :LAYER_FEATURES]
            inputs = strongest_inputs(weights[-1])  # a deep layer's strongest input channels, at the last epoch
            limit = float(np.abs(weights).max()) or 1.0
            for i, epoch in enumerate(epochs):
                live.step = int(epoch)
                live.log_image(f"{layer_file_stem(layer)}_filters/{epoch}.png",
                               _uint8(filter_mosaic(drawn_kernels(weights[i], inputs), limit, plt.get_cmap(FILTER_CMAP))))
        for layer, images in vis.items():
            images = images[:, :LAYER_FEATURES]
            h, w = images.shape[3:5]
            for i, epoch in enumerate(vis_epochs):
                live.step = int(epoch)
                tiles = [image_rgba(image / 255.0) for row in images[i] for image in row]
                columns = images.shape[2] * min(images.shape[1], FEATURES_PER_ROW)
                live.log_image(f"{layer_file_stem(layer)}_optimised/{epoch}.png", _uint8(mosaic(tiles, columns, (h * PIXELS, w * PIXELS))))
        # DVCLive writes to <its dir>/plots/images; only that folder is the output
        logged = tmp / "live" / "plots" / "images"
        for entry in logged.iterdir() if logged.exists() else []:
            shutil.move(str(entry), tmp / entry.name)
        shutil.rmtree(tmp / "live")
