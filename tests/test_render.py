import re

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib import pyplot as plt
from PIL import Image

from browser import is_blank, open_offline
from conftest import copy_tree, run_stage
from featuremaps.report import figures
from featuremaps.analysis.store import layer_columns, per_image_table
from featuremaps.report.distributions import layer_distribution
from featuremaps.params import params_from_dict

FIGURES = ["samples.png", "training_curves.png", "confusion_matrix.png", "class_feature_selectivity.png",
           "gradcam_examples.png", "gradcam_class_means.png", "channel_ablation.png", "claims.png"] + [
    f"{layer}_{kind}.png" for layer in ("conv1", "conv2")
    for kind in ("feature_maps", "class_means", "filters", "histograms", "top_examples", "feature_vis",
                 "filters_by_epoch")] + ["timelapse_cka.png", "timelapse_selectivity.png"]


@pytest.fixture(scope="module")
def render_params(stage_outputs):
    return params_from_dict(yaml.safe_load((stage_outputs / "params.yaml").read_text())).render


def size_of(png):
    with Image.open(png) as im:
        return im.size


def expected_px(size_in, dpi):
    # Agg truncates inches x dpi to whole pixels
    return (int(size_in[0] * dpi + 1e-6), int(size_in[1] * dpi + 1e-6))


def test_every_figure_is_written_and_not_blank(stage_outputs):
    out = stage_outputs / "reports/figures"
    assert sorted(p.name for p in out.iterdir()) == sorted(FIGURES)
    for name in FIGURES:
        assert not is_blank(out / name), name


def test_figures_of_layers_no_longer_extracted_are_removed(stage_outputs, tmp_path):
    """reports/figures persists across runs, and render replaces it whole: nothing it no longer draws is left
    (the folder is a DVC output of its own, cached whole)."""
    folder = tmp_path / "run"
    copy_tree(stage_outputs, folder)
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["extract"]["layers"] = ["conv1"]
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    (folder / "reports/figures/notes.txt").write_text("not a figure: not the stage's either")
    run_stage(folder, "extract")
    run_stage(folder, "render")
    names = sorted(p.name for p in (folder / "reports/figures").iterdir())
    assert names == sorted(f for f in FIGURES if not f.startswith("conv2_"))


def test_grid_figures_have_the_size_of_their_grid(stage_outputs, render_params):
    out, p = stage_outputs / "reports/figures", render_params
    # 10 classes; conv1 has 6 features, conv2 16; plus the input column.
    assert size_of(out / "conv1_feature_maps.png") == expected_px(figures.grid_figsize(10, 7, p.tile_inches), p.dpi)
    assert size_of(out / "conv2_feature_maps.png") == expected_px(figures.grid_figsize(10, 17, p.tile_inches), p.dpi)
    assert size_of(out / "conv2_class_means.png") == expected_px(figures.grid_figsize(10, 17, p.tile_inches), p.dpi)
    # filters: rows = output features, columns = input channels (at least 3 wide)
    assert size_of(out / "conv2_filters.png") == expected_px(figures.grid_figsize(16, 6, p.tile_inches * 0.6), p.dpi)
    assert size_of(out / "conv1_filters.png") == expected_px(figures.grid_figsize(6, 3, p.tile_inches * 0.6), p.dpi)
    # top examples: one row per feature, k = extract.top_k columns
    assert size_of(out / "conv2_top_examples.png") == expected_px(figures.grid_figsize(16, 4, p.tile_inches * 0.8), p.dpi)
    # feature visualization: one row per feature; 4 seeds, the refined image, the minimising one, then the top examples
    assert size_of(out / "conv2_feature_vis.png") == expected_px(figures.grid_figsize(16, 10, p.tile_inches * 0.8), p.dpi)
    assert size_of(out / "conv2_histograms.png") == expected_px(figures.histogram_figsize(16), p.dpi)
    assert figures.histogram_layout(16) == (4, 4) and figures.histogram_layout(6) == (2, 3)


def test_histogram_bins_cover_the_data(stage_outputs, render_params, tmp_path):
    frame = pd.read_parquet(stage_outputs / "data/activations/per_image.parquet")
    train = frame[frame["split"] == "train"]
    sums = train[layer_columns(frame.columns, "conv2")].to_numpy()
    dist = layer_distribution(per_image_table(stage_outputs / "data/activations/per_image.parquet"), "train",
                              "conv2", 10, render_params.hist_bins)
    assert dist.edges.shape == (16, render_params.hist_bins + 1)
    for j, e in enumerate(dist.edges):
        assert e[0] == sums[:, j].min() and e[-1] == sums[:, j].max()
        # every image falls in a bin: nothing clipped
        assert np.histogram(sums[:, j], bins=e)[0].sum() == len(sums) == dist.counts[j].sum()
    figures.histograms_figure(tmp_path / "h.png", render_params, figures.histogram_figsize(16), "h", dist.edges,
                              [dist.densities(f) for f in range(16)], [str(i) for i in range(10)])
    assert size_of(tmp_path / "h.png") == expected_px(figures.histogram_figsize(16), render_params.dpi)


def test_mosaic_places_tiles_in_a_grid():
    tiles = [np.full((2, 2, 4), v) for v in (0.1, 0.2, 0.3)]
    grid = figures.mosaic(tiles, n_cols=2, tile_px=(4, 4), pad_value=0.9)
    assert grid.shape == (1 + 2 * 5, 1 + 2 * 5, 4)
    assert grid[1, 1, 0] == 0.1 and grid[1, 6, 0] == 0.2 and grid[6, 1, 0] == 0.3
    assert grid[0, 0, 0] == 0.9 and grid[6, 6, 0] == 0.9  # padding and the empty cell


@pytest.mark.parametrize("shared", [True, False])
def test_map_colour_scale_shared_or_per_map(render_params, shared):
    """Two maps, one spanning 0..1 and one 0..10: a shared scale puts the first's maximum at a
    tenth of the colour map, one scale per map at its top."""
    maps = np.zeros((1, 2, 4, 4))
    maps[0, 0] = np.linspace(0, 1, 16).reshape(4, 4)
    maps[0, 1] = np.linspace(0, 10, 16).reshape(4, 4)
    scale = figures.MapScale("relu", shared, "v")
    tiles, _, _ = figures.map_tiles(np.zeros((1, 4, 4)), maps, scale, render_params)
    cmap = plt.get_cmap(render_params.cmap)
    first, second = tiles[1], tiles[2]  # tiles[0] is the input
    np.testing.assert_allclose(first[3, 3], cmap(0.1 if shared else 1.0))
    np.testing.assert_allclose(second[3, 3], cmap(1.0))
    np.testing.assert_allclose(first[0, 0], cmap(0.0))


def test_report_links_every_figure_and_loads_offline(stage_outputs, tmp_path):
    page = stage_outputs / "reports/index.html"
    text = page.read_text()
    links = re.findall(r'<img src="([^"]+)"', text)
    assert sorted(links) == sorted(f"figures/{f}" for f in FIGURES)
    assert "http://" not in text and "https://" not in text
    assert "Dataset" in text and "val_accuracy" in text and "idx" in text
    seen = open_offline(page, tmp_path / "shot.png")
    assert seen["external"] == [] and seen["failed"] == []
    assert all(ok for _, ok in seen["images_loaded"]) and len(seen["images_loaded"]) == len(FIGURES)
    assert not is_blank(tmp_path / "shot.png")
