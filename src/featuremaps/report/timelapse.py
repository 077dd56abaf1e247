"""The timelapse's figures (how the features formed) and what the explorer's epoch sliders show,
from data/timelapse/timelapse.npz; nothing when train kept no snapshots.

- timelapse_cka.png: CKA of each layer to the best epoch, by epoch (whole maps; channel means);
- timelapse_selectivity.png: each channel's class selectivity by epoch, and the layer's mean;
- <layer>_filters_by_epoch.png: each feature's kernels at up to FILTER_COLUMNS epochs (conv layers; the
  first render.figure_features features, their strongest input channels at the best epoch).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors

from featuremaps.analysis.timelapse_store import layer_timelapse
from featuremaps.paths import layer_file_stem
from featuremaps.drawing.encode import b64, signed_b64
from featuremaps.drawing.tiles import mosaic, rgba, save
from featuremaps.params import RenderParams
from featuremaps.drawing.filters import all_inputs_drawn, drawn_kernels, strongest_inputs

FILTER_COLUMNS = 8    # epochs drawn in a filters-by-epoch figure
EMBEDDED_EPOCHS = 31  # epochs the explorer's sliders hold at most (evenly spread, the vis epochs kept)
LEVELS = (0.9, 0.99)  # the CKA levels the figure marks


def spread_epochs(epochs, cap: int, keep=()) -> list:
    """At most `cap` of `epochs` (ascending), evenly spread, always the first, the last and any of `keep`."""
    epochs = [int(e) for e in epochs]
    if len(epochs) <= cap:
        return epochs
    keep = {e for e in keep if e in epochs} | {epochs[0], epochs[-1]}
    rest = [e for e in epochs if e not in keep]
    room = max(cap - len(keep), 0)
    picked = [rest[int(round(i))] for i in np.linspace(0, len(rest) - 1, room)] if room and rest else []
    return sorted(keep | set(picked))


def cka_figure(path: Path, params: RenderParams, figsize, heading: str, epochs, cka: dict, pooled: dict,
               reference: int) -> None:
    fig, axes = plt.subplots(1, 2, figsize=figsize, layout="constrained", sharey=True)
    for ax, values, title in ((axes[0], cka, "whole maps (every unit)"),
                              (axes[1], pooled, "channel means per image (as featuremaps compare)")):
        for layer, v in values.items():
            ax.plot(epochs, v, marker="o", ms=3, label=layer)
        for level in LEVELS:
            ax.axhline(level, color="grey", lw=0.8, ls=":")
        if reference >= 0:
            ax.axvline(reference, color="grey", ls="--", lw=1, label=f"best epoch ({reference})")
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("linear CKA to the best epoch")
    axes[0].legend(fontsize=8)
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def selectivity_figure(path: Path, params: RenderParams, figsize, heading: str, epochs, selectivity: dict,
                       dead: dict) -> None:
    fig, axes = plt.subplots(1, len(selectivity), figsize=figsize, layout="constrained", squeeze=False)
    for ax, (layer, s) in zip(axes[0], selectivity.items()):
        ax.plot(epochs, s, color="grey", lw=0.6, alpha=0.6)
        mean = [float(row[~off].mean()) if (~off).any() else 0.0 for row, off in zip(s, dead[layer])]
        ax.plot(epochs, mean, color="C3", lw=2, label="mean over live channels")
        ax.set_xlabel("epoch")
        ax.set_title(f"{layer} (dead at the end: {int(dead[layer][-1].sum())})", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("class selectivity index")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def filters_by_epoch_figure(path: Path, params: RenderParams, figsize, heading: str, epochs, filters: np.ndarray,
                            change: list) -> None:
    """filters [E, F, C_in, k, k]: a row per feature, a column per epoch, its kernels side by side;
    change: each epoch's relative distance of the layer's weights from epoch 0's."""
    n_epochs, n_out, n_in, kh, kw = filters.shape
    m = float(np.abs(filters).max()) or 1.0
    cmap, norm = plt.get_cmap(params.diverging_cmap), mcolors.Normalize(-m, m)
    gap = np.full((kh, 1, 4), 0.55)  # grey between the input channels' kernels: white is a zero weight
    gap[..., 3] = 1.0
    tiles = [np.hstack([part for i in range(n_in) for part in (rgba(filters[e, f, i], cmap, norm), gap)][:-1])
             for f in range(n_out) for e in range(n_epochs)]
    tile_px = (kh * 8, (kw * n_in + n_in - 1) * 8)
    image = mosaic(tiles, n_epochs, tile_px, pad_value=0.55)
    fig = plt.figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([1 + (e + 0.5) * (tile_px[1] + 1) for e in range(n_epochs)],
                  [f"epoch {e}" + (f"\n{c:.1%} moved" if i else "") for i, (e, c) in enumerate(zip(epochs, change))],
                  fontsize=8)
    ax.set_yticks([1 + (f + 0.5) * (tile_px[0] + 1) for f in range(n_out)], [f"Feature {f + 1}" for f in range(n_out)],
                  fontsize=8)
    ax.tick_params(length=0)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=0.02, label="weight")
    fig.suptitle(heading, fontsize=11, wrap=True)
    save(fig, path, params.dpi)


def filters_by_epoch_inches(n_epochs: int, n_out: int, n_in: int, k: int) -> tuple[float, float]:
    """A weight cell as large as fits 15 inches across (at most a quarter inch), plus the labels."""
    width, height = n_epochs * (n_in * (k + 1)), n_out * (k + 1)
    cell = min(0.25, 15 / width, 40 / height)
    return 2.2 + width * cell, 1.4 + height * cell


def _layers(stored: dict, report_layers: list) -> list:
    """The timelapse's layers among those the report shows (the extracted ones)."""
    return [layer for layer in (str(x) for x in stored["layers"]) if layer in report_layers]


def reference_index(epochs: list, reference: int) -> int:
    """The position among the kept epochs of the best one (the last where it was not kept)."""
    return epochs.index(reference) if reference in epochs else len(epochs) - 1


def epoch_inputs(filters: np.ndarray, reference: int) -> np.ndarray | None:
    """[F, m] the input channels drawn of kernels by epoch [E, F, C_in, k, k]: the strongest at the
    reference epoch's index (one choice for every epoch, so the epochs compare); None: every one."""
    inputs = strongest_inputs(filters[reference])
    return None if all_inputs_drawn(filters[reference], inputs) else inputs


def kernels_by_epoch(filters: np.ndarray, inputs: np.ndarray | None) -> np.ndarray:
    return filters if inputs is None else np.stack([drawn_kernels(f, inputs) for f in filters])


def is_conv(filters: np.ndarray) -> bool:
    """A layer the timelapse kept kernels of ([E, F, C_in, k, k]; another layer's are empty)."""
    return filters.ndim == 5


def timelapse_figures(stored: dict | None, report_layers: list, make_figure, features: int) -> list:
    """The timelapse's Figure records for the layers the report shows (make_figure: the catalogue's
    Figure class), the first `features` features of a layer in its filters figure."""
    if stored is None or not len(stored["epochs"]) or not _layers(stored, report_layers):
        return []
    epochs, layers = [int(e) for e in stored["epochs"]], _layers(stored, report_layers)
    reference = int(stored["reference_epoch"])
    lapse = {layer: layer_timelapse(stored, layer) for layer in layers}
    figures = [
        make_figure(
            "timelapse_cka.png", "How each layer settled", "Linear CKA of each layer to the best epoch, by epoch",
            f"Each layer's representation of the {len(stored['probe_index'])} probe images at every kept epoch, "
            f"compared with the best epoch's by linear CKA (1: the same up to rotation and scale; dotted: 0.9 and "
            f"0.99). Left: the whole post-ReLU maps; right: each image's channel means, which ignore where a "
            f"feature fires. A layer whose curve reaches the top earlier settled earlier.",
            cka_figure, lambda p: (10, 3.8),
            dict(epochs=epochs, cka={k: v["cka"] for k, v in lapse.items()},
                 pooled={k: v["cka_pooled"] for k, v in lapse.items()}, reference=reference)),
        make_figure(
            "timelapse_selectivity.png", "Class selectivity by epoch", "Class selectivity of each channel, by epoch",
            "Grey: each channel's class selectivity index on the probe images (0: fires alike for every class, 1: "
            "for one class only); red: the layer's mean over its live channels.",
            selectivity_figure, lambda p: (min(4.2 * len(layers), 16), 3.6),
            dict(epochs=epochs, selectivity={k: v["selectivity"] for k, v in lapse.items()},
                 dead={k: v["dead"] for k, v in lapse.items()})),
    ]
    shown = spread_epochs(epochs, FILTER_COLUMNS, [reference])
    at = [epochs.index(e) for e in shown]
    ref = reference_index(epochs, reference)
    for layer in (layer for layer in layers if is_conv(lapse[layer]["filters"])):
        all_filters = lapse[layer]["filters"]
        start = np.linalg.norm(all_filters[0]) or 1.0
        total, in_channels = all_filters.shape[1:3]
        inputs = epoch_inputs(all_filters[:, :features], ref)
        filters = kernels_by_epoch(all_filters[at, :features], inputs)
        n_out, n_in, kh, kw = filters.shape[1:]
        which = (f"its {n_in} input channel{'s' if n_in > 1 else ''} side by side" if inputs is None else
                 f"its {n_in} strongest of {in_channels} input channels at the best epoch side by side")
        figures.append(make_figure(
            f"{layer_file_stem(layer)}_filters_by_epoch.png", f"{layer} filters by epoch", f"{layer} filters across training",
            f"Each {layer} feature's kernels ({which}) at "
            f"{'every kept epoch' if len(shown) == len(epochs) else f'{len(shown)} of the {len(epochs)} kept epochs'}, "
            f"one colour scale for all (red positive, blue negative). Under each epoch: how far the layer's weights "
            f"have moved from their initial values, relative to those (||W - W0|| / ||W0||)."
            + (f" Features 1-{n_out} of {total} (render.figure_features)." if n_out < total else ""),
            filters_by_epoch_figure, lambda p, a=(len(shown), n_out, n_in, kw): filters_by_epoch_inches(*a),
            dict(epochs=shown, filters=filters,
                 change=[float(np.linalg.norm(all_filters[e] - all_filters[0]) / start) for e in at])))
    return figures


def slider_data(stored: dict | None, report_layers: list, val_images: np.ndarray,
                val_labels: np.ndarray) -> dict | None:
    """What the explorer's epoch sliders show: per epoch (at most EMBEDDED_EPOCHS), each feature's
    filter, selectivity, preferred class, dead flag and top probe images; its optimised inputs at the
    vis epochs. The probe images the top lists use are embedded once."""
    if stored is None or not len(stored["epochs"]) or set(report_layers) - set(_layers(stored, report_layers)):
        return None  # no snapshots, or a layer shown that the timelapse did not follow
    epochs = [int(e) for e in stored["epochs"]]
    vis_epochs = [int(e) for e in stored["vis_epochs"]]
    reference = int(stored["reference_epoch"])
    shown = spread_epochs(epochs, EMBEDDED_EPOCHS, [*vis_epochs, reference])
    at = [epochs.index(e) for e in shown]
    layers = _layers(stored, report_layers)
    lapse = {layer: layer_timelapse(stored, layer) for layer in layers}
    used = sorted({int(i) for layer in layers for i in lapse[layer]["top"][at].ravel()})
    slot = {p: i for i, p in enumerate(used)}
    probe = stored["probe_index"][used]
    ref = reference_index(epochs, reference)
    features = {}
    for layer in layers:
        lp, views = lapse[layer], []
        conv = is_conv(lp["filters"])
        inputs = epoch_inputs(lp["filters"], ref) if conv else None
        kernels = kernels_by_epoch(lp["filters"][at], inputs) if conv else None
        for f in range(lp["selectivity"].shape[1]):
            kernel, scale = signed_b64(kernels[:, f]) if conv else (None, None)
            views.append({
                "filter": {"data": kernel, "scale": scale, "shape": list(kernels.shape[2:]),
                           "inputs": None if inputs is None else [int(i) for i in inputs[f]]} if conv else None,
                "selectivity": [round(float(v), 4) for v in lp["selectivity"][at, f]],
                "preferred": [int(c) for c in lp["preferred"][at, f]],
                "dead": [bool(d) for d in lp["dead"][at, f]],
                "top": [[slot[int(i)] for i in row] for row in lp["top"][at, f]],
                "vis": [b64(v) for v in lp["vis"][:, f]],
            })
        features[layer] = views
    return {"epochs": shown, "all_epochs": len(epochs), "vis_epochs": vis_epochs, "reference": reference,
            "seeds": int(next(iter(lapse.values()))["vis"].shape[2]) if layers else 0,
            "cka": {layer: [round(float(lapse[layer]["cka"][i]), 4) if np.isfinite(lapse[layer]["cka"][i]) else None
                            for i in at] for layer in layers},
            "probe_images": b64(val_images[probe]), "probe_labels": [int(c) for c in val_labels[probe]],
            "probe_count": len(stored["probe_index"]), "features": features}
