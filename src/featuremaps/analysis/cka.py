"""How alike two representations of the same images are (rows = images, in the same order on both
sides): the timelapse compares each epoch with the best, `featuremaps compare` and `sweep` one run
with another.

- linear_cka (Kornblith et al. 2019, eq. 5 with a linear kernel on centred columns):
  ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). 1 for the same representation up to an orthogonal
  transform and a scale, such as a permutation of the channels.
  debiased_cka is the same ratio from the unbiased HSIC estimator, near 0 for unrelated
  representations at any n; shuffled_cka is linear_cka against the other side's images shuffled,
  the floor chance gives, to read a CKA against.
  gram_cka is the same number from the images' centred Gram matrices (centred_gram), for
  representations wider than their number of images (the timelapse's whole maps).
"""
from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of [n, p] and [n, q]; NaN when either side is constant over the images, exactly 1
    for the same representation twice (the products would round to a hair off it)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} and {len(y)} rows: CKA compares representations of the same images")
    same = x.shape == y.shape and np.array_equal(x, y)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if denominator == 0:
        return float("nan")
    return 1.0 if same else float(np.linalg.norm(y.T @ x) ** 2 / denominator)


def _hsic_terms(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimator of ||Y^T X||_F^2 (HSIC with a linear kernel; Song et al. 2012, in the
    feature-space form of Kornblith et al.'s reference code) for centred [n, p] and [n, q]."""
    n = len(x)
    rows_x, rows_y = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    return float(np.linalg.norm(y.T @ x) ** 2 - n / (n - 2) * rows_x @ rows_y
                 + rows_x.sum() * rows_y.sum() / ((n - 1) * (n - 2)))


def debiased_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA from the unbiased HSIC estimator: unlike linear_cka it is near 0, not near a floor
    that depends on n and the widths, for unrelated representations (it can go slightly negative).
    NaN when either side is constant or there are fewer than 4 images."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} and {len(y)} rows: CKA compares representations of the same images")
    if len(x) < 4:
        return float("nan")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    xx, yy = _hsic_terms(x, x), _hsic_terms(y, y)
    if not (xx > 0 and yy > 0):
        return float("nan")
    return _hsic_terms(x, y) / np.sqrt(xx * yy)


def shuffled_cka(x: np.ndarray, y: np.ndarray, draws: int = 5, seed: int = 0) -> float:
    """The CKA chance gives at this n and these widths: the mean linear CKA of x against y with its
    rows (images) in a random order, over `draws` seeded shuffles. Read a CKA against it."""
    rng = np.random.default_rng(seed)
    return float(np.mean([linear_cka(x, np.asarray(y)[rng.permutation(len(y))]) for _ in range(draws)]))


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
