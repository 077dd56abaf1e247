"""The attribute stage's files, written atomically and read back with their contents checked.

data/attributions/
  gradcam.npz      split, layers, maps (the Grad-CAM maps: conv or rectified); per example image (one per class, then misclassified ones):
                   index, label, pred, input uint8 [N, H, W], ig [N, H, W] (Integrated Gradients for
                   the predicted class), <layer>_pred and <layer>_true [N, H, W] (Grad-CAM for the
                   predicted and the true class); every misclassified image of the split: wrong_index,
                   wrong_pred; per class: <layer>_class_mean [C, H, W] (mean Grad-CAM
                   for the true class), counts [C], mean_input [C, H, W]
  ablation.parquet layer, channel (1-based), class (a class name or "all"), accuracy, baseline,
                   selectivity (the channel's for that class; for "all" its selectivity index)
  claims.parquet   layer, set ("selective" or "random"), channels (1-based, space-separated),
                   accuracy_drop: channel sets zeroed together (featuremaps.analysis.claims)
reports/interpretability.json   per layer: dead_channels, mean_selectivity, max_accuracy_drop,
                                max_drop_channel; and the claims' numbers (CLAIM_KEYS) (DVC metrics)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from featuremaps import paths
from featuremaps.files import read_arrays, read_json, require, write_json, write_npz
from featuremaps.tables import read_parquet, write_parquet

STAGE = paths.WRITER[paths.ATTRIBUTIONS]
GRADCAM = "gradcam.npz"
ABLATION = "ablation.parquet"
CLAIMS = "claims.parquet"
ABLATION_COLUMNS = ["layer", "channel", "class", "accuracy", "baseline", "selectivity"]
CLAIMS_COLUMNS = ["layer", "set", "channels", "accuracy_drop"]
METRIC_KEYS = ["dead_channels", "mean_selectivity", "max_accuracy_drop", "max_drop_channel"]
# Spearman correlations over the live channels, and the accuracy lost by zeroing sets of k channels
CLAIM_KEYS = ["selectivity_vs_drop_spearman", "selectivity_vs_drop_p", "class_selectivity_vs_class_drop_spearman",
              "class_selectivity_vs_class_drop_p", "ablate_k",
              "k_most_selective_drop", "k_random_drop_mean", "k_random_drop_max"]


def write_attributions(out_dir: str | Path, split: str, maps: str, layers, examples: dict, class_means: dict,
                       counts: np.ndarray, mean_input: np.ndarray, ablation: dict, claims: dict) -> None:
    arrays = {"split": np.array(split), "maps": np.array(maps), "layers": np.array(list(layers)), "counts": counts,
              "mean_input": mean_input, **examples}
    arrays.update({f"{layer}_class_mean": m for layer, m in class_means.items()})
    write_npz(Path(out_dir) / GRADCAM, **arrays)
    write_parquet(Path(out_dir) / ABLATION, ablation, {"split": split})
    write_parquet(Path(out_dir) / CLAIMS, claims, {"split": split})


@dataclass
class LayerGradcam:
    pred: np.ndarray        # [N, H, W] Grad-CAM of each example image for its predicted class
    true: np.ndarray        # [N, H, W] ... for its true class
    class_mean: np.ndarray  # [C, H, W] mean Grad-CAM for the true class, per class


def layer_gradcam(arrays: dict, layer: str) -> LayerGradcam:
    """One layer's Grad-CAM from what read_attributions returned."""
    return LayerGradcam(arrays[f"{layer}_pred"], arrays[f"{layer}_true"], arrays[f"{layer}_class_mean"])


def write_interpretability(path: str | Path, metrics: dict) -> None:
    write_json(path, metrics)


def read_claims(out_dir: str | Path) -> pd.DataFrame:
    table = read_parquet(Path(out_dir) / CLAIMS, STAGE)
    require(Path(out_dir) / CLAIMS, table.columns, CLAIMS_COLUMNS, "column", STAGE)
    return table


def read_attributions(out_dir: str | Path, layers) -> tuple[dict, pd.DataFrame]:
    required = ["split", "maps", "layers", "counts", "mean_input", "index", "label", "pred", "input", "ig", "wrong_index",
                "wrong_pred"]
    required += [f"{layer}_{kind}" for layer in layers for kind in ("pred", "true", "class_mean")]
    arrays = read_arrays(Path(out_dir) / GRADCAM, required, STAGE)
    table = read_parquet(Path(out_dir) / ABLATION, STAGE)
    require(Path(out_dir) / ABLATION, table.columns, ABLATION_COLUMNS, "column", STAGE)
    return arrays, table


def read_interpretability(path: str | Path, layers) -> dict:
    values = read_json(path, STAGE)
    require(path, values, list(layers), "layer", STAGE)
    for layer in layers:
        require(path, values[layer] if isinstance(values[layer], dict) else {}, METRIC_KEYS, f"{layer} key", STAGE)
    return values
