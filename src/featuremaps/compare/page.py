"""The comparison's page: the two revisions, what changed between them, the similarity figure,
and every matched pair of features side by side (their feature visualizations, top examples
with the strongest unit's box, mean map per class), drawn in the explorer's style from data
inlined in the page, so the one file opens from disk with no network and no server."""
from __future__ import annotations

import html
import json

from featuremaps.analysis.feature_vis_store import layer_visualization
from featuremaps.analysis.store import layer_class_means
from featuremaps.compare import REPRESENTATIONS
from featuremaps.compare.comparison import Comparison, changed_params, json_number, most_similar
from featuremaps.compare.sides import Side
from featuremaps.params import RenderParams
from featuremaps.drawing.encode import b64, colour_table_b64, scaled_b64
from featuremaps.drawing.web import HELPERS, STYLE

FIGURE = "similarity.png"


def feature_view(side: Side, layer: str, feature: int, split_images: dict) -> dict:
    """What the page shows of one feature (numbered from 1) of one side."""
    f = feature - 1
    vis = side.visualizations
    top = side.top_k[(side.top_k["layer"] == layer) & (side.top_k["feature"] == feature)].sort_values("rank")
    class_means = layer_class_means(side.class_means, layer)
    means, top_value = scaled_b64(class_means[:, f])
    classes = side.meta["classes"]
    return {
        "vis": [b64(image) for image in layer_visualization(vis, layer).images[f]] if vis is not None else [],
        "top": [{"image": b64(split_images[r.split][r.index]), "label": classes[r.label],
                 "box": [int(r.top), int(r.left), int(r.bottom), int(r.right)]} for r in top.itertuples()],
        "class_means": {"data": means, "max": top_value, "shape": list(class_means.shape[2:])},
    }


def page_data(c: Comparison, render: RenderParams, split_images: dict) -> dict:
    layers = []
    for layer in c.layers:
        m = c.matches[layer]
        n_a, n_b = m.correlation.shape
        layers.append({
            "name": layer, "cka": json_number(c.cka[layer][layer]),
            "pairs": [{"a": a, "b": b, "r": r, "weak": r < c.threshold} for a, b, r in m.pairs],
            "alone_a": m.unmatched_a + m.dead_a, "alone_b": m.unmatched_b + m.dead_b,
            "dead_a": m.dead_a, "dead_b": m.dead_b,
            "a": {n: feature_view(c.a, layer, n, split_images) for n in range(1, n_a + 1)},
            "b": {n: feature_view(c.b, layer, n, split_images) for n in range(1, n_b + 1)},
        })
    return {"classes": c.a.meta["classes"], "image_shape": list(c.a.meta["image_shape"]),
            "channels": int(c.a.meta.get("channels", 1)),
            "cmap": colour_table_b64(render.cmap), "diverging": colour_table_b64(render.diverging_cmap),
            "threshold": c.threshold, "layers": layers}


EXTRA_STYLE = """
.sides { display: flex; gap: 1.5rem; flex-wrap: wrap; } .side { flex: 1 1 430px; }
.side h4 { margin: 0.3rem 0; } .side .grid { margin-bottom: 0.4rem; }
.pair { border-top: 1px solid #ddd; padding-top: 0.3rem; } .weak h3 { color: #b33; }
"""

SCRIPT = r"""
(() => {
  const D = window.FEATURECOMPARE;""" + HELPERS + r"""
  function panel(f, side, layer, n) {
    const box = el("div", {class: "side"}, el("h4", {text: `${side}: ${layer} feature ${n}`}));
    box.append(f.vis.length ? el("div", {class: "grid"}, ...f.vis.map((s, i) => tile(picture(bytes(s), H, W, "image", 0, 2), `seed ${i + 1}`)))
                            : el("p", {class: "muted", text: "no feature visualizations in this revision"}));
    box.append(el("div", {class: "grid"}, ...f.top.map(t => tile(picture(bytes(t.image), H, W, "image", 0, 2), t.label, null, "", t.box, 2))));
    const [mh, mw] = f.class_means.shape, means = bytes(f.class_means.data), px = Math.max(1, Math.round(28 / mh));
    box.append(el("div", {class: "grid"}, ...D.classes.map((name, c) => tile(picture(means, mh, mw, "heat", c * mh * mw, px), name))));
    return box;
  }
  const root = document.getElementById("pairs");
  for (const L of D.layers) {
    root.append(el("h2", {id: L.name, text: `${L.name}: linear CKA ${L.cka === null ? "-" : L.cka.toFixed(3)}`}));
    for (const p of L.pairs) {
      root.append(el("div", {class: "pair" + (p.weak ? " weak" : ""), id: `${L.name}-${p.a}-${p.b}`},
        el("h3", {text: `A ${p.a} \u2194 B ${p.b}: correlation ${p.r.toFixed(3)}` + (p.weak ? ` (under ${D.threshold}: no good match)` : "")}),
        el("div", {class: "sides"}, panel(L.a[p.a], "A", L.name, p.a), panel(L.b[p.b], "B", L.name, p.b))));
    }
    for (const [side, alone, dead] of [["A", L.alone_a, L.dead_a], ["B", L.alone_b, L.dead_b]]) {
      for (const n of alone) {
        root.append(el("div", {class: "pair weak", id: `${L.name}-${side.toLowerCase()}${n}`},
          el("h3", {text: `${side} ${n}: ${dead.includes(n) ? "dead (constant over every image)" : "no partner on the other side"}`}),
          el("div", {class: "sides"}, panel(L[side.toLowerCase()][n], side, L.name, n))));
      }
    }
  }
})();
"""


def table_html(header, rows, escape: bool = True) -> str:
    """A scrollable table; `escape=False` takes cells that are HTML already (links, code)."""
    cell = (lambda v: html.escape(str(v))) if escape else str
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<div class=\"wrap\"><table><tr>{head}</tr>{body}</table></div>"


def _side_row(label: str, side: Side) -> list:
    accuracy = side.metrics.get("val_accuracy")
    return [label, side.name, side.commit[:10], side.family, "-" if accuracy is None else f"{accuracy:.2%}",
            ", ".join(f"{layer} ({side.channels(layer)})" for layer in side.layers)]


def page_html(c: Comparison, data: dict) -> str:
    sides = table_html(["", "revision", "commit", "model", "val accuracy", "extracted layers (channels)"],
                   [_side_row("A", c.a), _side_row("B", c.b)])
    changed = changed_params(c.a.params, c.b.params)
    changes = table_html(["params.yaml key", "A", "B"], changed) if changed else "<p>none</p>"
    summary = []
    for layer in c.layers:
        m = c.matches[layer]
        summary.append([layer, f"{c.cka[layer][layer]:.3f}", f"{c.debiased[layer]:.3f}", f"{c.shuffled[layer]:.4f}",
                        f"{len(m.pairs)} of {len(m.correlation)}",
                        f"{m.mean_correlation:.3f}", ", ".join(map(str, m.no_good_match("a"))) or "-",
                        ", ".join(map(str, m.no_good_match("b"))) or "-"])
    title = f"{c.a.name} vs {c.b.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>featuremaps compare: {html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}{EXTRA_STYLE}</style></head>
<body>
<h1>Features compared: {html.escape(title)}</h1>
<p class="sub">{html.escape(c.a.meta['dataset'])}, the same {c.a.n_images:,} images on both sides; each channel
represented in each image by {REPRESENTATIONS[c.stat]}.</p>
{sides}
<h2>What changed</h2>{changes}
<h2>Layers</h2>
<p>Linear CKA: 1 when B's layer holds the same information as A's up to a rotation and a scale (a permutation of
channels included), lower the more they differ. On a finite number of images it never reaches 0 by chance:
"chance" is the CKA of A against B with B's images shuffled (its exact mean over every order of the images), the floor to read it against;
"debiased" is CKA from the unbiased HSIC estimator (Kornblith et al. 2019), near 0 for unrelated layers. Channels are matched one to one to maximise the summed correlation
(Hungarian method); a pair correlated under {c.threshold:g} is no good match.</p>
{table_html(["layer", "CKA", "debiased", "chance", "matched", "mean correlation", "A: no good match", "B: no good match"], summary)}
<p>Each layer of A and the layer of B most like it (linear CKA), whatever their names: how two architectures' layers
correspond.</p>
{table_html(["layer of A", "most similar layer of B", "CKA"],
            [[la, lb or "-", "-" if lb is None else f"{v:.3f}"] for la, (lb, v) in most_similar(c).items()])}
<figure><img src="{FIGURE}" alt="CKA and matched correlations"><figcaption>Left: CKA of every layer of A with every
layer of B. Then, per layer, the correlation of each of A's channels (rows) with B's (columns), B's reordered so that
each row's partner sits on the diagonal; grey: a dead channel.</figcaption></figure>
<h2>Matched features, side by side</h2>
<p class="muted">Each side: its optimised inputs (one per seed), its top images with the box its strongest unit sees,
and its mean map per class.</p>
<div id="pairs"></div>
<script>window.FEATURECOMPARE = {json.dumps(data, separators=(",", ":"))};</script>
<script>{SCRIPT}</script>
</body></html>
"""
