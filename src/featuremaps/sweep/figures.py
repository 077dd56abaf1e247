"""The sweep's figure: each chosen metric (a row) against each changed param (a column), its
values in their order along x. Runs whose other settings are equal share a colour: one small
point per seed (the spread) and their mean, joined across the param's values. The reference run
is left out of its own CKA."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from featuremaps.compare.comparison import flat_params
from featuremaps.params import RenderParams
from featuremaps.report.figures import plt, save
from featuremaps.sweep.study import CKA, SEED, Study, setting, sort_key

FIGURE = "sweep.png"
PANEL_INCHES = (3.2, 2.4)


def x_params(s: Study) -> list:
    """The params drawn along x: every changed one but seed, or seed when it alone changed."""
    return [k for k in s.changed if k != SEED] or [SEED]


def sweep_inches(s: Study, metrics: list) -> tuple[float, float]:
    """(width, height) of sweep_figure, known before drawing (for the pixel budget)."""
    return PANEL_INCHES[0] * len(x_params(s)) + 0.6, PANEL_INCHES[1] * len(metrics) + 0.8


def _label(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def sweep_figure(path: Path, s: Study, metrics: list, render: RenderParams) -> None:
    params = x_params(s)
    fig, axes = plt.subplots(len(metrics), len(params), figsize=sweep_inches(s, metrics), layout="constrained",
                             squeeze=False)
    colours = plt.get_cmap("tab10")
    values = {run.name: s.values(run) for run in s.runs}
    for j, param in enumerate(params):
        # the param's values in the order runs sort by (numbers as numbers)
        order = []
        for run in sorted(s.runs, key=lambda r: sort_key(r, [param])):
            v = _label(flat_params(run.params).get(param))
            if v not in order:
                order.append(v)
        others = [k for k in s.changed if k not in (param, SEED)]
        settings = list(dict.fromkeys(setting(run, others + [param], param) for run in s.runs))
        for i, metric in enumerate(metrics):
            ax = axes[i, j]
            for c, key in enumerate(settings):
                members = [r for r in s.runs if setting(r, others + [param], param) == key]
                xs, ys = [], []
                for run in members:
                    if run is s.ref and metric.endswith(f".{CKA}"):
                        continue  # its CKA to itself says nothing
                    y = values[run.name].get(metric)
                    if y is None or not np.isfinite(y):
                        continue
                    xs.append(order.index(_label(flat_params(run.params).get(param))))
                    ys.append(float(y))
                if not xs:
                    continue
                colour = colours(c % 10)
                shift = (c - (len(settings) - 1) / 2) * min(0.08, 0.4 / len(settings))  # settings side by side
                ax.scatter(np.array(xs) + shift, ys, s=12, alpha=0.55, color=colour, linewidths=0)
                at = sorted(set(xs))
                means = [float(np.mean([y for x, y in zip(xs, ys) if x == a])) for a in at]
                at = [a + shift for a in at]
                label = ", ".join(f"{k}={_label(v)}" for k, v in json.loads(key)) or "mean"
                ax.plot(at, means, "o-", color=colour, markersize=5, linewidth=1.2, label=label)
            ax.set_xticks(range(len(order)), order, fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(alpha=0.3)
            if j == 0 or len(params) > 1:
                ax.set_ylabel(metric, fontsize=8)
            if i == len(metrics) - 1:
                ax.set_xlabel(param, fontsize=8)
            if i == 0 and len(settings) > 1:
                ax.legend(fontsize=6, loc="best")
    fig.suptitle(f"{len(s.runs)} runs: points are runs (seeds), lines their means", fontsize=9)
    save(fig, path, render.dpi)
