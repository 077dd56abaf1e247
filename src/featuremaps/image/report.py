"""The images command's work: prepare each image, run the model once over all of them, draw a
figure per image on every core, and write the page and the numbers. An image that cannot be
used is reported in one line and skipped; the others are still done."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featuremaps.files import safe_name, write_json, write_text
from featuremaps.image.figure import image_figure, thumbnail
from featuremaps.image.page import NUMBERS, PAGE, image_record, page_html
from featuremaps.image.prepare import ImageError, opened_image, prepared_input
from featuremaps.image.response import response
from featuremaps.params import RenderParams
from featuremaps.report.pool import fork_map

DIGITS_MARGIN = 4  # of 28 pixels: MNIST's digits fit a 20x20 box; Fashion-MNIST's items fill the frame


def default_margin(classes: list, size: tuple) -> int:
    """For digits (classes named from their digit, as MNIST's "0 - zero"), MNIST's margin scaled to
    the input size; for anything else, such as Fashion-MNIST's items, none."""
    digits = all(str(name)[:1].isdigit() for name in classes)
    return round(DIGITS_MARGIN * min(size) / 28) if digits else 0


@dataclass
class Prepared:
    path: Path
    original: np.ndarray
    grey: np.ndarray
    notes: list


def figure_names(paths: list) -> list:
    """<stem>.png for each path; a repeated stem gets -2, -3, ..."""
    names, seen = [], {}
    for path in paths:
        stem = safe_name(Path(path).stem, "image")
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}-{seen[stem]}.png")
    return names


def prepared_images(paths: list, size: tuple, margin: int) -> tuple[list, list]:
    """([Prepared], [one-line errors]) in the order given."""
    done, errors = [], []
    for path in paths:
        try:
            image = opened_image(path)
            grey, notes = prepared_input(image, size, margin)
            done.append(Prepared(Path(path), thumbnail(image), grey, notes))
        except ImageError as exc:
            errors.append(str(exc))
    return done, errors


def write_image_report(images: list, model, ckpt: dict, model_name: str, out: Path, render: RenderParams,
                       activation: str) -> list:
    """Figures, page and numbers of the prepared `images` under `out`; returns their records."""
    classes = ckpt["classes"]
    seen = response(model, np.stack([p.grey for p in images]), ckpt["mean"], ckpt["std"], activation)
    names = figure_names([p.path for p in images])

    def draw(i):
        p = images[i]
        image_figure(out / names[i], render, p.path.name, p.original, p.grey, p.notes, seen.probabilities[i],
                     classes, {layer: m[i] for layer, m in seen.maps.items()},
                     {layer: c[i] for layer, c in seen.gradcam.items()}, activation)

    out.mkdir(parents=True, exist_ok=True)
    fork_map(draw, list(range(len(images))))
    records = [image_record(p.path.name, names[i], p.notes, seen.probabilities[i], classes)
               for i, p in enumerate(images)]
    write_json(out / NUMBERS, {"model": model_name, "activation": activation, "images": records})
    write_text(out / PAGE, page_html(records, model_name))
    return records
