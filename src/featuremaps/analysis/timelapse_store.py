"""The timelapse stage's file, written atomically and read back with its arrays checked.

data/timelapse/timelapse.npz
  layers; epochs int64 [E] (the snapshots'); reference_epoch (the snapshot equal to model.pt, -1
  if none is); vis_epochs int64 [V]; probe_index int64 [n] (val split); objective, activation;
  per layer:
  <layer>_filters      float32 [E, F, C_in, k, k]
  <layer>_cka          float64 [E]  linear CKA of the whole post-ReLU maps to the reference's
  <layer>_cka_pooled   float64 [E]  the same of the per-image channel means
  <layer>_selectivity  float64 [E, F]
  <layer>_preferred    int64 [E, F]
  <layer>_dead         bool [E, F]
  <layer>_top          int64 [E, F, k]  positions in probe_index
  <layer>_top_value    float32 [E, F, k]
  <layer>_vis          uint8 [V, F, S, H, W(, C)]  optimised inputs at the vis epochs
  <layer>_vis_value    float64 [V, F, S]
With no snapshots (train.snapshot_every: 0) E and V are 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from featuremaps import paths
from featuremaps.files import read_arrays, require, write_npz

STAGE = paths.WRITER[paths.TIMELAPSE]
TIMELAPSE = "timelapse.npz"
FIELDS = ("filters", "cka", "cka_pooled", "selectivity", "preferred", "dead", "top", "top_value", "vis", "vis_value")
HEADER = ("layers", "epochs", "reference_epoch", "vis_epochs", "probe_index", "objective", "activation")


def write_timelapse(out_dir: str | Path, layers: dict, epochs, reference_epoch: int, vis_epochs, probe_index,
                    objective: str, activation: str) -> None:
    """layers: {layer: {field: array}} with every name of FIELDS."""
    arrays = {"layers": np.array(list(layers), dtype=str), "epochs": np.asarray(epochs, dtype=np.int64),
              "reference_epoch": np.array(reference_epoch), "vis_epochs": np.asarray(vis_epochs, dtype=np.int64),
              "probe_index": np.asarray(probe_index, dtype=np.int64), "objective": np.array(objective),
              "activation": np.array(activation)}
    for layer, fields in layers.items():
        for name in FIELDS:
            arrays[f"{layer}_{name}"] = fields[name]
    write_npz(Path(out_dir) / TIMELAPSE, **arrays)


def read_timelapse(out_dir: str | Path) -> dict:
    """timelapse.npz as {name: array}, every listed layer's arrays present."""
    path = Path(out_dir) / TIMELAPSE
    arrays = read_arrays(path, HEADER, STAGE)
    require(path, arrays, [f"{layer}_{name}" for layer in arrays["layers"] for name in FIELDS], "array", STAGE)
    return arrays


def layer_timelapse(stored: dict, layer: str) -> dict:
    """One layer's arrays, by field name."""
    return {name: stored[f"{layer}_{name}"] for name in FIELDS}
