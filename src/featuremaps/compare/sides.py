"""One side of a comparison: a revision's pipeline outputs, read through DVC's Python API
(featuremaps.revisions). Each file is copied into a temporary folder laid out as the repository
is and read there by the same readers the stages use, so a damaged file is refused the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from featuremaps import paths
from featuremaps.analysis.feature_vis_store import FEATURES, read_visualizations
from featuremaps.analysis.store import CLASS_MEANS, PER_IMAGE, TOP_K, layer_columns, per_image_table, read_npz, \
    read_top_k
from featuremaps.compare.representations import RepresentationTable, image_keys, representation_table
from featuremaps.data.store import META, read_meta, read_split, split_files
from featuremaps.errors import ArtifactError, FeaturemapsError
from featuremaps.model.records import read_metrics
from featuremaps.revisions import fetch, open_revision


class CompareError(FeaturemapsError):
    """A revision that cannot be compared: unknown, without outputs, or unlike the other side."""


@dataclass
class Side:
    name: str                   # as given: a revision, an experiment name, or "workspace"
    commit: str                 # the commit it resolves to (the workspace's HEAD for "workspace")
    fs: object                  # DVC's file system of the revision, for files fetched later
    folder: Path                # the local copies of its files, laid out as the repository
    meta: dict                  # data/dataset/meta.json
    per_image: Path             # its per_image.parquet, read a chunk of images at a time
    columns: list               # per_image.parquet's columns
    image_keys: tuple           # (images, digest of their split and index: compare.representations.image_keys)
    class_means: dict
    top_k: pd.DataFrame
    visualizations: dict | None  # features.npz, when the revision has the visualize stage's output
    model: dict                 # the checkpoint's config, classes and architecture record (None: an older model.pt)
    metrics: dict               # reports/metrics.json, {} when absent
    params: dict                # params.yaml, {} when absent

    @property
    def layers(self) -> list:
        return [str(x) for x in self.class_means["layers"]]

    @property
    def activation(self) -> str:
        return str(self.class_means["activation"])

    @property
    def family(self) -> str:
        """What the model is: "builtin", a torchvision name, a factory (its architecture record's)."""
        from featuremaps.model.architecture import model_family  # torch, as the checkpoint's reader
        record = self.model.get("architecture")
        return record["family"] if record else model_family(self.model.get("config", {}))

    @property
    def n_images(self) -> int:
        return self.image_keys[0]

    def channels(self, layer: str) -> int:
        """The channels of `layer` (any layer name: conv2, layer1.0.relu:2), as extract stored them."""
        return len(layer_columns(self.columns, layer))

    def representation(self, stat: str) -> RepresentationTable:
        """Each image's activation of each channel of every layer, by `stat` (REPRESENTATIONS), to stream."""
        return representation_table(self.per_image, {layer: layer_columns(self.columns, layer, stat)
                                                     for layer in self.layers}, self.image_keys)


def _readable(name: str, folder: Path, read, *args):
    """read(*args); a file the stages' readers refuse is reported by its repository path."""
    try:
        return read(*args)
    except ArtifactError as exc:
        raise CompareError(f"{name}: {str(exc).replace(str(folder) + '/', '')}") from None


def read_side(repo: str | Path, name: str, folder: Path) -> Side:
    """Revision `name`'s dataset description, activations, feature visualizations, model config,
    metrics and params, copied into `folder`."""
    from featuremaps.model.checkpoint import read_checkpoint  # torch, only once a revision is found

    fs, commit = open_revision(repo, name)
    acts = paths.ACTIVATIONS
    for path in (paths.DATASET / META, acts / PER_IMAGE, acts / CLASS_MEANS, acts / TOP_K, paths.MODEL):
        fetch(fs, name, path, folder)
    has_vis = fetch(fs, name, paths.VISUALIZATIONS / FEATURES, folder, required=False)
    has_metrics = fetch(fs, name, paths.METRICS, folder, required=False)
    has_params = fetch(fs, name, paths.PARAMS, folder, required=False)

    class_means = _readable(name, folder, read_npz, folder / acts / CLASS_MEANS,
                            ["layers", "classes", "activation", "split", "counts", "input_means"])
    layers = [str(x) for x in class_means["layers"]]  # Side.layers, before there is a Side
    per_image = _readable(name, folder, per_image_table, folder / acts / PER_IMAGE, layers)
    # its description only: a model of the user's own is not built (its code is the revision's, not here)
    ckpt = _readable(name, folder, read_checkpoint, folder / paths.MODEL)
    return Side(
        name=name, commit=commit, fs=fs, folder=folder,
        meta=_readable(name, folder, read_meta, folder / paths.DATASET),
        per_image=per_image.path, columns=per_image.columns,
        image_keys=_readable(name, folder, image_keys, per_image.path),
        class_means=class_means,
        top_k=_readable(name, folder, read_top_k, folder / acts / TOP_K),
        visualizations=_readable(name, folder, read_visualizations, folder / paths.VISUALIZATIONS, layers)
        if has_vis else None,
        model={"config": ckpt["config"], "classes": ckpt["classes"], "architecture": ckpt.get("architecture")},
        metrics=_readable(name, folder, read_metrics, folder / paths.METRICS) if has_metrics else {},
        params=(yaml.safe_load((folder / paths.PARAMS).read_text()) or {}) if has_params else {},
    )


def fetch_split(side: Side, split: str):
    """The images of one dataset split of `side` (for the top examples; read as they are indexed),
    fetched through DVC. A revision from before the split was stored as .npy files has {split}.npz."""
    images_file, labels_file = split_files(paths.DATASET, split)
    if not fetch(side.fs, side.name, images_file, side.folder, required=False):
        earlier = paths.DATASET / f"{split}.npz"
        if fetch(side.fs, side.name, earlier, side.folder, required=False):
            with np.load(side.folder / earlier, allow_pickle=False) as npz:
                return npz["images"]
        fetch(side.fs, side.name, images_file, side.folder)  # says what is missing
    fetch(side.fs, side.name, labels_file, side.folder)
    return _readable(side.name, side.folder, read_split, side.folder / paths.DATASET, split)[0]


def check_comparable(a: Side, b: Side, layers: list) -> None:
    """CompareError unless both sides hold the same dataset's images and every layer in `layers` (the
    layers matched channel by channel; none when two architectures share no layer name: their CKA
    matrix and each layer's most similar layer are still compared)."""
    if a.meta.get("sha256") != b.meta.get("sha256"):
        differ = sorted(s for s in set(a.meta.get("sha256", {})) | set(b.meta.get("sha256", {}))
                        if a.meta.get("sha256", {}).get(s) != b.meta.get("sha256", {}).get(s))
        raise CompareError(f"{a.name} and {b.name} were made from different datasets ({a.meta['dataset']} vs "
                           f"{b.meta['dataset']}; the {' and '.join(differ)} split sha256 in meta.json differ): "
                           f"features can only be compared on the same images")
    for side in (a, b):
        missing = [layer for layer in layers if layer not in side.layers]
        if missing:
            common = [layer for layer in a.layers if layer in b.layers]
            raise CompareError(f"{side.name}: layer {missing[0]} was not extracted there (its layers: "
                               f"{', '.join(side.layers)}); --layers takes those of both: "
                               f"{', '.join(common) or 'none'}")
    if a.image_keys != b.image_keys:
        raise CompareError(f"{a.name} and {b.name}: the activations cover different images; rerun extract")
