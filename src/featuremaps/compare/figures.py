"""The comparison's figure: the CKA matrix of every pair of layers, and each compared layer's
channel correlations with B's channels reordered by the matching, so matched pairs lie on the
diagonal."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from featuremaps.compare.comparison import Comparison
from featuremaps.params import RenderParams
from featuremaps.report.figures import plt, save

CELL_INCHES = 0.32
CKA_CELL_INCHES = 0.55  # the CKA matrix's cells, when it has a row of its own


def matched_order(c: Comparison, layer: str) -> list:
    """B's channels (from 1) in the order of A's rows: A's partner for each row, then the rest."""
    m = c.matches[layer]
    partner = {a: b for a, b, _ in m.pairs}
    n_a, n_b = m.correlation.shape
    order = [partner[a] for a in range(1, n_a + 1) if a in partner]
    return order + [b for b in range(1, n_b + 1) if b not in order]


def _widths(c: Comparison) -> list:
    return [max(len(c.b.layers), 2)] + [c.matches[layer].correlation.shape[1] for layer in c.layers]


def same_layers(c: Comparison) -> bool:
    """Do both sides have the same layers (one architecture)? Then the CKA matrix sits beside the channel
    correlations; else (two architectures) it has a row of its own above them, with room for long names."""
    return c.a.layers == c.b.layers


def _cka_inches(c: Comparison) -> tuple[float, float]:
    names = max(map(len, c.a.layers + c.b.layers)) * 0.09  # the rotated names' room
    return len(c.b.layers) * CKA_CELL_INCHES + names + 2.8, len(c.a.layers) * CKA_CELL_INCHES + names + 1.2


def _correlation_inches(c: Comparison) -> tuple[float, float]:
    widths = _widths(c)[1:]
    height = max([c.matches[layer].correlation.shape[0] for layer in c.layers], default=0)
    return sum(widths) * CELL_INCHES + 2.5 * len(widths), height * CELL_INCHES + 1.6


def similarity_inches(c: Comparison) -> tuple[float, float]:
    """(width, height) of similarity_figure, known before drawing (for the pixel budget)."""
    if same_layers(c):
        widths = _widths(c)
        height = max([len(c.a.layers)] + [c.matches[layer].correlation.shape[0] for layer in c.layers])
        return sum(widths) * CELL_INCHES + 2.5 * len(widths), height * CELL_INCHES + 2.2
    (w1, h1), (w2, h2) = _cka_inches(c), _correlation_inches(c) if c.layers else (0, 0)
    return max(w1, w2), h1 + h2 + 0.6


def _cka_panel(fig, ax, c: Comparison, render: RenderParams) -> None:
    la, lb = c.a.layers, c.b.layers
    cka = np.array([[c.cka[a][b] for b in lb] for a in la], dtype=np.float64)
    im = ax.imshow(cka, cmap=render.cmap, vmin=0, vmax=1)
    for i in range(len(la)):
        for j in range(len(lb)):
            ax.text(j, i, "-" if np.isnan(cka[i, j]) else f"{cka[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if not np.isnan(cka[i, j]) and cka[i, j] < 0.6 else "black")
    ax.set_xticks(range(len(lb)), lb, rotation=90 if max(map(len, lb)) > 5 else 0)  # module paths are long
    ax.set_yticks(range(len(la)), la)
    ax.set_xlabel(f"B: {c.b.name}")
    ax.set_ylabel(f"A: {c.a.name}")
    ax.set_title("linear CKA" if same_layers(c) else "linear CKA, every layer of A with every layer of B", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.6)


def _correlation_panels(fig, axes, c: Comparison, render: RenderParams) -> None:
    cmap = plt.get_cmap(render.diverging_cmap).with_extremes(bad="#cccccc")
    for ax, layer in zip(axes, c.layers):
        order = matched_order(c, layer)
        corr = c.matches[layer].correlation[:, np.array(order) - 1]
        im = ax.imshow(corr, cmap=cmap, vmin=-1, vmax=1)
        p, q = corr.shape
        for a, b, r in c.matches[layer].pairs:  # the matched pairs lie on the diagonal
            ax.text(order.index(b), a - 1, f"{r:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if abs(r) > 0.6 else "black")
        ax.set_xticks(range(q), order, fontsize=7)
        ax.set_yticks(range(p), range(1, p + 1), fontsize=7)
        ax.set_xlabel(f"B's channel ({c.b.name}), reordered")
        ax.set_ylabel(f"A's channel ({c.a.name})")
        ax.set_title(f"{layer}: correlation, CKA {c.cka[layer][layer]:.2f}", fontsize=10)
    if c.layers:
        fig.colorbar(im, ax=axes[-1], shrink=0.6, label="correlation over the images")


def similarity_figure(path: Path, c: Comparison, render: RenderParams) -> None:
    fig = plt.figure(figsize=similarity_inches(c), layout="constrained")
    if same_layers(c):
        axes = fig.subplots(1, 1 + len(c.layers), width_ratios=_widths(c), squeeze=False)[0]
        _cka_panel(fig, axes[0], c, render)
        _correlation_panels(fig, axes[1:], c, render)
    else:
        (w, _), (w1, h1) = similarity_inches(c), _cka_inches(c)
        top, bottom = fig.subfigures(2, 1, height_ratios=[h1, _correlation_inches(c)[1]]) if c.layers else (fig, None)
        if w > w1 + 0.5:  # the matrix at its own size, on the left
            top = top.subfigures(1, 2, width_ratios=[w1, w - w1])[0]
        _cka_panel(top, top.subplots(), c, render)
        if c.layers:
            _correlation_panels(bottom, bottom.subplots(1, len(c.layers), width_ratios=_widths(c)[1:], squeeze=False)[0],
                                c, render)
    fig.suptitle(f"{c.a.name} vs {c.b.name}: {c.a.meta['dataset']}, {c.a.n_images:,} images", fontsize=11)
    save(fig, path, render.dpi)
