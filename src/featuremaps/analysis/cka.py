"""How alike two representations of the same images are (rows = images, in the same order on both
sides): the timelapse compares each epoch with the best, `featuremaps compare` and `sweep` one run
with another.

- linear_cka (Kornblith et al. 2019, eq. 5 with a linear kernel on centred columns):
  ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). 1 for the same representation up to an orthogonal
  transform and a scale, such as a permutation of the channels.
  debiased_cka is the same ratio from the unbiased HSIC estimator, near 0 for unrelated
  representations at any n; chance_cka is linear_cka's mean over every order of the other side's
  images, the floor chance gives, to read a CKA against. Each is a function of Moments, which add
  up a chunk of images at a time: `featuremaps compare` and `sweep` stream per-image tables of any
  length through them.
  gram_cka is the same number from the images' centred Gram matrices (centred_gram), for
  representations wider than their number of images (the timelapse's whole maps).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class OwnSums:
    """One representation's own sums over the images, columns centred: X^T X, its images' squared
    norms' sum and sum of squares (for the unbiased HSIC), each column's largest magnitude before
    centring (for the dead-channel test)."""

    def __init__(self, width: int):
        self.xx, self.peak, self.norms, self.norms_sq = np.zeros((width, width)), np.zeros(width), 0.0, 0.0

    def add(self, x: np.ndarray, mean: np.ndarray) -> tuple:
        """(the chunk centred, its images' squared norms)."""
        if len(x):
            self.peak = np.maximum(self.peak, np.abs(x).max(axis=0))
        x = x - mean
        self.xx += x.T @ x
        norms = np.einsum("ij,ij->i", x, x)
        self.norms += norms.sum()
        self.norms_sq += norms @ norms
        return x, norms


@dataclass
class Moments:
    """What CKA and channel correlations need of two representations X [n, p] and Y [n, q] of the
    same images: each one's OwnSums and their cross products, summed a chunk of images at a time
    (MomentsSum), so a representation never needs to be held whole."""
    n: int
    x: OwnSums
    y: OwnSums
    yx: np.ndarray       # [q, p] Y^T X, columns centred
    norms_xy: float      # the sum over images of x's squared norm times y's
    same: bool           # X and Y are the same numbers


class MomentsSum:
    """The Moments of pairs of representations of the same images, from chunks of their rows: several
    X (xs, by name) against several Y, given each one's column means (a first pass over the images).
    Each representation's own sums are taken once, however many pairs it takes part in."""

    def __init__(self, means_x: dict, means_y: dict, pairs: list):
        self.means_x, self.means_y, self.pairs, self.n = means_x, means_y, list(pairs), 0
        self.own_x, self.own_y = ({name: OwnSums(len(mean)) for name, mean in means.items()}
                                  for means in (means_x, means_y))
        self.yx = {(a, b): np.zeros((len(means_y[b]), len(means_x[a]))) for a, b in self.pairs}
        self.norms_xy = dict.fromkeys(self.pairs, 0.0)
        self.same = dict.fromkeys(self.pairs, True)

    def add(self, xs: dict, ys: dict) -> None:
        """One chunk: {name: [rows, columns]} of the same images on both sides."""
        lengths = {len(v) for v in list(xs.values()) + list(ys.values())}
        if len(lengths) > 1:
            raise ValueError(f"{' and '.join(map(str, sorted(lengths)))} rows: CKA compares representations of "
                             f"the same images")
        xs = {name: np.asarray(v, dtype=np.float64) for name, v in xs.items()}
        ys = {name: np.asarray(v, dtype=np.float64) for name, v in ys.items()}
        for a, b in self.pairs:
            self.same[a, b] = self.same[a, b] and xs[a].shape == ys[b].shape and np.array_equal(xs[a], ys[b])
        cx = {name: self.own_x[name].add(x, self.means_x[name]) for name, x in xs.items()}
        cy = {name: self.own_y[name].add(y, self.means_y[name]) for name, y in ys.items()}
        for a, b in self.pairs:
            self.yx[a, b] += cy[b][0].T @ cx[a][0]
            self.norms_xy[a, b] += cx[a][1] @ cy[b][1]
        self.n += lengths.pop() if lengths else 0

    def moments(self, a, b) -> Moments:
        return Moments(self.n, self.own_x[a], self.own_y[b], self.yx[a, b], self.norms_xy[a, b], self.same[a, b])


def moments_of(x, y) -> Moments:
    """The Moments of two whole representations [n, p] and [n, q]."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    total = MomentsSum({0: x.mean(axis=0)}, {0: y.mean(axis=0)}, [(0, 0)])
    total.add({0: x}, {0: y})
    return total.moments(0, 0)


def linear_cka(x, y) -> float:
    """Linear CKA of [n, p] and [n, q]; NaN when either side is constant over the images."""
    return cka_of(moments_of(x, y))


def cka_of(m: Moments) -> float:
    """Linear CKA from Moments; exactly 1 for the same representation twice (the products would
    round to a hair off it)."""
    denominator = np.linalg.norm(m.x.xx) * np.linalg.norm(m.y.xx)
    if denominator == 0:
        return float("nan")
    return 1.0 if m.same else float(np.linalg.norm(m.yx) ** 2 / denominator)


def _hsic(cross: float, n: int, rows_xy: float, sum_x: float, sum_y: float) -> float:
    """The unbiased estimator of ||Y^T X||_F^2 (HSIC with a linear kernel; Song et al. 2012, in the
    feature-space form of Kornblith et al.'s reference code) from ||Y^T X||_F^2 and the image norms' sums."""
    return float(cross - n / (n - 2) * rows_xy + sum_x * sum_y / ((n - 1) * (n - 2)))


def debiased_cka(x, y) -> float:
    """debiased_cka_of two whole representations [n, p] and [n, q]."""
    return debiased_cka_of(moments_of(x, y))


def debiased_cka_of(m: Moments) -> float:
    """Linear CKA from the unbiased HSIC estimator: unlike linear_cka it is near 0, not near a floor
    that depends on n and the widths, for unrelated representations (it can go slightly negative).
    NaN when either side is constant or there are fewer than 4 images."""
    if m.n < 4:
        return float("nan")
    xx = _hsic(np.linalg.norm(m.x.xx) ** 2, m.n, m.x.norms_sq, m.x.norms, m.x.norms)
    yy = _hsic(np.linalg.norm(m.y.xx) ** 2, m.n, m.y.norms_sq, m.y.norms, m.y.norms)
    if not (xx > 0 and yy > 0):
        return float("nan")
    return _hsic(np.linalg.norm(m.yx) ** 2, m.n, m.norms_xy, m.x.norms, m.y.norms) / np.sqrt(xx * yy)


def chance_cka(x, y) -> float:
    """chance_cka_of two whole representations [n, p] and [n, q]."""
    return chance_cka_of(moments_of(x, y))


def chance_cka_of(m: Moments) -> float:
    """The CKA chance gives at this n and these widths: the mean linear CKA of X against Y with its
    images in every possible order. Shuffling leaves X^T X and Y^T Y as they are, and the mean of
    ||Y_shuffled^T X||_F^2 over all orders is tr(X^T X) tr(Y^T Y) / (n - 1) for centred columns, so
    this is exact, not a few draws. Read a CKA against it."""
    denominator = np.linalg.norm(m.x.xx) * np.linalg.norm(m.y.xx)
    if denominator == 0 or m.n < 2:
        return float("nan")
    return float(np.trace(m.x.xx) * np.trace(m.y.xx) / ((m.n - 1) * denominator))


def centred_gram(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """float64 [n, n]: the Gram matrix of the rows of [n, p] after centring its columns (the linear
    kernel CKA compares), `chunk` columns at a time. Products are in x's precision (float32 maps:
    twice as fast; the centred columns keep its rounding relative to the result), summed in float64.
    For representations wider than their number of images, where linear_cka's p x p products
    would be large."""
    k = np.zeros((len(x), len(x)))
    for start in range(0, x.shape[1], chunk):
        part = x[:, start:start + chunk]
        part = part - part.mean(axis=0, dtype=np.float64).astype(part.dtype)
        k += part @ part.T
    return k


def gram_cka(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Linear CKA from two centred Gram matrices of the same images: <K, L> / (||K|| ||L||), which is
    linear_cka of the representations they come from. NaN when either is zero (constant)."""
    denominator = np.linalg.norm(k) * np.linalg.norm(l)
    return float(np.vdot(k, l) / denominator) if denominator > 0 else float("nan")
