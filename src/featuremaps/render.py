"""Which figures the render stage draws, from which stored inputs, with what caption.

    from featuremaps.render import load_inputs, render_figures
    figures = render_figures(load_inputs(), params.render, Path("reports/figures"))

Everything comes from the files earlier stages wrote; nothing runs the model over data,
and nothing here imports torch, so the stage starts in a fraction of a second.
"""
from __future__ import annotations

import functools
import json
import multiprocessing as mp
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from featuremaps import figures as fig
from featuremaps.activation_store import (CLASS_MEANS, EXAMPLES, FILTERS, PER_IMAGE, TOP_K, layer_features,
                                          read_npz, read_parquet, read_per_image)
from featuremaps.dataset import read_meta, read_split
from featuremaps.errors import ArtifactError, first_line
from featuremaps.params import RenderParams


@dataclass
class Figure:
    file: str
    title: str
    caption: str


@dataclass
class Inputs:
    meta: dict
    splits: dict            # split -> (images, labels)
    per_image: pd.DataFrame
    class_means: dict
    examples: dict
    top_k: pd.DataFrame
    weights: dict           # layer -> conv kernels [out, in, k, k]
    metrics: dict
    history: pd.DataFrame
    confusion: pd.DataFrame

    @property
    def layers(self) -> list:
        return [str(x) for x in self.class_means["layers"]]

    @property
    def activation(self) -> str:
        return str(self.class_means["activation"])

    @property
    def means_split(self) -> str:
        return str(self.class_means["split"])


def _read_csv(path: Path, columns: list) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; run the train stage first (dvc repro)") from None
    except ValueError as exc:  # pandas' EmptyDataError and ParserError
        raise ArtifactError(f"{path}: not a readable CSV file ({first_line(exc)}); "
                            f"rerun the train stage") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ArtifactError(f"{path}: missing columns {', '.join(missing)}; rerun the train stage")
    return frame


def load_inputs(data="data", reports="reports") -> Inputs:
    data, reports = Path(data), Path(reports)
    meta = read_meta(data / "dataset")
    acts = data / "activations"
    class_means = read_npz(acts / CLASS_MEANS, ["layers", "activation", "split", "counts", "input_means"])
    layers = [str(x) for x in class_means["layers"]]
    per_image = read_per_image(acts / PER_IMAGE, layers)
    try:
        metrics = json.loads((reports / "metrics.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{reports / 'metrics.json'}: unreadable ({exc}); rerun the train stage") from None
    return Inputs(
        meta=meta,
        splits={s: read_split(data / "dataset", s) for s in ("train", "val")},
        per_image=per_image,
        class_means=class_means,
        examples=read_npz(acts / EXAMPLES, ["index", "input"] + layers),
        top_k=read_parquet(acts / TOP_K),
        weights=read_npz(acts / FILTERS, layers),
        metrics=metrics,
        history=_read_csv(reports / "plots" / "history.csv",
                          ["epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy"]),
        confusion=_read_csv(reports / "plots" / "confusion.csv", ["actual", "predicted"]),
    )


_JOBS: list = []


def _run_job(i: int) -> None:
    _JOBS[i]()


def run_jobs(jobs: list) -> None:
    """Run figure jobs on every core: forked workers inherit the data, nothing is pickled."""
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        for draw in jobs:
            draw()
        return
    _JOBS[:] = jobs
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            pool.map(_run_job, range(len(jobs)), chunksize=1)
    finally:
        _JOBS.clear()


def sample_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Up to n indices taking the first image of each class in turn, then the second, ..."""
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = [idx[i] for i in range(max(map(len, by_class), default=0)) for idx in by_class if i < len(idx)]
    return np.array(order[:n], dtype=np.int64)


def render_figures(inp: Inputs, params: RenderParams, out: Path) -> list:
    """Draw every figure into `out`; return them in reading order with their captions."""
    classes = inp.meta["classes"]
    act = "ReLU(conv)" if inp.activation == "relu" else "raw conv output"
    unit = f"{act} activation"
    done = []

    jobs = []

    def add(file, title, caption):
        done.append(Figure(file, title, caption))
        return out / file

    def job(draw):
        """job(draw)(args...) queues draw(args...); the queue runs in parallel at the end."""
        return lambda *args: jobs.append(functools.partial(draw, *args))

    val_images, val_labels = inp.splits["val"]
    val_preds = inp.per_image[inp.per_image["split"] == "val"].sort_values("index")["pred"].to_numpy()
    pick = sample_indices(val_labels, params.n_samples)
    job(fig.samples_figure)(add("samples.png", "Sample images",
                           f"{len(pick)} val images, the first of each class in turn, with their true label and "
                           f"the model's prediction; wrong predictions are red."),
                       val_images[pick], val_labels[pick], val_preds[pick], classes, "val", params)

    job(fig.training_curves_figure)(add("training_curves.png", "Training curves",
                                   "Loss and accuracy per epoch on the train split (running mean over the "
                                   "epoch's batches, unless train.rescore_train) and the val split. The dashed "
                                   "line is the epoch kept: lowest val loss."),
                               inp.history, int(inp.metrics["best_epoch"]), params)
    matrix = pd.crosstab(pd.Categorical(inp.confusion["actual"], classes),
                         pd.Categorical(inp.confusion["predicted"], classes), dropna=False).to_numpy()
    job(fig.confusion_figure)(add("confusion_matrix.png", "Confusion matrix",
                             "Val images by true class (rows) and predicted class (columns), from the kept "
                             "epoch. Colour is the share of the row, so classes of different sizes compare."),
                         matrix, classes, params)

    examples = inp.examples
    row_labels = [classes[c] if examples["index"][c] >= 0 else f"{classes[c]} (no image)"
                  for c in range(len(classes))]
    scale = "one colour scale for the whole grid" if params.shared_scale else "one colour scale per map"
    means_split, counts = inp.means_split, inp.class_means["counts"]
    split_rows = inp.per_image["split"] == means_split
    labels = inp.per_image.loc[split_rows, "label"].to_numpy()
    layer_means = {}  # layer -> class x feature mean of the summed activation
    for layer in inp.layers:
        job(fig.map_grid_figure)(add(f"{layer}_feature_maps.png", f"{layer} feature maps",
                                f"One image per class (the first of the {means_split} split), then each of "
                                f"{layer}'s feature maps for it: {unit}, {scale}. Bright = the feature "
                                f"responds there."),
                            examples["input"].astype(np.float64), examples[layer], row_labels,
                            f"{layer} feature maps ({act}) for one {means_split} image per class",
                            inp.activation, params, params.shared_scale, "Input", unit)
        job(fig.map_grid_figure)(add(f"{layer}_class_means.png", f"{layer} mean maps per class",
                                f"Each {layer} map averaged over all {int(counts.sum()):,} {means_split} images "
                                f"of a class (a mean, not a sum), beside the class's mean input. One shared "
                                f"colour scale, so classes compare fairly whatever their size."),
                            inp.class_means["input_means"],
                            inp.class_means[f"{layer}_means"],
                            [f"{classes[c]} (n={int(counts[c])})" for c in range(len(classes))],
                            f"{layer}: mean {act} map per class over the {means_split} split", inp.activation,
                            params, True, "Mean input", f"mean {unit}")
        job(fig.filters_figure)(add(f"{layer}_filters.png", f"{layer} filters",
                               f"The learned {layer} kernels: one row per output feature, one column per "
                               f"input channel; red positive, blue negative, white zero."),
                           inp.weights[layer], layer, params)
        sums = inp.per_image.loc[split_rows, layer_features(inp.per_image, layer)].to_numpy()
        layer_means[layer] = np.stack([sums[labels == c].mean(0, dtype=np.float64) if (labels == c).any()
                                       else np.full(sums.shape[1], np.nan) for c in range(len(classes))])
        job(fig.histograms_figure)(add(f"{layer}_histograms.png", f"{layer} activation histograms",
                                  f"For each {layer} feature, the distribution of each {means_split} image's "
                                  f"spatially summed {unit}, one outline per class, each normalised to unit area "
                                  f"so classes of different sizes compare. The x range covers all the data."),
                              sums, labels, classes, layer,
                              inp.activation, params)
        job(fig.top_examples_figure)(add(f"{layer}_top_examples.png", f"{layer} top images per feature",
                                    f"For each {layer} feature, the {means_split} images with the largest summed "
                                    f"activation: what the feature looks for across the dataset."),
                                inp.splits[means_split][0], inp.top_k, classes, layer, params)
    job(fig.selectivity_figure)(add("class_feature_selectivity.png", "Class selectivity",
                               f"Mean summed activation of each feature (columns) for each class (rows) over the "
                               f"{means_split} split, scaled per feature from its least (0) to its most (1) "
                               f"responsive class: the class each feature fires for."),
                           layer_means, classes, params)
    run_jobs(jobs)
    # The folder is a persist output: drop figures of layers no longer extracted.
    for stale in set(out.glob("*.png")) - {out / f.file for f in done}:
        stale.unlink()
    return done
