"""The extract stage's files, written atomically and read back with their columns checked.

data/activations/
  per_image.parquet  one row per image: split, index, label, pred, <layer>_fNN (spatial sums)
  class_means.npz    per layer: <layer>_sums (float64), <layer>_means; counts; input_means
  examples.npz       first image of each class: index, input, <layer> maps
  top_k.parquet      layer, feature, rank, split, index, label, value
  filters.npz        each hooked layer's kernels [out, in, k, k], so render needs no torch
Each records which activation it holds (relu or raw).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from typing import TYPE_CHECKING

from featuremaps.errors import ArtifactError, first_line
from featuremaps.files import atomic_path, write_npz

if TYPE_CHECKING:
    from featuremaps.activations import Extraction

PER_IMAGE = "per_image.parquet"
CLASS_MEANS = "class_means.npz"
EXAMPLES = "examples.npz"
TOP_K = "top_k.parquet"
FILTERS = "filters.npz"
BASE_COLUMNS = ["split", "index", "label", "pred"]


def feature_columns(layer: str, n_features: int) -> list:
    return [f"{layer}_f{j + 1:02d}" for j in range(n_features)]


def _write_parquet(path: Path, columns: dict, metadata: dict) -> None:
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    table = table.replace_schema_metadata({k.encode(): str(v).encode() for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_extraction(ex: Extraction, out_dir: str | Path, filters: dict) -> None:
    out_dir = Path(out_dir)
    meta = {"activation": ex.activation, "layers": ",".join(ex.layers), "means_split": ex.means_split}
    per_image = dict(ex.per_image)
    per_image["index"] = per_image["index"].astype(np.int32)
    _write_parquet(out_dir / PER_IMAGE, per_image, meta)
    _write_parquet(out_dir / TOP_K, ex.top_k, meta)
    means = ex.class_means
    arrays = {"layers": np.array(ex.layers), "classes": np.array(ex.classes), "activation": np.array(ex.activation),
              "split": np.array(ex.means_split), "counts": ex.class_counts,
              "input_sums": ex.input_sums, "input_means": ex.input_means}
    for name in ex.layers:
        arrays[f"{name}_sums"] = ex.class_sums[name]
        arrays[f"{name}_means"] = means[name]
    write_npz(out_dir / CLASS_MEANS, **arrays)
    write_npz(out_dir / EXAMPLES, layers=np.array(ex.layers), classes=np.array(ex.classes),
              activation=np.array(ex.activation), split=np.array(ex.means_split), **ex.examples)
    write_npz(out_dir / FILTERS, **filters)


def read_per_image(path: str | Path, layers=None) -> pd.DataFrame:
    """per_image.parquet as a DataFrame; missing columns stop with their names."""
    path = Path(path)
    frame = read_parquet(path)
    missing = [c for c in BASE_COLUMNS if c not in frame.columns]
    for layer in layers or []:
        if not any(c.startswith(f"{layer}_f") for c in frame.columns):
            missing.append(f"{layer}_f01...")
    if missing:
        raise ArtifactError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                            f"expected {', '.join(BASE_COLUMNS)} and <layer>_fNN per layer; rerun extract")
    return frame


def layer_features(frame: pd.DataFrame, layer: str) -> list:
    """The <layer>_fNN columns of per_image, in feature order."""
    n = sum(1 for c in frame.columns if c.startswith(f"{layer}_f"))
    return feature_columns(layer, n)


def read_npz(path: str | Path, required=()) -> dict:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; run the extract stage first (dvc repro)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{path}: not a readable NPZ file ({first_line(exc)}); rerun extract") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise ArtifactError(f"{path}: missing arrays {', '.join(missing)}; rerun extract")
    return arrays


def read_parquet(path: str | Path) -> pd.DataFrame:
    """One of extract's Parquet files (per_image, top_k); missing or unreadable stops with one line."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; run the extract stage first (dvc repro)") from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise ArtifactError(f"{path}: not a readable Parquet file ({first_line(exc)}); rerun extract") from None
