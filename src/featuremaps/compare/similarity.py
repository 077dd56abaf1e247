"""Each channel's best partner in another run's layer, on the same images (one row per image in the
same order on both sides: here one number per channel and image, extract's per_image.parquet, so a
layer is an [images, channels] matrix). How alike whole layers are is featuremaps.analysis.cka.

- channel_match (match_channels on whole arrays): Pearson correlation of every channel of one side with every channel of the
  other, and the one-to-one matching that maximises the total correlation (the Hungarian method,
  scipy.optimize.linear_sum_assignment). A channel that is constant over all images (dead) has
  no correlation and takes no part; a matched pair under the threshold counts as no good match.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from featuremaps.analysis.cka import Moments, OwnSums, moments_of


def live_channels(sums: OwnSums, n: int) -> np.ndarray:
    """Boolean per column: does it vary over the images (a constant one is dead)?"""
    return np.sqrt(np.diag(sums.xx) / max(n, 1)) > 1e-12 * np.maximum(1.0, sums.peak)


def correlation_of(m: Moments) -> np.ndarray:
    """Pearson correlation [p, q] of every column of X with every column of Y; NaN for a dead column."""
    live_x, live_y = live_channels(m.x, m.n), live_channels(m.y, m.n)
    sx, sy = np.sqrt(np.diag(m.x.xx) / m.n), np.sqrt(np.diag(m.y.xx) / m.n)
    scale = m.n * np.outer(np.where(live_x, sx, 1.0), np.where(live_y, sy, 1.0))
    corr = np.where(np.outer(live_x, live_y), m.yx.T / scale, np.nan)
    return np.clip(corr, -1.0, 1.0)


def correlation_matrix(x, y) -> np.ndarray:
    """correlation_of two whole representations [n, p] and [n, q]."""
    return correlation_of(moments_of(x, y))


@dataclass
class ChannelMatch:
    """Channels numbered from 1, as the figures print them."""
    correlation: np.ndarray     # [p, q], NaN where a channel is dead
    pairs: list                 # (a, b, correlation) of the matching, a ascending
    weak: list                  # the pairs with correlation under the threshold
    unmatched_a: list           # live channels of A with no partner (B has fewer live ones)
    unmatched_b: list
    dead_a: list
    dead_b: list

    @property
    def mean_correlation(self) -> float:
        return float(np.mean([r for _, _, r in self.pairs])) if self.pairs else float("nan")

    def no_good_match(self, side: str) -> list:
        """Channels of side 'a' or 'b' without a partner correlated at least at the threshold."""
        i = 0 if side == "a" else 1
        weak = [pair[i] for pair in self.weak]
        rest = self.unmatched_a if side == "a" else self.unmatched_b
        return sorted(weak + rest)


def match_channels(x, y, threshold: float) -> ChannelMatch:
    """channel_match of two whole representations [n, p] and [n, q]."""
    return channel_match(moments_of(x, y), threshold)


def channel_match(m: Moments, threshold: float) -> ChannelMatch:
    """The one-to-one matching of X's columns to Y's that maximises the sum of their correlations."""
    corr = correlation_of(m)
    alive_a, alive_b = live_channels(m.x, m.n), live_channels(m.y, m.n)
    live_a, live_b = np.flatnonzero(alive_a), np.flatnonzero(alive_b)
    rows, cols = linear_sum_assignment(corr[np.ix_(live_a, live_b)], maximize=True)
    pairs = [(int(live_a[r]) + 1, int(live_b[c]) + 1, float(corr[live_a[r], live_b[c]])) for r, c in zip(rows, cols)]
    matched_a = {a for a, _, _ in pairs}
    matched_b = {b for _, b, _ in pairs}
    return ChannelMatch(
        correlation=corr,
        pairs=pairs,
        weak=[p for p in pairs if p[2] < threshold],
        unmatched_a=[int(a) + 1 for a in live_a if a + 1 not in matched_a],
        unmatched_b=[int(b) + 1 for b in live_b if b + 1 not in matched_b],
        dead_a=[int(a) + 1 for a in np.flatnonzero(~alive_a)],
        dead_b=[int(b) + 1 for b in np.flatnonzero(~alive_b)],
    )
