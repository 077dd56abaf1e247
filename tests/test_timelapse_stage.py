"""The timelapse stage on a small run: its numbers against the snapshots, model.pt and the attribute
stage's metrics; DVCLive's step-indexed images; the explorer's epoch slider in headless Chromium."""
import json

import matplotlib
import numpy as np
import torch
import yaml

from browser import offline_page
from featuremaps.analysis.timelapse_store import layer_timelapse, read_timelapse
from featuremaps.data.store import read_meta, read_split
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.network import build_model, dataset_config
from featuremaps.model.snapshots import read_snapshots
from test_explorer import shows


def test_snapshots_hold_the_seeded_start_and_model_pt(stage_outputs):
    meta = read_meta(stage_outputs / "data/dataset")
    model, checkpoint = load_checkpoint(stage_outputs / "data/model/model.pt", dataset_config(meta))
    states = read_snapshots(stage_outputs / "data/model/snapshots.pt")
    best = json.loads((stage_outputs / "reports/metrics.json").read_text())["best_epoch"]
    assert sorted(states) == [0, 1]
    assert all(torch.equal(states[best][k], v) for k, v in model.state_dict().items())
    seed = yaml.safe_load((stage_outputs / "params.yaml").read_text())["seed"]
    torch.manual_seed(seed)
    fresh = build_model(checkpoint["config"], meta["mean"], meta["std"])
    assert all(torch.equal(states[0][k], v) for k, v in fresh.state_dict().items())


def test_the_best_epoch_on_the_whole_val_split_is_what_attribute_measured(stage_outputs):
    """probe_size is the val split's size here, so the timelapse's reference epoch sees what the
    attribute stage saw: the same dead channels and mean selectivity."""
    stored = read_timelapse(stage_outputs / "data/timelapse")
    _, val_labels = read_split(stage_outputs / "data/dataset", "val")
    assert len(stored["probe_index"]) == len(val_labels) == 100
    best = json.loads((stage_outputs / "reports/metrics.json").read_text())["best_epoch"]
    assert int(stored["reference_epoch"]) == best and list(stored["epochs"]) == [0, 1]
    assert list(stored["vis_epochs"]) == [0, 1]
    metrics = json.loads((stage_outputs / "reports/interpretability.json").read_text())
    at = list(stored["epochs"]).index(best)
    for layer, m in metrics.items():
        lapse = layer_timelapse(stored, layer)
        live = ~lapse["dead"][at]
        assert int(lapse["dead"][at].sum()) == m["dead_channels"]
        assert round(float(lapse["selectivity"][at][live].mean()), 6) == m["mean_selectivity"]
        assert abs(lapse["cka"][at] - 1) < 1e-9 and abs(lapse["cka_pooled"][at] - 1) < 1e-9


def test_dvc_viewers_get_a_step_indexed_image_per_epoch(stage_outputs):
    images = stage_outputs / "live/plots/images"
    for layer in ("conv1", "conv2"):
        assert sorted(p.name for p in (images / f"{layer}_filters").iterdir()) == ["0.png", "1.png"]
        assert sorted(p.name for p in (images / f"{layer}_optimised").iterdir()) == ["0.png", "1.png"]
    assert not list(stage_outputs.glob("live/.*tmp*")) and not (stage_outputs / "live/plots/images/live").exists()


SLIDER_PIXELS = """() => Array.from(document.querySelectorAll('#formation canvas')).map(c =>
  Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data))"""


def rgb(canvas_rgba) -> np.ndarray:
    return np.asarray(canvas_rgba, dtype=np.uint8).reshape(-1, 4)[:, :3]


def test_the_epoch_slider_shows_each_epochs_stored_filter_and_pictures(stage_outputs):
    stored = read_timelapse(stage_outputs / "data/timelapse")
    lapse = layer_timelapse(stored, "conv2")
    val_images, _ = read_split(stage_outputs / "data/dataset", "val")
    feature = 2  # conv2/3
    weights = lapse["filters"][:, feature]  # [E, C_in, k, k]
    m = float(np.abs(weights).max())
    table = np.round(matplotlib.colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    page_path = (stage_outputs / "reports/index.html").resolve()
    with offline_page(1280) as (page, seen):
        page.goto(page_path.as_uri() + "#conv2/3")
        assert shows(page, "conv2 \u00b7 feature 3")
        drawn = {}
        for at, epoch in enumerate(stored["epochs"]):
            page.evaluate(f"const s = document.getElementById('epoch'); s.value = {at}; s.dispatchEvent(new Event('input'))")
            page.wait_for_function("e => document.getElementById('epoch-label').textContent.startsWith(`epoch ${e}`)",
                                   arg=int(epoch), timeout=120_000)
            canvases = page.evaluate(SLIDER_PIXELS)
            n_in = weights.shape[1]
            for i in range(n_in):  # the filter: the stored weights of this epoch on the diverging map
                level = np.clip(np.round((weights[at, i] / m + 1) * 127.5), 0, 255).astype(int).ravel()
                assert np.array_equal(rgb(canvases[i]), table[level]), (epoch, i)
            vis = lapse["vis"][list(stored["vis_epochs"]).index(epoch), feature, 0]
            assert np.array_equal(rgb(canvases[n_in])[:, 0], vis.ravel())
            top = stored["probe_index"][lapse["top"][at, feature]]
            for k, index in enumerate(top):
                assert np.array_equal(rgb(canvases[n_in + 1 + k])[:, 0], val_images[index].ravel())
            drawn[int(epoch)] = canvases
        assert drawn[0] != drawn[1]  # the pictures change with the epoch
        # with the keyboard: on the slider, arrows move it and stay on the feature
        page.evaluate("const s = document.getElementById('epoch'); s.value = 0; s.dispatchEvent(new Event('input'))")
        page.focus("#epoch")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("document.getElementById('epoch-label').textContent.startsWith('epoch 1')",
                               timeout=120_000)
        assert page.evaluate("location.hash") == "#conv2/3"

        page.goto(page_path.as_uri())
        page.wait_for_selector("#grid-epoch")
        page.evaluate("const s = document.getElementById('grid-epoch'); s.value = 0; s.dispatchEvent(new Event('input'))")
        page.wait_for_function("document.getElementById('grid-epoch-label').textContent === 'epoch 0'", timeout=120_000)
        tiles = page.evaluate("Array.from(document.querySelectorAll('#features canvas')).map(c => "
                              "Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data))")
        # the first (grey) layer's tiles: each feature's filter at that epoch, on the timelapse's one scale
        first = layer_timelapse(stored, "conv1")["filters"][:, 0]  # [E, 1, k, k]
        level = np.clip(np.round((first[0, 0] / float(np.abs(first).max()) + 1) * 127.5), 0, 255).astype(int).ravel()
        assert np.array_equal(rgb(tiles[0]), table[level])
        # the next layer's: each feature's optimised input at that epoch
        n_first = layer_timelapse(stored, "conv1")["filters"].shape[1]
        assert np.array_equal(rgb(tiles[n_first])[:, 0], lapse["vis"][0, 0, 0].ravel())
    assert seen["console_errors"] == [] and seen["failed"] == [] and seen["external"] == []
