"""The sweep's page, in the explorer's style and offline (one file, a figure beside it): every run
with the params it changed and its numbers, each layer's CKA to the reference and the seed-to-seed
floor, the metric-against-param figure, and for each run its compare page against the reference
(linked where `featuremaps compare` made it, else the command that makes it)."""
from __future__ import annotations

import html
import json
import os
import shlex
from pathlib import Path

import numpy as np

from featuremaps.compare.page import table_html
from featuremaps.drawing.web import STYLE
from featuremaps.sweep.figures import FIGURE
from featuremaps.sweep.study import CKA, Study, number_text


def _param(value) -> str:
    """A param as params.yaml gives it (0.001, not a metric's 0.0010)."""
    return html.escape(json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value))


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
    return f"<code>{html.escape(shlex.join(['featuremaps', 'compare', s.ref.name, name]))}</code>"


def page_html(s: Study, metrics: list, pages: dict, out: Path) -> str:
    """`metrics`: the columns beside the params (those drawn); `pages`: run name -> where its compare page
    against the reference is (or would be) written."""
    rows = [[html.escape(run.name), f"<code>{run.commit[:10]}</code>", *[_param(run.flat.get(k)) for k in s.changed],
             *[number_text(s.numbers[run.name].get(m)) for m in metrics], compare_cell(s, run.name, pages, out)]
            for run in s.runs]
    runs = table_html(["run", "commit", *s.changed, *metrics, "against the reference"], rows, escape=False)
    every = s.metric_names()
    numbers = table_html(["run", *every], [[r.name, *[number_text(s.numbers[r.name].get(m)) for m in every]]
                                           for r in s.runs])
    floor_rows = [[", ".join(f"{k}={json.dumps(v)}" for k, v in g.setting.items()) or "the same", ", ".join(g.runs),
                   *[f"{number_text(float(np.mean(g.cka[layer])))} (lowest {number_text(min(g.cka[layer]))})"
                     if g.cka[layer] else "-" for layer in s.layers]] for g in s.groups]
    floor = table_html(["settings but seed", "runs", *s.layers], floor_rows) if floor_rows else \
        "<p>No two runs here differ in <code>seed</code> alone: queue some (<code>-S 'seed=range(0,5)'</code>) to " \
        "see how far a change of seed moves each layer.</p>"
    title = f"{len(s.runs)} runs against {s.ref.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>featuremaps sweep: {html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}{EXTRA_STYLE}</style></head>
<body>
<h1>Sweep: {html.escape(title)}</h1>
<p class="sub">{html.escape(str(s.ref.meta.get('dataset')))}, the same {s.ref.representation.n_images:,} images in every run; params
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
