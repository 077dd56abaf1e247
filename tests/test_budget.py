"""The pixel budget: a figure's size is known before drawing, and settings that would make one
too large stop render with the largest values that fit (checked against hand computation and
a brute-force search)."""
import dataclasses
from pathlib import Path

import pytest

from featuremaps.errors import ParamsError
from featuremaps.params import RenderParams
from featuremaps.report import figures
from featuremaps.drawing.budget import check_pixel_budget, fits, pixel_size
from featuremaps.report.catalogue import Figure, render_figures

OUT = Path("reports/figures")


def record(file, inches):
    return Figure(file, "t", "h", "c", draw=None, inches=inches)


def grid(rows, cols):
    return record("grid.png", lambda p: figures.grid_figsize(rows, cols, p.tile_inches))


def refusal(figs, params) -> str:
    with pytest.raises(ParamsError) as info:
        check_pixel_budget(figs, params, OUT)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_defaults_fit_and_the_size_is_inches_times_dpi():
    p = RenderParams()
    g = grid(10, 17)
    assert pixel_size(g, p) == (1770, 1030)  # (17 x 0.9 + 2.4, 10 x 0.9 + 1.3) inches at 100 dpi
    check_pixel_budget([g], p, OUT)


def test_large_tiles_and_dpi_are_refused_with_what_fits():
    p = RenderParams(dpi=600, tile_inches=10.0)
    g = grid(10, 17)
    text = refusal([g, record("small.png", lambda p: (2, 2))], p)
    # (17 x 10 + 2.4, 10 x 10 + 1.3) = (172.4, 101.3) inches at 600 dpi
    assert text.startswith("params.yaml: render.dpi = 600 and render.tile_inches = 10.0 make "
                           "reports/figures/grid.png 103,440 x 60,780 pixels; at most 8,000 a side and 40 megapixels")
    # by hand: 172.4 x dpi <= 8000 -> 46; (17 t + 2.4) x 600 <= 8000 -> t <= 0.643
    assert text.endswith("every figure fits at render.dpi <= 46 or render.tile_inches <= 0.64")
    # and by brute force over the allowed values
    best_dpi = max(d for d in range(30, 601) if fits(g, dataclasses.replace(p, dpi=d)))
    best_tile = max(t for t in range(10, 1001) if fits(g, dataclasses.replace(p, tile_inches=t / 100)))
    assert (best_dpi, best_tile / 100) == (46, 0.64)


def test_only_the_settings_that_size_the_figure_are_named():
    text = refusal([record("fixed.png", lambda p: (100, 3))], RenderParams(dpi=100))
    assert "render.dpi = 100 make reports/figures/fixed.png 10,000 x 300 pixels" in text
    assert text.endswith("every figure fits at render.dpi <= 80") and "tile_inches" not in text


def test_the_area_limit_counts_too():
    text = refusal([record("square.png", lambda p: (70, 70))], RenderParams(dpi=100))  # 7,000 a side, 49 MP
    assert "7,000 x 7,000 pixels" in text and text.endswith("render.dpi <= 90")  # 6,300^2 = 39.7 MP


def test_a_figure_no_setting_can_shrink():
    text = refusal([record("huge.png", lambda p: (300, 1))], RenderParams(dpi=100))
    assert text.endswith("no render setting alone makes it fit")


def test_render_checks_every_size_before_drawing_any(tmp_path):
    drawn = []
    draw = lambda path, params, figsize, heading: drawn.append(path)  # noqa: E731
    small = Figure("small.png", "t", "h", "c", draw, lambda p: (2, 2))
    large = Figure("large.png", "t", "h", "c", draw, lambda p: (100, 2))
    with pytest.raises(ParamsError, match="large.png 10,000 x 200 pixels"):
        render_figures([small, large], RenderParams(dpi=100), tmp_path)
    assert drawn == []
    out = tmp_path / "figures"
    out.mkdir()
    (out / "conv3_feature_maps.png").write_bytes(b"a layer the network no longer has")
    assert render_figures([small], RenderParams(dpi=100), out) == [small] and [p.name for p in drawn] == ["small.png"]
    assert not out.exists() or list(out.iterdir()) == []  # drawn into a new folder that replaced it (the stub draws nothing)
    assert not [p for p in tmp_path.iterdir() if p.name != "figures"]  # no temporary folder left
