"""Everything the render stage reads, loaded once through each file's own reader."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from featuremaps.analysis.attribution_store import read_attributions, read_claims, read_interpretability
from featuremaps.analysis.feature_vis_store import read_visualizations
from featuremaps.analysis.timelapse_store import read_timelapse
from featuremaps.analysis.store import CLASS_MEANS, EXAMPLES, FILTERS, PER_IMAGE, TOP_K, PerImageTable, \
    read_architecture, \
    per_image_table, read_network, read_npz, read_top_k
from featuremaps.data.store import SPLITS, read_meta, read_split
from featuremaps.drawing.fonts import drawable_names
from featuremaps.model.records import read_confusion, read_history, read_metrics


@dataclass
class Inputs:
    meta: dict
    splits: dict            # split -> (images, labels)
    per_image: PerImageTable  # read a few columns at a time
    class_means: dict
    examples: dict
    top_k: pd.DataFrame
    weights: dict           # layer -> conv kernels [out, in, k, k], for the layers that are convolutions
    visualizations: dict    # features.npz of the visualize stage
    attributions: dict      # gradcam.npz of the attribute stage
    ablation: pd.DataFrame  # ablation.parquet of the attribute stage
    claims: pd.DataFrame    # claims.parquet of the attribute stage: channel sets zeroed together
    interpretability: dict  # reports/interpretability.json
    metrics: dict
    history: pd.DataFrame
    confusion: pd.DataFrame
    timelapse: dict | None  # timelapse.npz of the timelapse stage; None without snapshots
    network: dict           # network.npz of the extract stage: the model as arrays, for the page
    architecture: dict      # architecture.json of the extract stage: every layer's kind, shape, geometry

    @property
    def layers(self) -> list:
        return [str(x) for x in self.class_means["layers"]]

    @property
    def activation(self) -> str:
        return str(self.class_means["activation"])

    @property
    def means_split(self) -> str:
        return str(self.class_means["split"])

    @property
    def top_k_by(self) -> str:
        return str(self.class_means["top_k_by"])

    @property
    def classes(self) -> list:
        return self.meta["classes"]

    @functools.cached_property
    def labels(self) -> list:
        """The class names as figures draw them (featuremaps.drawing.fonts)."""
        return drawable_names(self.classes)


def load_inputs(dataset: Path, activations: Path, visualizations: Path, attributions: Path, metrics: Path,
                interpretability: Path, history: Path, confusion: Path, timelapse: Path) -> Inputs:
    network = read_network(activations)
    class_means = read_npz(activations / CLASS_MEANS, ["layers", "activation", "split", "top_k_by", "counts",
                                                       "input_means"])
    layers = [str(x) for x in class_means["layers"]]
    gradcam, ablation = read_attributions(attributions, layers)
    return Inputs(
        meta=read_meta(dataset),
        splits={s: read_split(dataset, s) for s in SPLITS},
        per_image=per_image_table(activations / PER_IMAGE, layers),
        class_means=class_means,
        examples=read_npz(activations / EXAMPLES, ["index", "input"] + layers),
        top_k=read_top_k(activations / TOP_K),
        weights=layer_kernels(read_npz(activations / FILTERS), layers),
        visualizations=read_visualizations(visualizations, layers),
        attributions=gradcam,
        ablation=ablation,
        claims=read_claims(attributions),
        interpretability=read_interpretability(interpretability, layers),
        metrics=read_metrics(metrics),
        history=read_history(history),
        confusion=read_confusion(confusion),
        timelapse=_snapshotted(read_timelapse(timelapse)),
        network=network,
        architecture=read_architecture(activations),
    )


def layer_kernels(stored: dict, layers: list) -> dict:
    """{layer: kernels} of the extracted layers that have them (a block's output or an activation has none)."""
    return {layer: stored[layer] for layer in layers if layer in stored}


def _snapshotted(stored: dict) -> dict | None:
    return stored if len(stored["epochs"]) else None
