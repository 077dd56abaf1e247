"""Which input channels of a filter are drawn: a kernel of a deep layer has 64-512 input channels,
too many to read side by side, so a figure or a view shows each output feature's strongest ones.

    inputs = strongest_inputs(weights)        # [out, m] input channel indices, m <= FILTER_INPUTS
    kernels = drawn_kernels(weights, inputs)  # [out, m, kh, kw]

Strength is the kernel's L2 norm over its positions: how much that input channel can move the
feature. With at most FILTER_INPUTS input channels every one is drawn, in order, as before.
"""
from __future__ import annotations

import numpy as np

FILTER_INPUTS = 16  # input channels drawn per filter


def strongest_inputs(weights: np.ndarray, n: int = FILTER_INPUTS) -> np.ndarray:
    """[out, m] the input channels drawn for each output feature of kernels [out, in, kh, kw]: all of
    them in order where in <= n, else the n with the largest L2 norm, strongest first (ties: lower
    index first)."""
    n_out, n_in = weights.shape[:2]
    if n_in <= n:
        return np.tile(np.arange(n_in), (n_out, 1))
    strength = np.sqrt((weights.astype(np.float64) ** 2).reshape(n_out, n_in, -1).sum(-1))
    return np.argsort(-strength, axis=1, kind="stable")[:, :n]


def drawn_kernels(weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """[out, m, kh, kw]: each output feature's kernels of the input channels `inputs` [out, m]."""
    return weights[np.arange(len(weights))[:, None], inputs]


def all_inputs_drawn(weights: np.ndarray, inputs: np.ndarray) -> bool:
    return inputs.shape[1] == weights.shape[1]
