"""The extract stage's files and the record they hold (Extraction), written atomically and
read back with their columns checked.

data/activations/
  per_image.parquet  one row per image: split, index, label, pred, and per layer and feature
                     <layer>_fNN (spatial sum), <layer>_fNN_max (strongest unit), <layer>_fNN_at
                     (its flat position y * width + x)
  class_means.npz    per layer: <layer>_sums (float64), <layer>_means; counts; input_means
  examples.npz       first image of each class: index, input, <layer> maps
  top_k.parquet      layer, feature, rank, split, index, label, value (by extract.top_k_by), and the
                     strongest unit's y, x in the map and the input box it sees: top, left, bottom, right
  filters.npz        each hooked layer's kernels [out, in, k, k], so render needs no torch
  network.npz        the whole network as float32 arrays and its config (featuremaps.model.export),
                     for the explorer's draw view
  architecture.json  the model's architecture record (featuremaps.model.architecture), as model.pt
                     holds it: every layer's name, kind, map shape and geometry, for render
Each records which activation it holds (relu or raw).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from featuremaps import paths
from featuremaps.errors import ArtifactError
from featuremaps.files import read_arrays, read_artifact, require, write_npz, write_text
from featuremaps.tables import read_parquet, write_parquet

STAGE = paths.WRITER[paths.ACTIVATIONS]
PER_IMAGE = "per_image.parquet"
CLASS_MEANS = "class_means.npz"
EXAMPLES = "examples.npz"
TOP_K = "top_k.parquet"
FILTERS = "filters.npz"
NETWORK = "network.npz"
BASE_COLUMNS = ["split", "index", "label", "pred"]


@dataclass
class Extraction:
    """What extraction computes; write_extraction stores it as the files above."""
    layers: list
    activation: str
    means_split: str
    top_k_by: str              # sum | max: what top_k ranks by
    classes: list
    n_images: int              # rows of per_image.parquet, which extraction writes as it goes
    class_sums: dict           # layer -> float64 [C,F,h,w]
    class_counts: np.ndarray   # int64 [C]
    input_sums: np.ndarray     # float64 [C,H,W], grey levels 0..255
    examples: dict             # index [C] (-1 = none), input uint8 [C,H,W], <layer> float32 [C,F,h,w]
    top_k: dict                # column -> 1-D list (layer, feature, rank, split, index, label, value,
                               # y, x, top, left, bottom, right)

    @property
    def class_means(self) -> dict:
        counts = self.class_counts.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {name: s / counts[:, None, None, None] for name, s in self.class_sums.items()}

    @property
    def input_means(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.input_sums / self.class_counts.reshape(-1, *[1] * (self.input_sums.ndim - 1))


STATS = ("sum", "max", "at")  # per image and feature: spatial sum, strongest unit, its position


def feature_columns(layer: str, n_features: int, stat: str = "sum") -> list:
    """per_image's columns of one layer and statistic, feature 1 first: <layer>_f01, <layer>_f02, ...
    for the sum, <layer>_f01_max, ... for the others."""
    suffix = "" if stat == "sum" else f"_{stat}"
    return [f"{layer}_f{j + 1:02d}{suffix}" for j in range(n_features)]


def layer_columns(columns, layer: str, stat: str = "sum") -> list:
    """The columns of `layer` and `stat` among `columns` (a DataFrame's or a dict's), in feature order."""
    pattern = re.compile(rf"{re.escape(layer)}_f\d+")
    return feature_columns(layer, sum(1 for c in columns if pattern.fullmatch(c)), stat)


def extraction_meta(layers, params) -> dict:
    """What per_image.parquet and top_k.parquet record in their schema (params: ExtractParams)."""
    return {"activation": params.activation, "layers": ",".join(layers), "means_split": params.means_split,
            "top_k_by": params.top_k_by}


def write_extraction(ex: Extraction, out_dir: str | Path, filters: dict) -> None:
    """Every file of the extraction but per_image.parquet, written while extracting."""
    out_dir = Path(out_dir)
    write_parquet(out_dir / TOP_K, ex.top_k, extraction_meta(ex.layers, ex))
    means = ex.class_means
    arrays = {"layers": np.array(ex.layers), "classes": np.array(ex.classes), "activation": np.array(ex.activation),
              "split": np.array(ex.means_split), "top_k_by": np.array(ex.top_k_by), "counts": ex.class_counts,
              "input_sums": ex.input_sums, "input_means": ex.input_means}
    for name in ex.layers:
        arrays[f"{name}_sums"] = ex.class_sums[name]
        arrays[f"{name}_means"] = means[name]
    write_npz(out_dir / CLASS_MEANS, **arrays)
    write_npz(out_dir / EXAMPLES, layers=np.array(ex.layers), classes=np.array(ex.classes),
              activation=np.array(ex.activation), split=np.array(ex.means_split), **ex.examples)
    write_npz(out_dir / FILTERS, **filters)


def read_per_image(path: str | Path, layers=()) -> pd.DataFrame:
    """per_image.parquet as a DataFrame; missing columns stop with their names."""
    frame = read_parquet(path, STAGE)
    require(path, frame.columns, BASE_COLUMNS + [feature_columns(layer, 1)[0] for layer in layers], "column", STAGE)
    return frame


class PerImageTable:
    """per_image.parquet read a few columns at a time, the rows of one split, as figures need them:
    memory is those columns', not the table's (every feature's three statistics for every image)."""

    def __init__(self, path: str | Path, columns: list):
        self.path, self.columns = Path(path), columns

    def __len__(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows

    def split_row_groups(self, split: str, columns: list):
        """{column: numpy array} over the rows of `split`, one row group at a time in the file's order:
        memory is one group's columns, whatever the number of images."""
        file = read_parquet_file(self.path, pq.ParquetFile)
        for group in range(file.num_row_groups):
            table = read_parquet_file(self.path, lambda _: file.read_row_group(group, columns=list(columns) + ["split"]))
            table = table.filter(pc.equal(table.column("split"), split))
            yield {c: table.column(c).to_numpy() for c in columns}


def read_parquet_file(path: str | Path, read):
    """read(path) of a Parquet file of extract's; a damaged one stops in one line."""
    return read_artifact(path, read, what="a readable Parquet file", stage=STAGE,
                         errors=(OSError, pa.ArrowException, ValueError))


def per_image_batches(path: str | Path, columns: list, rows: int):
    """per_image.parquet's record batches of `columns`, `rows` images each (the last fewer), across row
    groups, in the file's order."""
    # without pre-buffering: it reads ahead every row group's column chunks, 140 MiB at 1M images
    file = read_parquet_file(path, lambda p: pq.ParquetFile(p, pre_buffer=False))
    batches = file.iter_batches(batch_size=rows, columns=columns)
    while (batch := read_parquet_file(path, lambda _: next(batches, None))) is not None:
        yield batch


def per_image_table(path: str | Path, layers=()) -> PerImageTable:
    """per_image.parquet, its columns checked from its schema (missing ones stop with their names)."""
    columns = read_parquet_file(path, lambda p: pq.read_schema(p).names)
    require(path, columns, BASE_COLUMNS + [feature_columns(layer, 1)[0] for layer in layers], "column", STAGE)
    return PerImageTable(path, columns)


def layer_class_means(class_means: dict, layer: str) -> np.ndarray:
    """[classes, F, h, w] mean map of each feature of `layer` per class, from class_means.npz's arrays."""
    return class_means[f"{layer}_means"]


def read_npz(path: str | Path, required=()) -> dict:
    """One of extract's NPZ files as {name: array}; missing arrays stop with their names."""
    return read_arrays(path, required, STAGE)


TOP_K_COLUMNS = ["layer", "feature", "rank", "split", "index", "label", "value", "y", "x", "top", "left", "bottom",
                 "right"]


def read_top_k(path: str | Path) -> pd.DataFrame:
    frame = read_parquet(path, STAGE)
    require(path, frame.columns, TOP_K_COLUMNS, "column", STAGE)
    return frame


ARCHITECTURE = "architecture.json"


def write_architecture(out_dir: str | Path, record: dict) -> None:
    write_text(Path(out_dir) / ARCHITECTURE, json.dumps(record, indent=1) + "\n")


def read_architecture(out_dir: str | Path) -> dict:
    path = Path(out_dir) / ARCHITECTURE
    record = read_artifact(path, lambda p: json.loads(p.read_text()), what="an architecture record (JSON)",
                           stage=STAGE, errors=(ValueError, OSError))
    if not isinstance(record, dict) or not isinstance(record.get("layers"), list):
        raise ArtifactError(f"{path}: not an architecture record (no list of layers); rerun the {STAGE} stage")
    return record


def write_network(out_dir: str | Path, arrays: dict) -> None:
    write_npz(Path(out_dir) / NETWORK, **arrays)


def read_network(out_dir: str | Path) -> dict:
    return read_arrays(Path(out_dir) / NETWORK, ["config", "pixel_mean", "pixel_std"], STAGE)
