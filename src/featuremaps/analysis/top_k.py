"""The k images with the largest values of each feature, kept while the images stream past.

    top = RunningTopK(k, n_features)
    top.update(values [B, F], index [B], label [B], at [B, F])     # once per batch
    top.rows(layer, split)       # the top_k table's rows of one layer, feature 1 first, rank 1 first

Largest value first, ties broken by the lower index: a total order, so keeping the first k of
(the k kept so far + the batch) at every batch gives exactly the first k of all images, whatever
the batches (tests/test_activations.py checks it against sorting every image at once).
"""
from __future__ import annotations

import numpy as np


class RunningTopK:
    def __init__(self, k: int, n_features: int):
        self.k = k
        self.values = np.empty((n_features, 0), dtype=np.float32)
        self.index = np.empty((n_features, 0), dtype=np.int64)
        self.label = np.empty((n_features, 0), dtype=np.int64)
        self.at = np.empty((n_features, 0), dtype=np.int64)

    def update(self, values: np.ndarray, index: np.ndarray, label: np.ndarray, at: np.ndarray | None) -> None:
        """values [B, F] (float32), index [B], label [B], at [B, F] (None: -1, no positions)."""
        f, b = self.values.shape[0], len(index)
        values = np.concatenate([self.values, values.T], 1)
        index = np.concatenate([self.index, np.broadcast_to(index, (f, b))], 1)
        label = np.concatenate([self.label, np.broadcast_to(label, (f, b))], 1)
        at = np.concatenate([self.at, np.full((f, b), -1) if at is None else at.T], 1)
        order = np.lexsort((index, -values.astype(np.float64)), axis=1)[:, :self.k]
        self.values, self.index, self.label, self.at = (np.take_along_axis(a, order, 1)
                                                        for a in (values, index, label, at))

    def rows(self, layer: str, split: str) -> dict:
        """The table's columns (layer, feature, rank, split, index, label, value, at) for this layer."""
        f, k = self.values.shape
        return {"layer": [layer] * (f * k), "feature": np.repeat(np.arange(1, f + 1), k).tolist(),
                "rank": np.tile(np.arange(1, k + 1), f).tolist(), "split": [split] * (f * k),
                "index": self.index.ravel().tolist(), "label": self.label.ravel().tolist(),
                "value": self.values.ravel().tolist(), "at": self.at.ravel().tolist()}
