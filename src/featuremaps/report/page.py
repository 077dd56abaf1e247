"""reports/index.html: an overview (dataset, metrics, a grid of every feature and class, every
figure with how to read it, the params) and the explorer's views per feature (#conv2/7) and per
class (#class/3), drawn by the page's script from explorer.js. No network needed, no server."""
from __future__ import annotations

import html
from pathlib import Path

import yaml

from featuremaps.files import write_text
from featuremaps.report.explorer_app import SCRIPT, STYLE

def _table(rows) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def report_html(figures: list, meta: dict, metrics: dict, params: dict, interpretability: dict,
                data_script: str, figure_dir: str = "figures") -> str:
    dataset = [("dataset", meta["dataset"]), ("source", meta["source"] + (
        f" (asked: {meta['requested_source']})" if meta.get("requested_source") != meta["source"] else "")),
               ("images", f"{meta['counts']['train']:,} train, {meta['counts']['val']:,} val "
                          f"({'x'.join(map(str, meta['image_shape']))} pixels)"),
               ("val split", meta["val_split"]), ("classes", ", ".join(meta["classes"]))]
    dataset += [("note", n) for n in meta.get("notes", [])]
    nav = "".join(f'<a href="#{Path(f.file).stem}">{html.escape(f.title)}</a>' for f in figures)
    items = "".join(
        f'<figure id="{Path(f.file).stem}"><h3>{html.escape(f.title)}</h3>'
        f'<img src="{figure_dir}/{f.file}" alt="{html.escape(f.title)}">'
        f"<figcaption>{html.escape(f.caption)}</figcaption></figure>"
        for f in figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>featuremaps report: {html.escape(meta['dataset'])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>What the convolutional layers see</h1>
<p class="sub">{html.escape(meta['dataset'])}: val accuracy {metrics['val_accuracy']:.2%} at epoch
{metrics['best_epoch']} of {metrics['epochs']}</p>
<main id="view" hidden></main>
<div id="overview">
<h2>Features</h2><p class="sub">What each feature looks for (its first optimised input); open one for everything
about it. Links such as <code>#conv2/7</code> can be shared. <span id="draw-link"><a href="#draw">Draw a digit</a> and watch the network respond.</span></p><div id="features"></div>
<h2>Classes</h2><div id="classes"></div>
<h2>Dataset</h2>{_table(dataset)}
<h2>Metrics</h2>{_table((k, _fmt(v)) for k, v in metrics.items())}
<h2>Interpretability metrics</h2>{_table((f"{layer} {k}", _fmt(v)) for layer, m in interpretability.items()
                                         for k, v in m.items())}
<h2>Figures</h2><nav>{nav}</nav>{items}
<h2>Parameters</h2><pre>{html.escape(yaml.safe_dump(params, sort_keys=False))}</pre>
</div>
<script src="{html.escape(data_script)}"></script>
<script>{SCRIPT}</script>
</body></html>
"""


def write_report(path, figures: list, meta: dict, metrics: dict, params: dict, interpretability: dict,
                 data_script: str) -> None:
    """data_script: the explorer data's path relative to the page."""
    write_text(path, report_html(figures, meta, metrics, params, interpretability, data_script))
