"""The drawing toolkit that render, `featuremaps compare` and `featuremaps image` share: matplotlib
set up for files (Agg), a figure saved atomically, tiles of images and maps as RGBA arrays composed
into one mosaic (drawn with a single imshow, which keeps a 10 x 17 grid as fast to draw as one
image; numpy, not torchvision's make_grid: importing torch would double render's run time), and
the colour scales of feature maps and heat maps.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from featuremaps.files import atomic_path  # noqa: E402
from featuremaps.params import RenderParams  # noqa: E402

PAD = 1  # pixels between tiles in a mosaic


def save(fig, path: Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def _upscale(tile: np.ndarray, size: tuple) -> np.ndarray:
    """Nearest-neighbour enlargement of a 2-D tile to `size` (whole multiples, then edge pad)."""
    fy, fx = max(size[0] // tile.shape[0], 1), max(size[1] // tile.shape[1], 1)
    big = np.kron(tile, np.ones((fy, fx), dtype=tile.dtype))
    return np.pad(big, ((0, size[0] - big.shape[0]), (0, size[1] - big.shape[1])), mode="edge")


def mosaic(tiles, n_cols: int, tile_px: tuple, pad_value: float = 1.0) -> np.ndarray:
    """RGBA tiles (each [h,w,4] in 0..1) -> one RGBA image, tiles upscaled to tile_px, white gaps."""
    n_rows = -(-len(tiles) // n_cols)
    h, w = tile_px
    grid = np.full((PAD + n_rows * (h + PAD), PAD + n_cols * (w + PAD), 4), pad_value)
    grid[..., 3] = 1.0
    for i, tile in enumerate(tiles):
        r, c = divmod(i, n_cols)
        y, x = PAD + r * (h + PAD), PAD + c * (w + PAD)
        grid[y:y + h, x:x + w] = np.stack([_upscale(tile[..., k], tile_px) for k in range(4)], -1)
    return grid


def filter_mosaic(weights: np.ndarray, limit: float, cmap, px: int = 8, colour: bool = False) -> np.ndarray:
    """RGBA mosaic of kernels [out, in, k, k]: rows = output features, columns = input channels, each
    weight px x px, coloured by `cmap` from -limit to +limit, grey gaps (white is a zero weight). With
    `colour` (a first layer's 3 input channels), a first column shows each kernel as the colour it
    answers to: RGB = 0.5 + w / (2 max|w|) per feature, grey where it is indifferent."""
    n_out, n_in = weights.shape[:2]
    norm = mcolors.Normalize(-limit, limit)
    tiles = []
    for o in range(n_out):
        if colour:
            top = float(np.abs(weights[o]).max()) or 1.0
            tiles.append(np.concatenate([np.clip(0.5 + weights[o].transpose(1, 2, 0) / (2 * top), 0, 1),
                                         np.ones((*weights.shape[2:], 1))], -1))
        tiles += [rgba(weights[o, i], cmap, norm) for i in range(n_in)]
    return mosaic(tiles, n_in + colour, (weights.shape[2] * px, weights.shape[3] * px), pad_value=0.55)


def rgba(values: np.ndarray, cmap, norm) -> np.ndarray:
    out = cmap(norm(np.nan_to_num(values, nan=0.0)))
    out[np.isnan(values)] = (1, 1, 1, 1)  # a class with no image stays white
    return out


def image_rgba(pixels: np.ndarray, norm=None) -> np.ndarray:
    """RGBA tile of an input image: grey [H, W] through the grey colour map, colour [H, W, 3] as its
    own colours; `norm` maps its values to 0..1 (default: they are already); NaN: white."""
    norm = norm or mcolors.Normalize(0, 1)
    if pixels.ndim == 2:
        return rgba(pixels, plt.get_cmap("gray"), norm)
    out = np.ones((*pixels.shape[:2], 4))
    out[..., :3] = np.clip(norm(np.nan_to_num(pixels, nan=0.0)), 0, 1)
    out[np.isnan(pixels).any(-1)] = 1.0
    return out


def activation_norm(values: np.ndarray, activation: str, params: RenderParams):
    """(cmap, norm): post-ReLU maps start at zero; raw maps get a diverging map centred on zero."""
    finite = values[np.isfinite(values)]
    if activation == "raw":
        m = float(np.abs(finite).max()) if finite.size else 1.0
        return plt.get_cmap(params.diverging_cmap), mcolors.Normalize(-m or -1, m or 1)
    top = float(finite.max()) if finite.size else 1.0
    return plt.get_cmap(params.cmap), mcolors.Normalize(0.0, top if top > 0 else 1.0)


@dataclass(frozen=True)
class MapScale:
    """How a grid of feature maps is coloured."""
    activation: str   # relu: params.cmap from zero; raw: params.diverging_cmap centred on zero
    shared: bool      # one colour scale for the whole grid, else each map from its min to its max
    label: str        # the colour bar's label under a shared scale


def map_tiles(inputs: np.ndarray, maps: np.ndarray, scale: MapScale, params: RenderParams):
    """(RGBA tiles row by row: the input as an image, then each map; the shared cmap; the shared norm)."""
    n_rows, n_feat = maps.shape[:2]
    grey = mcolors.Normalize(0, max(float(np.nanmax(inputs)) if np.isfinite(inputs).any() else 1, 1e-9))
    tiles = []
    cmap, norm = activation_norm(maps, scale.activation, params)
    for r in range(n_rows):
        tiles.append(image_rgba(inputs[r], grey))
        for f in range(n_feat):
            m = maps[r, f]
            if not scale.shared and np.isfinite(m).any():
                lo, hi = float(np.nanmin(m)), float(np.nanmax(m))
                m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
                tiles.append(rgba(m, plt.get_cmap(params.cmap), mcolors.Normalize(0, 1)))
            else:
                tiles.append(rgba(m, cmap, norm))
    return tiles, cmap, norm


def heat_tile(image: np.ndarray, heat: np.ndarray, kind: str, params: RenderParams) -> np.ndarray:
    """RGBA tile: `overlay` blends heat (>= 0, scaled to its own maximum) over the image, more opaque
    where it is stronger; `signed`
    shows signed heat alone on the diverging map, centred on zero."""
    if np.isnan(heat).all():
        return np.ones((*heat.shape, 4))
    if kind == "signed":
        m = float(np.abs(heat).max()) or 1.0
        return rgba(heat, plt.get_cmap(params.diverging_cmap), mcolors.Normalize(-m, m))
    scaled = heat / (float(heat.max()) or 1.0)
    base = image_rgba(image / 255.0)
    alpha = 0.8 * scaled[..., None]  # no evidence: the plain image; strong evidence: the colour
    return np.clip((1 - alpha) * base + alpha * rgba(scaled, plt.get_cmap(params.cmap), mcolors.Normalize(0, 1)),
                   0, 1)
