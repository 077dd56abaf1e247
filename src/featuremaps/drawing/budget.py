"""The pixel budget: every figure's size is computed from the render params before anything is
drawn, and a figure too large to draw in reasonable memory and time stops the stage with one line.

A figure's pixels are its inches (from its record) x render.dpi. The line names the
settings that make it that large and, for each, the largest value at which every figure fits.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from featuremaps.errors import ParamsError
from featuremaps.params import RenderParams

MAX_SIDE = 8_000           # pixels on either side
MAX_PIXELS = 40_000_000    # width x height

# The render settings a figure's size can depend on, searched for the largest value that fits.
SIZE_SETTINGS = ("dpi", "tile_inches", "n_samples")


@dataclasses.dataclass(frozen=True)
class Sized:
    """A figure outside render's catalogue (compare's, image's): its file name and its size in
    inches from the render params, all the budget needs."""
    file: str
    inches: object  # RenderParams -> (width, height)


def pixel_size(figure, params: RenderParams) -> tuple[int, int]:
    # Agg truncates inches x dpi to whole pixels
    w, h = figure.inches(params)
    return int(w * params.dpi + 1e-6), int(h * params.dpi + 1e-6)


def fits(figure, params: RenderParams) -> bool:
    w, h = pixel_size(figure, params)
    return max(w, h) <= MAX_SIDE and w * h <= MAX_PIXELS


def _range(name: str) -> tuple:
    spec = next(f for f in dataclasses.fields(RenderParams) if f.name == name).metadata
    return spec["low"], spec["high"]


def largest_fitting(figures: list, params: RenderParams, name: str):
    """The largest value of setting `name` (others as they are) at which every figure fits; None if none."""
    low, current = _range(name)[0], getattr(params, name)
    at = lambda v: all(fits(f, dataclasses.replace(params, **{name: v})) for f in figures)  # noqa: E731
    if not at(low):
        return None
    if isinstance(current, int):
        lo, hi = low, current  # at(lo) holds, at(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if at(mid) else (lo, mid)
        return lo
    lo, hi = round(low * 100), round(current * 100)  # hundredths
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if at(mid / 100) else (lo, mid)
    return lo / 100


def check_pixel_budget(figures: list, params: RenderParams, out: Path) -> None:
    """ParamsError naming the largest figure over budget, the settings that size it and what fits."""
    over = [f for f in figures if not fits(f, params)]
    if not over:
        return
    worst = max(over, key=lambda f: pixel_size(f, params)[0] * pixel_size(f, params)[1])
    w, h = pixel_size(worst, params)
    # The settings that change the size of a figure over budget.
    sizing = [name for name in SIZE_SETTINGS if name == "dpi" or any(
        f.inches(dataclasses.replace(params, **{name: _range(name)[0]})) != f.inches(params) for f in over)]
    now = " and ".join(f"render.{name} = {getattr(params, name)}" for name in sizing)
    remedies = [f"render.{name} <= {value}" for name in sizing
                if (value := largest_fitting(figures, params, name)) is not None]
    fix = (f"every figure fits at {' or '.join(remedies)}" if remedies
           else "no render setting alone makes it fit")
    raise ParamsError(f"params.yaml: {now} make {out / worst.file} {w:,} x {h:,} pixels; at most "
                      f"{MAX_SIDE:,} a side and {MAX_PIXELS // 1_000_000} megapixels are drawn; {fix}")
