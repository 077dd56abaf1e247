"""The figures the render stage draws: one record each, with every word the reader sees.

    from featuremaps.report.catalogue import figure_list, render_figures
    figures = render_figures(figure_list(inputs, params.render), params.render, paths.FIGURES)

A Figure names its file, its title in the report, the heading drawn on it, its caption, its
draw function (featuremaps.report.figures), its size in inches as a function of the render
params, and the inputs its draw function takes. Adding a figure is one function here that
returns its record, listed in figure_list, and one draw function.

Everything comes from the files earlier stages wrote; nothing runs the model over data,
and nothing here imports torch, so the stage starts in a fraction of a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from featuremaps import paths
from featuremaps.analysis.attribution_store import layer_gradcam
from featuremaps.analysis.feature_vis_store import layer_visualization
from featuremaps.analysis.store import PerImageTable, layer_class_means
from featuremaps.params import RenderParams
from featuremaps.report import figures as fig
from featuremaps.drawing.budget import check_pixel_budget
from featuremaps.drawing.filters import all_inputs_drawn, drawn_kernels, strongest_inputs
from featuremaps.report.distributions import class_feature_means, layer_distribution
from featuremaps.report.inputs import Inputs
from featuremaps.report.timelapse import timelapse_figures
from featuremaps.drawing.pool import fork_map
from featuremaps.files import atomic_folder


@dataclass(frozen=True)
class Figure:
    file: str                  # PNG name under reports/figures
    title: str                 # the report's heading and link text
    heading: str               # drawn on the figure
    caption: str               # under it in the report: how to read it
    draw: Callable             # draw(path, params, figsize, heading, **inputs)
    inches: Callable           # RenderParams -> (width, height): known before drawing
    inputs: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- inputs, prepared

def activation_label(activation: str) -> str:
    return "ReLU(conv)" if activation == "relu" else "raw conv output"


def sample_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Up to n indices taking the first image of each class in turn, then the second, ..."""
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = [idx[i] for i in range(max(map(len, by_class), default=0)) for idx in by_class if i < len(idx)]
    return np.array(order[:n], dtype=np.int64)


def predictions_of(per_image: PerImageTable, split: str, indices: np.ndarray) -> np.ndarray:
    """The model's prediction for each image of `split` at `indices` (distinct), read a row group at a time."""
    position = {int(index): k for k, index in enumerate(indices)}
    preds = np.zeros(len(indices), np.int64)
    for rows in per_image.split_row_groups(split, ["index", "pred"]):
        keep = np.isin(rows["index"], indices)
        for index, pred in zip(rows["index"][keep].tolist(), rows["pred"][keep].tolist()):
            preds[position[index]] = pred
    return preds


def confusion_matrix(confusion: pd.DataFrame, classes: list) -> np.ndarray:
    """Counts [true, predicted] over the named classes, zero rows and columns kept."""
    return pd.crosstab(pd.Categorical(confusion["actual"], classes),
                       pd.Categorical(confusion["predicted"], classes), dropna=False).to_numpy()


def layer_top_k(top_k: pd.DataFrame, layer: str) -> pd.DataFrame:
    return top_k[top_k["layer"] == layer].sort_values(["feature", "rank"])


def figure_file(layer: str, what: str) -> str:
    """A per-layer figure's PNG name: `conv2_filters.png`, `layer1.0.relu-2_feature_maps.png`."""
    return f"{paths.layer_file_stem(layer)}_{what}.png"


def shown(total: int, params: RenderParams) -> int:
    """How many of a layer's `total` features its figures draw: the first render.figure_features."""
    return min(total, params.figure_features)


def cut_words(n: int, total: int) -> str:
    """What a caption says when a figure draws only the first n of a layer's features."""
    return "" if n == total else (f" Only features 1-{n} of its {total} are drawn (render.figure_features); "
                                  f"the explorer has every one.")


# ----------------------------------------------------------------------------- the figures

def samples(inp: Inputs, params: RenderParams) -> Figure:
    images, labels = inp.splits["val"]
    pick = sample_indices(labels, params.n_samples)
    return Figure(
        "samples.png", "Sample images", "Sample val images: true label and prediction (red: wrong)",
        f"{len(pick)} val images, the first of each class in turn, with their true label and the model's "
        f"prediction; wrong predictions are red.",
        fig.samples_figure, lambda p: fig.samples_figsize(min(p.n_samples, len(labels))),
        dict(images=images[pick], labels=labels[pick], preds=predictions_of(inp.per_image, "val", pick),
             classes=inp.labels))


def training_curves(inp: Inputs, params: RenderParams) -> Figure:
    return Figure(
        "training_curves.png", "Training curves", "Training curves (best epoch = lowest val loss)",
        "Loss and accuracy per epoch on the train split (running mean over the epoch's batches, unless "
        "train.rescore_train) and the val split. The dashed line is the epoch kept: lowest val loss.",
        fig.training_curves_figure, lambda p: fig.TRAINING_CURVES_INCHES,
        dict(history=inp.history, best_epoch=int(inp.metrics["best_epoch"])))


def confusion(inp: Inputs, params: RenderParams) -> Figure:
    matrix = confusion_matrix(inp.confusion, inp.classes)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    return Figure(
        "confusion_matrix.png", "Confusion matrix",
        f"Confusion matrix, val split, best epoch (accuracy {accuracy:.2%})",
        "Val images by true class (rows) and predicted class (columns), from the kept epoch. Colour is the "
        "share of the row, so classes of different sizes compare.",
        fig.confusion_figure, lambda p: fig.confusion_figsize(len(inp.classes)),
        dict(matrix=matrix, classes=inp.labels))


def feature_maps(inp: Inputs, params: RenderParams, layer: str) -> Figure:
    classes, examples, split = inp.labels, inp.examples, inp.means_split
    act = activation_label(inp.activation)
    total = examples[layer].shape[1]
    n = shown(total, params)
    maps = examples[layer][:, :n]
    scale = "one colour scale for the whole grid" if params.shared_scale else "one colour scale per map"
    return Figure(
        figure_file(layer, "feature_maps"), f"{layer} feature maps",
        f"{layer} feature maps ({act}) for one {split} image per class",
        f"One image per class (the first of the {split} split), then each of {layer}'s feature maps for it: "
        f"{act} activation, {scale}. Bright = the feature responds there." + cut_words(n, total),
        fig.map_grid_figure, lambda p: fig.grid_figsize(maps.shape[0], maps.shape[1] + 1, p.tile_inches),
        dict(inputs=examples["input"].astype(np.float64), maps=maps,
             row_labels=[classes[c] if examples["index"][c] >= 0 else f"{classes[c]} (no image)"
                         for c in range(len(classes))],
             input_label="Input",
             scale=fig.MapScale(inp.activation, params.shared_scale, f"{act} activation")))


def class_means(inp: Inputs, params: RenderParams, layer: str) -> Figure:
    classes, split, counts = inp.labels, inp.means_split, inp.class_means["counts"]
    act = activation_label(inp.activation)
    every = layer_class_means(inp.class_means, layer)
    total = every.shape[1]
    n = shown(total, params)
    maps = every[:, :n]
    return Figure(
        figure_file(layer, "class_means"), f"{layer} mean maps per class",
        f"{layer}: mean {act} map per class over the {split} split",
        f"Each {layer} map averaged over all {int(counts.sum()):,} {split} images of a class (a mean, not a "
        f"sum), beside the class's mean input. One shared colour scale, so classes compare fairly whatever "
        f"their size." + cut_words(n, total),
        fig.map_grid_figure, lambda p: fig.grid_figsize(maps.shape[0], maps.shape[1] + 1, p.tile_inches),
        dict(inputs=inp.class_means["input_means"], maps=maps,
             row_labels=[f"{classes[c]} (n={int(counts[c])})" for c in range(len(classes))],
             input_label="Mean input", scale=fig.MapScale(inp.activation, True, f"mean {act} activation")))


def filters(inp: Inputs, params: RenderParams, layer: str) -> Figure | None:
    """None for a layer that is not a convolution (a block's output, an activation): it has no kernels."""
    if layer not in inp.weights:
        return None
    total, in_channels, kh, kw = inp.weights[layer].shape
    n = shown(total, params)
    weights = inp.weights[layer][:n]
    inputs = strongest_inputs(weights)
    every_input = all_inputs_drawn(weights, inputs)
    columns = ("one column per input channel" if every_input else
               f"its {inputs.shape[1]} strongest of {in_channels} input channels (largest L2 norm of the kernel), "
               f"strongest first, each tile labelled with its input channel")
    first = next((e["name"] for e in inp.architecture.get("layers", []) if e["kind"] == "Conv2d"), None)
    colour = layer == first and in_channels == 3 and int(inp.meta.get("channels", 1)) == 3
    if colour:
        columns = ("first its kernel in colour (the colour it answers to: mid-grey where it is indifferent, its "
                   "own scale), then " + columns)
    return Figure(
        figure_file(layer, "filters"), f"{layer} filters", f"{layer} filters ({kh}x{kw})",
        f"The learned {layer} kernels: one row per output feature, {columns}; red "
        f"positive, blue negative, white zero." + cut_words(n, total),
        fig.filters_figure, lambda p: fig.grid_figsize(n, max(inputs.shape[1] + colour, 3), p.tile_inches * 0.6),
        dict(weights=drawn_kernels(weights, inputs), inputs=None if every_input else inputs, colour=colour))


def histograms(inp: Inputs, params: RenderParams, layer: str) -> Figure:
    dist = layer_distribution(inp.per_image, inp.means_split, layer, len(inp.classes), params.hist_bins)
    total = len(dist.edges)
    n = shown(total, params)
    act = activation_label(inp.activation)
    return Figure(
        figure_file(layer, "histograms"), f"{layer} activation histograms",
        f"{layer}: per-image spatial sum of {act}, density per class",
        f"For each {layer} feature, the distribution of each {inp.means_split} image's spatially summed {act} "
        f"activation, one outline per class, each normalised to unit area so classes of different sizes "
        f"compare. The x range covers all the data." + cut_words(n, total),
        fig.histograms_figure, lambda p: fig.histogram_figsize(n),
        dict(edges=dist.edges[:n], densities=[dist.densities(f) for f in range(n)], classes=inp.labels))


def top_example_tiles(rows: pd.DataFrame, images: np.ndarray, classes: list):
    """(tiles [F, k, H, W] with NaN where a feature has fewer images, class-name notes [F][k], boxes
    [F, k, 4] with -1 where none) of one layer's top_k rows."""
    n_feat, k = int(rows["feature"].max()), int(rows["rank"].max())
    tiles = np.full((n_feat, k, *images.shape[1:]), np.nan)
    notes = [[""] * k for _ in range(n_feat)]
    boxes = np.full((n_feat, k, 4), -1)
    for row in rows.itertuples():
        f, r = row.feature - 1, row.rank - 1
        tiles[f, r] = images[row.index]
        notes[f][r] = classes[row.label].split(" ")[0]
        boxes[f, r] = (row.top, row.left, row.bottom, row.right)
    return tiles, notes, boxes


def ranking_words(by: str) -> str:
    return "the strongest single response" if by == "max" else "the largest summed activation"


def top_examples(inp: Inputs, params: RenderParams, layer: str) -> Figure:
    every = layer_top_k(inp.top_k, layer)
    total = int(every["feature"].max())
    rows = every[every["feature"] <= shown(total, params)]
    split = rows["split"].iloc[0]
    tiles, notes, boxes = top_example_tiles(rows, inp.splits[split][0], inp.labels)
    n_feat, k = tiles.shape[:2]
    return Figure(
        figure_file(layer, "top_examples"), f"{layer} top images per feature",
        f"{layer}: the {k} {split} images with {ranking_words(inp.top_k_by)} per feature\n"
        f"(label at top left; red box: what the feature's strongest unit sees)",
        f"For each {layer} feature, the {split} images with {ranking_words(inp.top_k_by)} (extract.top_k_by: "
        f"{inp.top_k_by}): what the feature looks for across the dataset. The red box is the input region the "
        f"feature's strongest unit in that image sees (its receptive field)." + cut_words(n_feat, total),
        fig.image_grid_figure, lambda p: fig.grid_figsize(n_feat, k, p.tile_inches * 0.8),
        dict(tiles=tiles, row_labels=[f"Feature {f + 1}" for f in range(n_feat)],
             col_labels=[f"#{r + 1}" for r in range(k)], notes=notes, boxes=boxes))


def feature_visualization(inp: Inputs, params: RenderParams, layer: str) -> Figure:
    vis = inp.visualizations
    record = layer_visualization(vis, layer)
    total = len(record.images)
    n = shown(total, params)
    images, refined = record.images[:n], record.refined_images[:n]
    best = record.dataset_value[:n]
    negative = record.negative_images[:n, None] if len(record.negative_images) else refined[:, :0]
    optimised = np.concatenate([images, refined[:, None], negative], 1).astype(np.float64)
    values = np.concatenate([record.values[:n], record.refined_values[:n, None]], 1)
    rows = layer_top_k(inp.top_k, layer)
    rows = rows[rows["feature"] <= n]
    split = rows["split"].iloc[0]
    examples, example_notes, example_boxes = top_example_tiles(rows, inp.splits[split][0], inp.labels)
    n_feat, seeds, k, n_neg = len(images), images.shape[1], examples.shape[1], negative.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = values / best[:, None]
    notes = [[(f"x{v:.1f}" + (" below" if v < 1 else "")) if np.isfinite(v) else "" for v in row]
             + [f"{record.negative_values[f]:.2g}"] * n_neg + example_notes[f] for f, row in enumerate(ratios)]
    boxes = np.concatenate([np.full((n_feat, seeds + 1 + n_neg, 4), -1), example_boxes], 1)
    below = int((ratios[:, :seeds] < 1).sum())
    what = {"channel": "mean activation over its map", "neuron": "activation at the map's centre"}[str(vis["objective"])]
    return Figure(
        figure_file(layer, "feature_vis"), f"{layer}: what each feature looks for",
        f"{layer}: inputs that maximise each feature ({what}), beside its top {split} images\n"
        f"(xN: objective relative to the best {vis['split']} image's; red box: what the strongest unit sees)",
        f"For each {layer} feature: {seeds} inputs optimised from random starts (seed 1..{seeds}), its best "
        f"{vis['split']} image optimised further (refined), then its top {split} images ranked by "
        f"{ranking_words(inp.top_k_by)}, the red box showing what the strongest unit sees. The number on an "
        f"optimised input is its {what} relative to the best {vis['split']} image's ({str(vis['activation'])} "
        f"activation, visualize.objective: {vis['objective']}); "
        + (f"{below} of the {n_feat * seeds} seeds ended below the best image (marked 'below'). " if below else
           "every seed reached at least the best image. ")
        + ("The 'minimises' column is the input that makes the feature's raw (pre-ReLU) value lowest, with that "
           "value. " if n_neg else "") + "The optimised inputs are kept near the background (visualize.l1) and must "
        "work moved, scaled and turned a little (visualize.jitter, scale, rotate), so they show strokes the feature "
        "answers to wherever they sit." + cut_words(n, total),
        fig.image_grid_figure, lambda p: fig.grid_figsize(n_feat, seeds + 1 + n_neg + k, p.tile_inches * 0.8),
        dict(tiles=np.concatenate([optimised, examples], 1), row_labels=[f"Feature {f + 1}" for f in range(n_feat)],
             col_labels=[f"seed {s + 1}" for s in range(seeds)] + ["refined"] + ["minimises"] * n_neg
             + [f"#{r + 1}" for r in range(k)],
             notes=notes, boxes=boxes))


def selectivity(inp: Inputs, params: RenderParams) -> Figure:
    every = {layer: class_feature_means(inp.per_image, inp.means_split, layer, len(inp.classes)) for layer in inp.layers}
    layer_means = {layer: m[:, :shown(m.shape[1], params)] for layer, m in every.items()}
    n_features = [m.shape[1] for m in layer_means.values()]
    cut = [f"{layer} {m.shape[1]} of {every[layer].shape[1]}" for layer, m in layer_means.items()
           if m.shape[1] < every[layer].shape[1]]
    return Figure(
        "class_feature_selectivity.png", "Class selectivity", "Class selectivity: which feature fires for which class",
        f"Mean summed activation of each feature (columns) for each class (rows) over the {inp.means_split} "
        f"split, scaled per feature from its least (0) to its most (1) responsive class: the class each "
        f"feature fires for." + (f" Features drawn (render.figure_features, the first ones): {', '.join(cut)}."
                                if cut else ""),
        fig.selectivity_figure, lambda p: fig.selectivity_figsize(n_features, len(inp.classes)),
        dict(layer_means=layer_means, classes=inp.labels))


GRADCAM_MAPS_WORDS = {
    "conv": "The maps weighed are each layer's output before pooling and ReLU (attribute.gradcam_map: conv, the tensor "
            "Captum and pytorch-grad-cam hook), so a negative map weighed negatively adds evidence too.",
    "rectified": "The maps weighed are each layer's output after ReLU (attribute.gradcam_map: rectified, as in the "
                 "Grad-CAM paper): only where a feature fires."}


def gradcam_maps_words(att: dict) -> str:
    return GRADCAM_MAPS_WORDS[str(att["maps"])]


def gradcam_examples(inp: Inputs, params: RenderParams) -> Figure:
    att, classes = inp.attributions, inp.labels
    layers, split = inp.layers, str(att["split"])
    labels, preds = att["label"], att["pred"]
    wrong = labels != preds
    true_maps = [np.where(wrong[:, None, None], layer_gradcam(att, layer).true, np.nan) for layer in layers]
    heat = np.stack([layer_gradcam(att, layer).pred for layer in layers] + true_maps + [att["ig"]], 1)
    n, n_cols = len(labels), heat.shape[1] + 1
    sep = "\n" if max(map(len, layers)) > 8 else " "  # a module path is wider than its column
    return Figure(
        "gradcam_examples.png", "Where the decision comes from, per image",
        f"Grad-CAM for the predicted class, for the true class where they differ,\nand Integrated Gradients: "
        f"one {split} image per class, then misclassified ones (red)",
        f"Each row is one {split} image: the first of each class, then the first misclassified ones (red labels). "
        f"Grad-CAM weighs each map of a layer by how much the class score rises with it and keeps the positive "
        f"sum: bright = evidence for the class there, each map scaled to its own maximum. {gradcam_maps_words(att)} "
        f"For a misclassified "
        f"image it is shown for the predicted and for the true class. Integrated Gradients (last column) gives "
        f"each pixel's signed share of the predicted class score, from a black image: red raises it, blue lowers it.",
        fig.attribution_grid_figure, lambda p: fig.grid_figsize(n, n_cols, p.tile_inches),
        dict(inputs=att["input"].astype(np.float64), heat=heat,
             kinds=["overlay"] * (2 * len(layers)) + ["signed"],
             row_labels=[f"{classes[t].split(' ')[-1]} as {classes[p].split(' ')[-1]}" if t != p else classes[t]
                         for t, p in zip(labels, preds)],
             col_labels=["Input"] + [f"{layer}{sep}pred" for layer in layers] + [f"{layer}{sep}true" for layer in layers]
             + ["IG"],
             wrong=list(wrong)))


def gradcam_class_means(inp: Inputs, params: RenderParams) -> Figure:
    att, classes, layers = inp.attributions, inp.labels, inp.layers
    counts, split = att["counts"], str(att["split"])
    heat = np.stack([layer_gradcam(att, layer).class_mean for layer in layers], 1)
    return Figure(
        "gradcam_class_means.png", "Where the model looks, per class",
        f"Mean Grad-CAM for the true class over the {split} split:\nwhere the model looks for each class",
        f"For each class, Grad-CAM for that class averaged over all {int(counts.sum()):,} {split} images of it "
        f"(a mean, not a sum), over the class's mean image; one row per class, one column per layer, each map "
        f"scaled to its own maximum. {gradcam_maps_words(att)}",
        fig.attribution_grid_figure, lambda p: fig.grid_figsize(len(classes), len(layers) + 1, p.tile_inches),
        dict(inputs=att["mean_input"], heat=heat, kinds=["overlay"] * len(layers),
             row_labels=[f"{c} (n={int(k)})" for c, k in zip(classes, counts)],
             col_labels=["Mean input"] + list(layers), wrong=[False] * len(classes)))


def ablation(inp: Inputs, params: RenderParams) -> Figure:
    table, rows = inp.ablation, inp.classes + ["all"]
    drops, cut = {}, []
    for layer in inp.layers:
        part = table[table["layer"] == layer]
        wide = part.pivot(index="class", columns="channel", values="baseline") - \
            part.pivot(index="class", columns="channel", values="accuracy")
        drops[layer] = 100 * wide.reindex(rows).to_numpy()[:, :shown(wide.shape[1], params)]
        if drops[layer].shape[1] < wide.shape[1]:
            cut.append(f"{layer} {drops[layer].shape[1]} of {wide.shape[1]}")
    metrics = "; ".join(f"{layer}: {m['dead_channels']} dead, mean selectivity {m['mean_selectivity']:.2f}, "
                        f"largest drop {m['max_accuracy_drop']:.1%} (channel {m['max_drop_channel']})"
                        for layer, m in inp.interpretability.items())
    return Figure(
        "channel_ablation.png", "Which channels each class depends on",
        "Accuracy lost per class when one channel is zeroed",
        f"Each column zeroes one channel of a layer (its output set to 0) and measures the accuracy of each class "
        f"and of all images on the {inp.attributions['split']} split: red = the class needs that channel, blue = it "
        f"does better without it. Interpretability metrics (reports/interpretability.json): {metrics}."
        + (f" Channels drawn (render.figure_features, the first ones): {', '.join(cut)}." if cut else ""),
        fig.ablation_figure, lambda p: fig.ablation_figsize([d.shape[1] for d in drops.values()], len(rows)),
        dict(drops=drops, row_labels=inp.labels + ["all"]))


def claims(inp: Inputs, params: RenderParams) -> Figure:
    """The published claims about selectivity and importance, on this network, in numbers and words."""
    table, sets, layers, words = inp.ablation, inp.claims, {}, []
    for layer in inp.layers:
        m, part = inp.interpretability[layer], table[table["layer"] == layer]
        everything, per_class = part[part["class"] == "all"], part[part["class"] != "all"]
        mine = sets[sets["layer"] == layer]
        layers[layer] = dict(
            selectivity=everything["selectivity"].to_numpy(),
            overall_drop=100 * (everything["baseline"] - everything["accuracy"]).to_numpy(),
            class_selectivity=per_class["selectivity"].to_numpy(),
            class_drop=100 * (per_class["baseline"] - per_class["accuracy"]).to_numpy(),
            rho_overall=m.get("selectivity_vs_drop_spearman"), rho_class=m.get("class_selectivity_vs_class_drop_spearman"),
            selective=100 * float(mine[mine["set"] == "selective"]["accuracy_drop"].sum()),
            random=100 * mine[mine["set"] == "random"]["accuracy_drop"].to_numpy(), k=m.get("ablate_k"))
        words.append(claims_in_words(layer, m))
    return Figure(
        "claims.png", "Does selectivity predict importance?",
        "Selectivity against the accuracy lost when channels are zeroed",
        "Morcos et al. (2018) found a unit's class selectivity a poor predictor of the overall accuracy lost when it is "
        "zeroed; Zhou et al. (2018) found it a good predictor of its own class's loss. On this network "
        f"({inp.attributions['split']} split, live channels): " + " ".join(words) +
        " Left: a point per channel; middle: a point per channel and class; right: the k most selective channels "
        "zeroed together against seeded random sets of k.",
        fig.claims_figure, lambda p: fig.claims_figsize(len(layers)), dict(layers=layers))


def claims_in_words(layer: str, m: dict) -> str:
    """What the claims' numbers say about one layer, either way (significance at p < 0.05)."""
    r1, p1 = m.get("selectivity_vs_drop_spearman"), m.get("selectivity_vs_drop_p")
    r2, p2 = m.get("class_selectivity_vs_class_drop_spearman"), m.get("class_selectivity_vs_class_drop_p")
    sel, rnd, k = m["k_most_selective_drop"], m["k_random_drop_mean"], m["ablate_k"]
    zeroed = (f" Zeroing its {k} most selective channels together costs {sel:.1%}, {'more' if sel > rnd else 'no more'} "
              f"than {k} random ones ({rnd:.1%} on average)." if k else " With one channel, no set is zeroed.")
    if r1 is None or r2 is None:
        return f"{layer}: too few live, varying channels to rank.{zeroed}"
    good_overall = r1 >= 0.5 and p1 < 0.05  # selectivity would then predict overall importance well
    good_own = r2 > 0 and p2 < 0.05
    return (f"{layer}: selectivity against the overall loss, Spearman {r1:.2f} (p = {p1:.2g}): Morcos et al.'s finding "
            f"{'does not hold' if good_overall else 'holds'} here; a channel's selectivity for a class against that "
            f"class's loss, {r2:.2f} (p = {p2:.2g}): Zhou et al.'s {'holds' if good_own else 'does not hold'} here"
            f"{' (weakly)' if good_own and r2 < 0.3 else ''}.{zeroed}")


PER_LAYER = (feature_maps, class_means, filters, histograms, top_examples, feature_visualization)


def figure_list(inp: Inputs, params: RenderParams) -> list:
    """Every figure's record, in the report's reading order."""
    return ([samples(inp, params), training_curves(inp, params), confusion(inp, params)]
            + [figure for layer in inp.layers for make in PER_LAYER if (figure := make(inp, params, layer))]
            + [selectivity(inp, params), gradcam_examples(inp, params), gradcam_class_means(inp, params),
               ablation(inp, params), claims(inp, params)]
            + timelapse_figures(inp.timelapse, inp.layers, Figure, params.figure_features))


# ----------------------------------------------------------------------------- drawing

def _draw(job) -> None:
    figure, params, out = job
    figure.draw(out / figure.file, params, figure.inches(params), figure.heading, **figure.inputs)


def render_figures(figures: list, params: RenderParams, out: Path) -> list:
    """Check every figure's size, then draw them all in parallel into a new folder that replaces `out` whole
    (no figure of a layer no longer extracted is left; in a stage, only once the stage succeeds); return
    `figures`."""
    check_pixel_budget(figures, params, out)
    with atomic_folder(out) as folder:
        fork_map(_draw, [(figure, params, folder) for figure in figures])
    return figures
