"""The sweep's page, in the explorer's style and offline (one file, a figure beside it): every run
with the params it changed and its numbers, each layer's CKA to the reference and the seed-to-seed
floor, the metric-against-param figure, and for each run its compare page against the reference
(linked where `featuremaps compare` made it, else the command that makes it)."""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from featuremaps.compare.comparison import flat_params
from featuremaps.drawing.web import STYLE
from featuremaps.sweep.figures import FIGURE
from featuremaps.sweep.study import CKA, Study


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4f}"
    return html.escape(json.dumps(value) if isinstance(value, (list, dict)) else str(value))


def _param(value) -> str:
    """A param as params.yaml gives it (0.001, not a metric's 0.0010)."""
    return html.escape(json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value))


def _table(header: list, rows: list) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in rows)
    return f'<div class="wrap"><table><tr>{head}</tr>{body}</table></div>'


EXTRA_STYLE = """
td, th { white-space: nowrap; } td code { font-size: 0.8rem; }
"""


def compare_cell(s: Study, name: str, pages: dict, out: Path) -> str:
    """A link to the run's compare page against the reference, or the command that makes it."""
    if name == s.ref.name:
        return "reference"
    page = pages.get(name)
    if page is not None and page.exists():
        return f'<a href="{html.escape(Path(os.path.relpath(page, out)).as_posix())}">compare page</a>'
    return f"<code>featuremaps compare {html.escape(s.ref.name)} {html.escape(name)}</code>"


def page_html(s: Study, pages: dict, out: Path) -> str:
    """`pages`: run name -> where its compare page against the reference is (or would be) written."""
    shown = ["val_accuracy"] + [f"{layer}.{m}" for layer in s.layers for m in (CKA, "mean_selectivity")]
    rows = []
    for run in s.runs:
        params, values = flat_params(run.params), s.values(run)
        rows.append([html.escape(run.name), f"<code>{run.commit[:10]}</code>",
                     *[_param(params.get(k)) for k in s.changed], *[_cell(values.get(m)) for m in shown],
                     compare_cell(s, run.name, pages, out)])
    runs = _table(["run", "commit", *s.changed, *shown, "against the reference"], rows)
    every = s.metric_names()
    numbers = _table(["run", *every], [[html.escape(r.name), *[_cell(s.values(r).get(m)) for m in every]]
                                       for r in s.runs])
    floor_rows = [[html.escape(", ".join(f"{k}={json.dumps(v)}" for k, v in g.setting.items()) or "the same"),
                   html.escape(", ".join(g.runs)),
                   *[_cell(float(np.mean(g.cka[layer]))) + " (lowest " + _cell(min(g.cka[layer])) + ")"
                     if g.cka[layer] else "-" for layer in s.layers]] for g in s.groups]
    floor = _table(["settings but seed", "runs", *s.layers], floor_rows) if floor_rows else \
        "<p>No two runs here differ in <code>seed</code> alone: queue some (<code>-S 'seed=range(0,5)'</code>) to " \
        "see how far a change of seed moves each layer.</p>"
    title = f"{len(s.runs)} runs against {s.ref.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>featuremaps sweep: {html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}{EXTRA_STYLE}</style></head>
<body>
<h1>Sweep: {html.escape(title)}</h1>
<p class="sub">{html.escape(str(s.ref.meta.get('dataset')))}, the same {len(s.ref.keys):,} images in every run; params
that differ: {html.escape(', '.join(s.changed) or 'none')}. CKA (<code>&lt;layer&gt;.{CKA}</code>) is each layer's linear CKA
to the reference <b>{html.escape(s.ref.name)}</b> ({s.ref.commit[:10]}), each channel represented in each image by its
strongest unit: 1 for the same information up to a rotation and scale of the channels.</p>
<h2>Runs</h2>
{runs}
<h2>Seed to seed</h2>
<p>Linear CKA between runs whose settings differ only in <code>seed</code> (mean over the pairs, and the lowest): a
difference to the reference smaller than this is no more than a change of seed.</p>
{floor}
<h2>Metrics against params</h2>
<figure><img src="{FIGURE}" alt="metrics against the changed params"><figcaption>Each row a metric, each column a
changed param. Runs whose other settings are equal share a colour; a small point per run (its seed), a large one per
value for their mean.</figcaption></figure>
<h2>Every number</h2>
<p class="muted">metrics.json, interpretability.json per layer, and the CKA to the reference, as read from each run.</p>
{numbers}
</body></html>
"""
