"""The draw functions, one per kind of figure, from arrays only (never the model over the dataset).

Each takes the PNG's path, RenderParams, its size in inches, its heading and its data;
saves one PNG and closes its figure. The words a reader sees in the report (title, heading,
caption) and the size come from the figure's record in featuremaps.report.catalogue; the
size functions here (grid_figsize, ...) are what those records compute it with, so a
figure's pixel size (inches x dpi) is known before it is drawn.

Grids of images are composed into one mosaic (featuremaps.drawing.tiles) and drawn with a single
imshow, labelled by ticks.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402

from featuremaps.drawing.tiles import PAD, MapScale, activation_norm, heat_tile, image_rgba, map_tiles, \
    filter_mosaic, mosaic, rgba, save  # noqa: E402, F401: heat_tile, activation_norm and MapScale are the figures' too
from featuremaps.params import RenderParams  # noqa: E402

# Room around a grid of tiles for titles, tick labels and a colour bar, in inches.
MARGIN_W, MARGIN_H = 2.4, 1.3


def grid_figsize(n_rows: int, n_cols: int, tile_inches: float) -> tuple[float, float]:
    return (n_cols * tile_inches + MARGIN_W, n_rows * tile_inches + MARGIN_H)


def _label_grid(ax, n_rows, n_cols, tile_px, row_labels=None, col_labels=None, fontsize=9):
    step_y, step_x = tile_px[0] + PAD, tile_px[1] + PAD
    ax.set_xticks([PAD + step_x * j + tile_px[1] / 2 for j in range(n_cols)])
    ax.set_xticklabels(col_labels or [""] * n_cols, fontsize=fontsize, rotation=0)
    ax.set_yticks([PAD + step_y * i + tile_px[0] / 2 for i in range(n_rows)])
    ax.set_yticklabels(row_labels or [""] * n_rows, fontsize=fontsize)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def map_grid_figure(path: Path, params: RenderParams, figsize, heading: str, inputs: np.ndarray,
                    maps: np.ndarray, row_labels: list, input_label: str, scale: MapScale) -> None:
    """Rows = classes: the input then one tile per feature map."""
    n_rows, n_feat = maps.shape[:2]
    tile_px = inputs.shape[1:3]
    tiles, cmap, norm = map_tiles(inputs, maps, scale, params)
    image = mosaic(tiles, n_feat + 1, tile_px)
    fig = plt.figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, interpolation="nearest")
    _label_grid(ax, n_rows, n_feat + 1, tile_px, row_labels,
                [input_label] + [f"Feature {f + 1}" for f in range(n_feat)],
                fontsize=8 if n_feat > 10 else 9)
    if scale.shared:
        bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=0.01)
        bar.set_label(scale.label)
    else:
        bar = fig.colorbar(plt.cm.ScalarMappable(norm=mcolors.Normalize(0, 1), cmap=params.cmap), ax=ax,
                           shrink=0.6, pad=0.01, ticks=[0, 1])
        bar.ax.set_yticklabels(["map min", "map max"])
        bar.set_label("one scale per map")
    fig.suptitle(heading, fontsize=12, wrap=True)
    save(fig, path, params.dpi)


def filters_figure(path: Path, params: RenderParams, figsize, heading: str, weights: np.ndarray,
                   inputs: np.ndarray | None = None, colour: bool = False) -> None:
    """Kernels [out, in, k, k]: rows = output features, columns = input channels, centred on zero;
    with `inputs` [out, m], column j of a row is that feature's input channel inputs[row, j] (its
    j-th strongest), written on the tile; with `colour` (a first layer on RGB), a first column of
    each kernel in colour."""
    n_out, n_in = weights.shape[:2]
    m = float(np.abs(weights).max()) or 1.0
    cmap, norm = plt.get_cmap(params.diverging_cmap), mcolors.Normalize(-m, m)
    tile_px = (weights.shape[2] * 8, weights.shape[3] * 8)
    image = filter_mosaic(weights, m, cmap, colour=colour)
    fig = plt.figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, interpolation="nearest")
    _label_grid(ax, n_out, n_in + colour, tile_px, [f"Feature {o + 1}" for o in range(n_out)],
                ["colour"] * colour + ["input" if n_in == 1 and inputs is None else f"in {i + 1}" if inputs is None
                                       else f"#{i + 1}" for i in range(n_in)], fontsize=8)
    if inputs is not None:
        for o in range(n_out):
            for i in range(n_in):
                ax.text(PAD + (tile_px[1] + PAD) * i + 1, PAD + (tile_px[0] + PAD) * o + 1, f"in {inputs[o, i] + 1}",
                        fontsize=5, va="top", ha="left", color="black", in_layout=False, clip_on=True,
                        bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.7))
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=0.02)
    bar.set_label("weight")
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def histogram_layout(n_features: int) -> tuple[int, int]:
    cols = int(np.ceil(np.sqrt(n_features)))
    return int(np.ceil(n_features / cols)), cols


def histogram_figsize(n_features: int) -> tuple[float, float]:
    rows, cols = histogram_layout(n_features)
    return (cols * 2.6 + 1.8, rows * 1.9 + 0.9)


def histograms_figure(path: Path, params: RenderParams, figsize, heading: str, edges: np.ndarray,
                      densities: list, classes: list) -> None:
    """One panel per feature: each class's density of per-image summed activation over the feature's
    bin edges (edges [F, bins + 1]; densities [F][class]: an array, or None for a class with no image)."""
    n_feat = len(edges)
    rows, cols = histogram_layout(n_feat)
    fig, axes = plt.subplots(rows, cols, figsize=figsize, layout="constrained", squeeze=False)
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for f, ax in enumerate(axes.flat):
        if f >= n_feat:
            ax.set_visible(False)
            continue
        for c, name in enumerate(classes):
            if densities[f][c] is not None:
                ax.stairs(densities[f][c], edges[f], color=colours(c % colours.N), linewidth=1.1, label=name)
        ax.set_title(f"Feature {f + 1}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if f // cols == rows - 1 or f + cols >= n_feat:
            ax.set_xlabel("summed activation", fontsize=8)
        if f % cols == 0:
            ax.set_ylabel("density", fontsize=8)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", fontsize=8, title="class")
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


# Class x channel heatmaps (selectivity, ablation): COLUMN_INCHES a channel, all layers side by side
# while they have at most WRAP_CHANNELS together; wider ones wrap, a row of at most WRAP_CHANNELS
# channels of one layer at a time, so that any channel count draws within the pixel budget.
COLUMN_INCHES, ROW_INCHES, WRAP_CHANNELS = 0.38, 0.36, 64


def heatmap_rows(n_channels: list) -> list:
    """Rows of panels, each panel (layer position, first channel, end channel): a layer wider than
    WRAP_CHANNELS in pieces of its own rows, narrower layers side by side while a row holds them
    (a ResNet's 20 layers must not make 20 rows)."""
    if sum(n_channels) <= WRAP_CHANNELS:
        return [[(i, 0, n) for i, n in enumerate(n_channels)]]
    rows, row = [], []
    for i, n in enumerate(n_channels):
        if n > WRAP_CHANNELS:
            rows += ([row] if row else []) + [[(i, start, min(start + WRAP_CHANNELS, n))] for start in range(0, n, WRAP_CHANNELS)]
            row = []
        elif sum(stop - start for _, start, stop in row) + n > WRAP_CHANNELS:
            rows.append(row)
            row = [(i, 0, n)]
        else:
            row.append((i, 0, n))
    return rows + ([row] if row else [])


def heatmap_figsize(n_channels: list, n_rows: int, extra_height: float) -> tuple[float, float]:
    rows = heatmap_rows(n_channels)
    if len(rows) == 1:
        return sum(n_channels) * COLUMN_INCHES + 2.8 * len(n_channels), n_rows * ROW_INCHES + extra_height
    width = max(sum(stop - start for _, start, stop in row) * COLUMN_INCHES + 2.8 * len(row) for row in rows)
    return width, len(rows) * (n_rows * ROW_INCHES + extra_height - 0.6) + 0.6


def selectivity_figsize(n_features: list, n_classes: int) -> tuple[float, float]:
    """One heatmap per layer side by side (wrapped when wide); n_features: each layer's feature count."""
    return heatmap_figsize(n_features, n_classes, 1.6)


def heatmap_axes(fig, n_channels: list) -> list:
    """[(axes, layer position, first channel, end channel)] laid out as heatmap_rows says."""
    rows = heatmap_rows(n_channels)
    if len(rows) == 1:
        axes = fig.subplots(1, len(n_channels), squeeze=False, width_ratios=[n + 2 for n in n_channels])
        return [(axes[0, i], i, start, stop) for i, start, stop in rows[0]]
    grid = fig.add_gridspec(len(rows), max(sum(stop - start + 2 for _, start, stop in row) for row in rows))
    panels = []
    for r, row in enumerate(rows):
        at = 0
        for i, start, stop in row:
            panels.append((fig.add_subplot(grid[r, at:at + stop - start + 2]), i, start, stop))
            at += stop - start + 2
    return panels


def selectivity_figure(path: Path, params: RenderParams, figsize, heading: str, layer_means: dict,
                       classes: list) -> None:
    """Class x feature heatmaps of mean summed activation, min-max scaled per feature across classes."""
    fig = plt.figure(layout="constrained", figsize=figsize)
    layers = list(layer_means)
    panels = heatmap_axes(fig, [m.shape[1] for m in layer_means.values()])
    for ax, i, start, stop in panels:
        means = layer_means[layers[i]][:, start:stop]
        lo, hi = np.nanmin(means, axis=0, keepdims=True), np.nanmax(means, axis=0, keepdims=True)
        norm = np.divide(means - lo, hi - lo, out=np.zeros_like(means), where=hi > lo)
        im = ax.imshow(norm, cmap=params.cmap, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(stop - start), [str(f + 1) for f in range(start, stop)], fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel(f"{layers[i]} feature")
        ax.set_title(layers[i] if len(panels) == len(layers) else f"{layers[i]}: features {start + 1}-{stop}",
                     fontsize=10)
    bar = fig.colorbar(im, ax=panels[-1][0] if len(panels) == len(layers) else [p[0] for p in panels],
                       shrink=0.8, ticks=[0, 1])
    bar.ax.set_yticklabels(["least\nresponsive\nclass", "most\nresponsive\nclass"], fontsize=8)
    bar.set_label("class mean, scaled per feature")
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def image_grid_figure(path: Path, params: RenderParams, figsize, heading: str, tiles: np.ndarray, row_labels: list,
                      col_labels: list, notes: list, boxes: np.ndarray) -> None:
    """Images in a grid: tiles [R, C, H, W(, 3)] in levels 0..255 (NaN: an empty cell), a note
    at each tile's top left (notes[r][c], "" for none) and a red box on each tile where
    boxes[r, c] = (top, left, bottom, right) in its pixels, inclusive (-1: none)."""
    n_rows, n_cols, h, w = tiles.shape[:4]
    rgba = [image_rgba(tile / 255.0) for tile in tiles.reshape(-1, *tiles.shape[2:])]
    image = mosaic(rgba, n_cols, (h, w))
    fig = plt.figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, interpolation="nearest")
    _label_grid(ax, n_rows, n_cols, (h, w), row_labels, col_labels, fontsize=8)
    for r in range(n_rows):
        for c in range(n_cols):
            y, x = PAD + r * (h + PAD), PAD + c * (w + PAD)
            if notes[r][c]:
                ax.text(x + 1, y + 1, notes[r][c], color="yellow", fontsize=7, va="top", ha="left",
                        bbox=dict(facecolor="black", alpha=0.55, linewidth=0, pad=0.6))
            top, left, bottom, right = boxes[r, c]
            if top >= 0:
                ax.add_patch(plt.Rectangle((x + left - 0.5, y + top - 0.5), right - left + 1, bottom - top + 1,
                                           fill=False, edgecolor="#ff3030", linewidth=1.0))
    fig.suptitle(heading, fontsize=10, wrap=True)
    save(fig, path, params.dpi)


def samples_layout(n: int) -> tuple[int, int]:
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def samples_figsize(n: int) -> tuple[float, float]:
    rows, cols = samples_layout(n)
    return (cols * 1.5, rows * 1.6 + 0.5)


def samples_figure(path: Path, params: RenderParams, figsize, heading: str, images: np.ndarray,
                   labels: np.ndarray, preds: np.ndarray, classes: list) -> None:
    rows, cols = samples_layout(len(images))
    n = len(images)
    fig, axes = plt.subplots(rows, cols, figsize=figsize, layout="constrained", squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        right = labels[i] == preds[i]
        ax.set_title(f"true {classes[labels[i]]}\npred {classes[preds[i]]}", fontsize=7,
                     color="black" if right else "red")
    fig.suptitle(heading, fontsize=10, wrap=True)
    save(fig, path, params.dpi)


def confusion_figsize(n_classes: int) -> tuple[float, float]:
    return (n_classes * 0.55 + 2.8, n_classes * 0.5 + 1.6)


def confusion_figure(path: Path, params: RenderParams, figsize, heading: str, matrix: np.ndarray,
                     classes: list) -> None:
    """Counts, coloured by the share of each true class (row-normalised)."""
    n = len(classes)
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class")
    ax.set_title(heading, fontsize=10)
    save(fig, path, params.dpi)


TRAINING_CURVES_INCHES = (10, 3.8)


def training_curves_figure(path: Path, params: RenderParams, figsize, heading: str, history,
                           best_epoch: int) -> None:
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=figsize, layout="constrained")
    for ax, key, name in ((loss_ax, "loss", "Cross-entropy loss"), (acc_ax, "accuracy", "Accuracy")):
        ax.plot(history["epoch"], history[f"train_{key}"], marker="o", ms=3, label="train")
        ax.plot(history["epoch"], history[f"val_{key}"], marker="o", ms=3, label="val")
        ax.axvline(best_epoch, color="grey", ls="--", lw=1, label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def attribution_grid_figure(path: Path, params: RenderParams, figsize, heading: str, inputs: np.ndarray,
                            heat: np.ndarray, kinds: list, row_labels: list, col_labels: list,
                            wrong: list) -> None:
    """Rows: the input, then each heat map [R, K, H, W] as an overlay or signed (kinds[k]);
    NaN heat leaves a cell empty; rows where wrong[r] get a red label."""
    n_rows, n_heat, h, w = heat.shape
    tiles = []
    for r in range(n_rows):
        tiles.append(image_rgba(inputs[r] / 255.0))
        tiles += [heat_tile(inputs[r], heat[r, k], kinds[k], params) for k in range(n_heat)]
    image = mosaic(tiles, n_heat + 1, (h, w))
    fig = plt.figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, interpolation="nearest")
    _label_grid(ax, n_rows, n_heat + 1, (h, w), row_labels, col_labels, fontsize=8)
    for label, bad in zip(ax.get_yticklabels(), wrong):
        label.set_color("red" if bad else "black")
    fig.suptitle(heading, fontsize=10, wrap=True)
    save(fig, path, params.dpi)


def ablation_figsize(n_channels: list, n_rows: int) -> tuple[float, float]:
    return heatmap_figsize(n_channels, n_rows, 1.8)


def ablation_figure(path: Path, params: RenderParams, figsize, heading: str, drops: dict, row_labels: list) -> None:
    """One heatmap per layer (wrapped when wide): rows = classes (and all images), columns = channels,
    colour = the accuracy lost in percentage points when that channel alone is zeroed."""
    m = max(float(np.nanmax(np.abs(d))) for d in drops.values()) or 1.0
    fig = plt.figure(layout="constrained", figsize=figsize)
    layers = list(drops)
    panels = heatmap_axes(fig, [d.shape[1] for d in drops.values()])
    for ax, i, start, stop in panels:
        d = drops[layers[i]][:, start:stop]
        im = ax.imshow(d, cmap=params.diverging_cmap, vmin=-m, vmax=m, aspect="auto")
        ax.set_xticks(range(stop - start), [str(c + 1) for c in range(start, stop)], fontsize=8)
        ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
        ax.set_xlabel(f"{layers[i]} channel zeroed")
        ax.set_title(layers[i] if len(panels) == len(layers) else f"{layers[i]}: channels {start + 1}-{stop}",
                     fontsize=10)
    fig.colorbar(im, ax=panels[-1][0] if len(panels) == len(layers) else [p[0] for p in panels], shrink=0.8,
                 label="accuracy lost (percentage points)")
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def claims_figsize(n_layers: int) -> tuple[float, float]:
    return 12.0, 3.2 * n_layers + 0.6


def claims_figure(path: Path, params: RenderParams, figsize, heading: str, layers: dict) -> None:
    """A row per layer: selectivity index against overall accuracy lost (a point per channel), a
    channel's selectivity for a class against that class's accuracy lost (a point per pair), and the
    accuracy lost by zeroing the k most selective channels beside k random ones (a point per draw)."""
    fig, axes = plt.subplots(len(layers), 3, figsize=figsize, layout="constrained", squeeze=False)
    for row, (layer, d) in zip(axes, layers.items()):
        a, b, c = row
        a.scatter(d["selectivity"], d["overall_drop"], s=18, color="#333")
        a.set_xlabel("selectivity index")
        a.set_ylabel("overall accuracy lost (pp)")
        a.set_title(f"{layer}: Spearman {_rho(d['rho_overall'])}", fontsize=10)
        b.scatter(d["class_selectivity"], d["class_drop"], s=8, alpha=0.6, color="#36c")
        b.set_xlabel("selectivity for the class")
        b.set_ylabel("that class's accuracy lost (pp)")
        b.set_title(f"{layer}, channel x class: Spearman {_rho(d['rho_class'])}", fontsize=10)
        if not d["k"]:
            for ax in (a, b):
                ax.axhline(0, color="#ccc", lw=0.8, zorder=0)
            c.set_axis_off()
            c.text(0.5, 0.5, f"{layer}: one channel, no set to compare", ha="center", va="center",
                   transform=c.transAxes, fontsize=9)
            continue
        jitter = np.linspace(-0.15, 0.15, len(d["random"])) if len(d["random"]) > 1 else [0.0]
        c.scatter(1 + np.asarray(jitter), d["random"], s=18, color="#999", label="random sets")
        c.scatter([1], [np.mean(d["random"])], marker="_", s=600, color="#333", label="their mean")
        c.scatter([0], [d["selective"]], s=40, color="#d33", label="most selective")
        c.set_xticks([0, 1], [f"{d['k']} most selective", f"{d['k']} random"])
        c.set_xlim(-0.6, 1.6)
        c.set_ylabel("overall accuracy lost (pp)")
        c.set_title(f"{layer}: {d['k']} channels zeroed together", fontsize=10)
        for ax in row:
            ax.axhline(0, color="#ccc", lw=0.8, zorder=0)
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def _rho(value) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.2f}"
