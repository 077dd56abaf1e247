"""The images command's page and numbers: index.html (each image's figure and its top classes,
in the explorer's style, opening from disk with no network) and images.json."""
from __future__ import annotations

import html

import numpy as np

from featuremaps.drawing.web import STYLE

PAGE = "index.html"
NUMBERS = "images.json"
SHOWN_CLASSES = 3


def image_record(name: str, figure: str, notes: list, probabilities: np.ndarray, classes: list) -> dict:
    best = int(np.argmax(probabilities))
    return {"file": name, "figure": figure, "prediction": classes[best], "class": best,
            "probability": float(probabilities[best]), "notes": notes,
            "probabilities": {c: float(p) for c, p in zip(classes, probabilities)}}


def summary_line(record: dict) -> str:
    return f"{record['file']}: {record['prediction']} ({record['probability']:.1%}); {', '.join(record['notes'])}"


def page_html(records: list, model: str) -> str:
    items = []
    for r in records:
        top = sorted(r["probabilities"].items(), key=lambda kv: -kv[1])[:SHOWN_CLASSES]
        rows = "".join(f"<tr><td>{html.escape(c)}</td><td>{p:.1%}</td></tr>" for c, p in top)
        items.append(f'<section id="{html.escape(r["figure"])}"><h2>{html.escape(r["file"])}: '
                     f'{html.escape(r["prediction"])}</h2><p class="sub">{html.escape("; ".join(r["notes"]))}</p>'
                     f'<table><tr><th>class</th><th>probability</th></tr>{rows}</table>'
                     f'<figure><img src="{html.escape(r["figure"])}" alt="{html.escape(r["file"])}"></figure></section>')
    nav = "".join(f'<a href="#{html.escape(r["figure"])}">{html.escape(r["file"])}</a>' for r in records)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>featuremaps: your images</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>What the network sees in your images</h1>
<p class="sub">model: {html.escape(model)}. Each image is shown as given and as the model was given it (at its input
size; for a grey model, grey and light on dark like the training digits), with each class's probability, the feature maps of every conv layer and where the
evidence for the predicted class lies (Grad-CAM).</p>
<nav>{nav}</nav>
{''.join(items)}
</body></html>
"""
