"""The sweep's figure: each chosen metric (a row) against each changed param (a column), its
values in their order along x. Runs whose other settings are equal share a colour: one small
point per seed (the spread) and their mean, joined across the param's values. The reference run
is left out of its own CKA."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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


def _setting_points(ax, s: Study, members: list, metric: str, x_of: dict, colour, shift: float, label: str) -> None:
    """One setting's runs on one panel: a point per run, a line through the mean at each x."""
    points = [(x_of[run.name], float(y)) for run in members
              if not (run is s.ref and metric.endswith(f".{CKA}"))  # its CKA to itself says nothing
              and (y := s.numbers[run.name].get(metric)) is not None and np.isfinite(y)]
    if not points:
        return
    xs, ys = np.array(points).T
    ax.scatter(xs + shift, ys, s=12, alpha=0.55, color=colour, linewidths=0)
    at = sorted(set(xs))
    ax.plot([a + shift for a in at], [ys[xs == a].mean() for a in at], "o-", color=colour, markersize=5,
            linewidth=1.2, label=label)


def sweep_figure(path: Path, s: Study, metrics: list, render: RenderParams) -> None:
    params = x_params(s)
    fig, axes = plt.subplots(len(metrics), len(params), figsize=sweep_inches(s, metrics), layout="constrained",
                             squeeze=False)
    colours = plt.get_cmap("tab10")
    for j, param in enumerate(params):
        # the param's values along x in the order runs sort by (numbers as numbers)
        order = list(dict.fromkeys(_label(run.flat.get(param)) for run in sorted(s.runs, key=lambda r: sort_key(r, [param]))))
        x_of = {run.name: order.index(_label(run.flat.get(param))) for run in s.runs}
        others = [k for k in s.changed if k not in (param, SEED)]
        settings = {}  # the other settings -> their runs
        for run in s.runs:
            settings.setdefault(setting(run, others, param), []).append(run)
        for i, metric in enumerate(metrics):
            ax = axes[i, j]
            for c, (key, members) in enumerate(settings.items()):
                shift = (c - (len(settings) - 1) / 2) * min(0.08, 0.4 / len(settings))  # settings side by side
                label = ", ".join(f"{k}={_label(v)}" for k, v in json.loads(key)) or "mean"
                _setting_points(ax, s, members, metric, x_of, colours(c % 10), shift, label)
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
