"""The visualize stage's file, written atomically and read back with its arrays checked.

data/visualizations/features.npz
  layers, objective (channel | neuron), activation (relu | raw), split (of the dataset images
  scored), seeds; per layer:
  <layer>_images         uint8 [F, S, H, W(, C)]  the optimised inputs, as pixels
  <layer>_values         float64 [F, S]      each one's objective, measured on those pixels
  <layer>_refined_images uint8 [F, H, W(, C)]     the best dataset image, optimised further
  <layer>_refined_values float64 [F]         its objective
  <layer>_dataset_index  int64 [F]           the split's image scoring highest on the feature
  <layer>_dataset_value  float64 [F]         its objective
  <layer>_negative_images uint8 [F, H, W(, C)] (or [0, ...]) the input that minimises its raw value
  <layer>_negative_values float64 [F]        that raw objective
  <layer>_neuron_optimum float64 [F]         first conv layer: the exact maximum of its centre unit (else NaN)
  <layer>_neuron_reached float64 [F]         what gradient ascent on that unit reached (else NaN)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featuremaps import paths
from featuremaps.files import read_arrays, write_npz

STAGE = paths.WRITER[paths.VISUALIZATIONS]
FEATURES = "features.npz"
FIELDS = ("images", "values", "refined_images", "refined_values", "dataset_index", "dataset_value", "negative_images",
          "negative_values", "neuron_optimum", "neuron_reached")


@dataclass
class LayerVisualization:
    images: np.ndarray          # uint8 [F, S, H, W(, C)]: the inputs optimised from random starts, as pixels
    values: np.ndarray          # float64 [F, S]: each one's objective
    refined_images: np.ndarray  # uint8 [F, H, W(, C)]: the best dataset image, optimised further
    refined_values: np.ndarray  # float64 [F]: its objective
    dataset_index: np.ndarray   # int64 [F]: the dataset image that scores highest on each feature
    dataset_value: np.ndarray   # float64 [F]: its objective
    negative_images: np.ndarray  # uint8 [F, H, W(, C)] (empty without visualize.negative): minimising the raw value
    negative_values: np.ndarray  # float64 [F]: that raw objective
    neuron_optimum: np.ndarray  # float64 [F]: first conv layer, the centre unit's exact maximum; NaN elsewhere
    neuron_reached: np.ndarray  # float64 [F]: what ascent on that unit reached; NaN elsewhere


def write_visualizations(out_dir: str | Path, layers: dict, objective: str, activation: str, split: str,
                         seeds: int) -> None:
    """layers: {layer: LayerVisualization}."""
    arrays = {"layers": np.array(list(layers)), "objective": np.array(objective),
              "activation": np.array(activation), "split": np.array(split), "seeds": np.array(seeds)}
    for layer, vis in layers.items():
        for name in FIELDS:
            arrays[f"{layer}_{name}"] = getattr(vis, name)
    write_npz(Path(out_dir) / FEATURES, **arrays)


def read_visualizations(out_dir: str | Path, layers) -> dict:
    """features.npz as {name: array}, every layer's arrays present."""
    required = ["layers", "objective", "activation", "split", "seeds"]
    required += [f"{layer}_{name}" for layer in layers for name in FIELDS]
    return read_arrays(Path(out_dir) / FEATURES, required, STAGE)


def layer_visualization(stored: dict, layer: str) -> LayerVisualization:
    """One layer's record from what read_visualizations returned."""
    return LayerVisualization(**{name: stored[f"{layer}_{name}"] for name in FIELDS})
