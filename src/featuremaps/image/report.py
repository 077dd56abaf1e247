"""The images command's work: prepare each image, run the model once over all of them, draw a
figure per image on every core, and write the page and the numbers. An image that cannot be
used, whatever the reason (a bad file, a name that is not UTF-8, a failure while drawing), is
reported in one line and skipped; the others are still done."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featuremaps.errors import first_line
from featuremaps.files import safe_name, write_json, write_text
from featuremaps.image.figure import image_figure, image_inches, thumbnail
from featuremaps.image.page import NUMBERS, PAGE, image_record, page_html
from featuremaps.data.decode import ImageError, opened_image, shown_name
from featuremaps.image.prepare import prepared_colour, prepared_input
from featuremaps.image.response import response
from featuremaps.model.network import conv_layer_names
from featuremaps.model.seam import chosen_layers, is_builtin, map_channels
from featuremaps.params import RenderParams
from featuremaps.drawing.budget import Sized, check_pixel_budget
from featuremaps.drawing.pool import fork_map

@dataclass
class Prepared:
    path: Path
    original: np.ndarray
    pixels: np.ndarray  # what the model is given: uint8 [H, W], or [H, W, 3] for a colour model
    notes: list


def figure_names(paths: list) -> list:
    """<stem>.png for each path; a repeated stem gets -2, -3, ..."""
    names, seen = [], {}
    for path in paths:
        stem = safe_name(shown_name(Path(path).stem), "image")
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}-{seen[stem]}.png")
    return names


def prepared_images(paths: list, size: tuple, margin: int, channels: int = 1) -> tuple[list, list]:
    """([Prepared], [one-line errors]) in the order given: for a grey model made to look like the
    training digits (prepared_input), for a colour one resized as a folder dataset's images are."""
    done, errors = [], []
    for path in paths:
        try:
            image = opened_image(path)
            pixels, notes = prepared_input(image, size, margin) if channels == 1 else prepared_colour(image, size)
            done.append(Prepared(Path(path), thumbnail(image), pixels, notes))
        except ImageError as exc:
            errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001: one file's problem, whatever raised it, never stops the rest
            errors.append(f"{shown_name(path)}: cannot be used ({type(exc).__name__}: {first_line(exc)})")
    return done, errors


def image_layers(model, extract_layers, image_shape) -> list:
    """The layers an image's figure shows: the builtin network's every conv layer; another model's
    extract.layers (as the run analysed it; `all`: every conv call)."""
    return conv_layer_names(model) if is_builtin(model) else chosen_layers(model, extract_layers, image_shape)


def check_figure_budget(model, layers: list, image_shape, n_classes: int, render: RenderParams, out: Path) -> None:
    """ParamsError before any work when an image's figure would exceed render's pixel budget (at most
    render.figure_features maps of a layer are drawn)."""
    n_maps = [min(n, render.figure_features) for n in map_channels(model, layers, image_shape).values()]
    check_pixel_budget([Sized("<image>.png", lambda p: image_inches(n_maps, n_classes))], render, out)


def write_image_report(images: list, model, ckpt: dict, model_name: str, out: Path, render: RenderParams,
                       activation: str, layers: list) -> tuple[list, list]:
    """Figures, page and numbers of the prepared `images` under `out`: (records of those drawn,
    one-line errors for those that could not be)."""
    classes = ckpt["classes"]
    seen = response(model, np.stack([p.pixels for p in images]), activation, layers)
    shown = render.figure_features
    names = figure_names([p.path for p in images])

    def draw(i):
        p = images[i]
        try:
            image_figure(out / names[i], render, shown_name(p.path.name), p.original, p.pixels, p.notes,
                         seen.probabilities[i], classes, {layer: m[i, :shown] for layer, m in seen.maps.items()},
                         {layer: c[i] for layer, c in seen.gradcam.items()}, activation,
                         {layer: m.shape[1] for layer, m in seen.maps.items()})
        except Exception as exc:  # noqa: BLE001: reported for this image; the others are still drawn
            return f"{shown_name(p.path)}: its figure could not be drawn ({type(exc).__name__}: {first_line(exc)})"
        return None

    out.mkdir(parents=True, exist_ok=True)
    failed = fork_map(draw, list(range(len(images))))
    records = [image_record(shown_name(p.path.name), names[i], p.notes, seen.probabilities[i], classes)
               for i, p in enumerate(images) if failed[i] is None]
    if records:
        write_json(out / NUMBERS, {"model": model_name, "activation": activation, "images": records})
        write_text(out / PAGE, page_html(records, model_name))
    return records, [line for line in failed if line]
