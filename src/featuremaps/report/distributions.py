"""Each feature's per-image summed activation over the means split, as the figures and the explorer
show it: its mean per class and its histogram per class.

    from featuremaps.report.distributions import layer_distribution
    dist = layer_distribution(inputs.per_image, "train", "conv2", n_classes=10, bins=60)
    dist.class_means        # [classes, features]; class_feature_means(...) computes only these
    dist.densities(0)       # feature 1: each class's density over dist.edges[0], None for an empty class

Two passes over per_image.parquet's row groups (the range, then the counts), so memory is one group's
columns whatever the number of images. Nothing is approximate: a range is a minimum and a maximum,
counts add, and each class's sum accumulates row after row in the file's order, as numpy's mean over
all rows does, so the figures are the bytes that one pass over the whole split drew.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featuremaps.analysis.store import PerImageTable, layer_columns


@dataclass(frozen=True)
class LayerDistribution:
    class_means: np.ndarray  # [C, F] mean summed activation; NaN for a class with no image
    edges: np.ndarray        # [F, bins + 1] each feature's bins, spanning its whole range
    counts: np.ndarray       # [F, C, bins] images per feature, class and bin

    def densities(self, feature: int) -> list:
        """Each class's density over feature `feature`'s bins (unit area, as np.histogram's density=True
        computes it), None for a class with no image."""
        width = np.array(np.diff(self.edges[feature]), float)
        return [n / width / n.sum() if n.sum() else None for n in self.counts[feature]]


def histogram_edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """Bin edges spanning a feature's full range, min to max (nothing clipped)."""
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, bins + 1)


def _groups(table: PerImageTable, split: str, columns: list):
    """(labels [n], sums [n, F]) of each row group's `split` rows."""
    for group in table.split_row_groups(split, ["label"] + columns):
        yield group["label"], np.stack([group[c] for c in columns], 1)


def bin_counts(values: np.ndarray, labels: np.ndarray, edges: np.ndarray, n_classes: int) -> np.ndarray:
    """[C, bins] counts of `values` (all inside the edges) per class, binned as np.histogram bins:
    [edge, next edge), the last bin closed."""
    bins = len(edges) - 1
    at = np.minimum(np.searchsorted(edges, values, side="right") - 1, bins - 1)
    return np.bincount(labels.astype(np.int64) * bins + at, minlength=n_classes * bins).reshape(n_classes, bins)


def _ranges_and_sums(table: PerImageTable, split: str, columns: list, n_classes: int):
    """The first pass: each feature's (min [F], max [F]), each class's sums [C, F] and image count [C]."""
    lo, hi = np.full(len(columns), np.inf, np.float32), np.full(len(columns), -np.inf, np.float32)
    totals, images = np.zeros((n_classes, len(columns))), np.zeros(n_classes, np.int64)
    for labels, sums in _groups(table, split, columns):
        if not len(labels):
            continue
        lo, hi = np.minimum(lo, sums.min(0)), np.maximum(hi, sums.max(0))
        order = np.argsort(labels, kind="stable")  # each class's rows keep the file's order
        starts = np.searchsorted(labels[order], np.arange(n_classes + 1))
        for c in np.flatnonzero(np.diff(starts)):
            rows = sums[order[starts[c]:starts[c + 1]]]
            totals[c] = np.add.reduce(np.concatenate([totals[c][None], rows]), axis=0)
            images[c] += len(rows)
    return lo, hi, totals, images


def _means(totals: np.ndarray, images: np.ndarray) -> np.ndarray:
    means = np.full(totals.shape, np.nan)
    seen = images > 0
    means[seen] = totals[seen] / images[seen, None]
    return means


def class_feature_means(table: PerImageTable, split: str, layer: str, n_classes: int) -> np.ndarray:
    """[C, F] mean summed activation of each feature of `layer` per class; NaN for a class with no image."""
    _, _, totals, images = _ranges_and_sums(table, split, layer_columns(table.columns, layer), n_classes)
    return _means(totals, images)


def layer_distribution(table: PerImageTable, split: str, layer: str, n_classes: int, bins: int) -> LayerDistribution:
    columns = layer_columns(table.columns, layer)
    lo, hi, totals, images = _ranges_and_sums(table, split, columns, n_classes)
    edges = np.stack([histogram_edges(float(a), float(b), bins) if a <= b else histogram_edges(0.0, 1.0, bins)
                      for a, b in zip(lo, hi)])
    counts = np.zeros((len(columns), n_classes, bins), np.int64)
    for labels, sums in _groups(table, split, columns):
        for f in range(len(columns)):
            counts[f] += bin_counts(sums[:, f], labels, edges[f], n_classes)
    return LayerDistribution(_means(totals, images), edges, counts)
