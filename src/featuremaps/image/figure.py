"""One figure per image: the file as given beside the input the model was given, each class's
probability, and per conv layer its feature maps and its Grad-CAM for the predicted class."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from featuremaps.data.decode import flattened
from featuremaps.params import RenderParams
from featuremaps.report.catalogue import activation_label
from featuremaps.report.figures import MapScale, heat_tile, map_tiles, mosaic, plt, save

MAPS_PER_ROW = 8
THUMBNAIL_PX = 256  # the original is shown reduced: it only has to be recognisable


def thumbnail(image: Image.Image) -> np.ndarray:
    small = flattened(image).convert("RGB")
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return np.asarray(small)


def _heights(n_maps: list, n_classes: int) -> list:
    """Inches of each row: the top row, the probabilities, then each layer's maps."""
    return [2.3, 0.15 * n_classes + 0.5] + [1.25 * -(-n // MAPS_PER_ROW) + 0.35 for n in n_maps]


def image_inches(n_maps: list, n_classes: int) -> tuple[float, float]:
    """(width, height) of image_figure for layers of `n_maps` channels, known before drawing."""
    return 11, sum(_heights(n_maps, n_classes)) + 0.5


def image_figure(path: Path, render: RenderParams, name: str, original: np.ndarray, prepared: np.ndarray,
                 notes: list, probabilities: np.ndarray, classes: list, maps: dict, cams: dict,
                 activation: str, totals: dict | None = None) -> None:
    """Top: the file, the model's input, Grad-CAM of each conv layer; then the probabilities; then
    each conv layer's maps, MAPS_PER_ROW to a row."""
    layers = list(maps)
    heights = _heights([len(maps[layer]) for layer in layers], len(classes))
    fig = plt.figure(figsize=image_inches([len(maps[layer]) for layer in layers], len(classes)), layout="constrained")
    grid = fig.add_gridspec(len(heights), 2 + len(layers), height_ratios=heights)
    best = int(np.argmax(probabilities))
    top = [fig.add_subplot(grid[0, i]) for i in range(2 + len(layers))]
    top[0].imshow(original, cmap="gray" if original.ndim == 2 else None)
    top[0].set_title("as given", fontsize=9)
    top[1].imshow(prepared, cmap="gray" if prepared.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    top[1].set_title("what the model was given", fontsize=9)
    for ax, layer in zip(top[2:], layers):
        ax.imshow(heat_tile(prepared.astype(np.float64), cams[layer], "overlay", render), interpolation="nearest")
        ax.set_title(f"{layer} Grad-CAM for {classes[best]}", fontsize=9)
    for ax in top:
        ax.set_xticks([])
        ax.set_yticks([])
    top[1].set_xlabel("\n".join(notes), fontsize=7)
    ax = fig.add_subplot(grid[1, :])
    ax.barh(range(len(classes)), probabilities, color=["#d62728" if c == best else "#8c8c8c"
                                                      for c in range(len(classes))])
    for c, p in enumerate(probabilities):
        ax.text(min(p, 0.9) + 0.005, c, f"{p:.1%}", va="center", fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"prediction: {classes[best]} ({probabilities[best]:.1%})", fontsize=10, loc="left")
    scale = MapScale(activation, shared=True, label=activation_label(activation))
    for row, layer in enumerate(layers, start=2):
        layer_maps = maps[layer]
        tiles, cmap, norm = map_tiles(prepared[None].astype(np.float64), layer_maps[None], scale, render)
        ax = fig.add_subplot(grid[row, :])
        ax.imshow(mosaic(tiles[1:], MAPS_PER_ROW, layer_maps.shape[1:]), interpolation="nearest")
        total = (totals or {}).get(layer, len(layer_maps))
        count = f"{len(layer_maps)} feature maps" if total == len(layer_maps) else \
            f"the first {len(layer_maps)} of its {total} feature maps (render.figure_features)"
        ax.set_title(f"{layer}: {count}, 1 to {len(layer_maps)} left to right "
                     f"({activation_label(activation)}, one scale up to {norm.vmax:.3g})", fontsize=9, loc="left")
        ax.axis("off")
    fig.suptitle(f"{name}: what the network sees", fontsize=12)
    save(fig, path, render.dpi)
