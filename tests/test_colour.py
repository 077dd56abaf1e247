"""Colour end to end: a generated RGB folder through every stage, its stored class means checked
against a brute-force mean of the folder's pixels, the figures and the explorer in colour; and known
answers for a network that sees only red."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from captum.attr import IntegratedGradients
from PIL import Image

from browser import offline_page
from conftest import STAGES, built_once, stage_exit, stage_folder
from featuremaps.analysis.attribution import gradcam, integrated_gradients
from featuremaps.analysis.feature_vis import visualize_layer
from featuremaps.analysis.store import read_npz
from featuremaps.model.network import normalised_images
from featuremaps.params import ModelParams, VisualizeParams
from synthetic import grey_model, write_shape_folder

CPU = torch.device("cpu")


def _build_colour_run(tmp: Path) -> None:
    folder = write_shape_folder(tmp / "shapes", 70, sizes=((24, 24), (32, 28)))  # 210 images of two sizes
    run = stage_folder(tmp / "run", tmp / "unused")
    params = yaml.safe_load((run / "params.yaml").read_text())
    params["data"] = {**params["data"], "source": "folder", "folder": str(folder), "image_size": [24, 24]}
    params["model"]["conv_channels"] = [6, 8, 8]
    params["timelapse"]["probe_size"] = 30  # of the 35 val images
    (run / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in STAGES:  # in this process: one start of Python and torch for all eight
        status, err = stage_exit(run, stage)
        assert status == 0, (stage, err)


@pytest.fixture(scope="session")
def colour_run(tmp_path_factory):
    """Every stage run on a generated colour folder, once per session (shared: never modify)."""
    tmp = built_once(tmp_path_factory, "colour", _build_colour_run)
    return tmp / "run", tmp / "shapes"


def test_class_means_of_the_input_are_the_folders_pixels_averaged(colour_run):
    run, folder = colour_run
    meta = yaml.safe_load((run / "data/dataset/meta.json").read_text())
    assert meta["channels"] == 3 and meta["image_shape"] == [24, 24] and len(meta["mean"]) == 3
    means = read_npz(run / "data/activations/class_means.npz", ["input_means", "counts", "layers"])
    assert [str(x) for x in means["layers"]] == ["conv1", "conv2", "conv3"]
    train = np.load(run / "data/dataset/train_images.npy")  # which files went to train: by content
    for c, name in enumerate(meta["classes"]):
        # each file at 24x24: as it is, or resized with Pillow's bilinear filter
        pixels = [Image.open(p).convert("RGB") for p in sorted((folder / name).iterdir())]
        pixels = np.stack([np.asarray(p if p.size == (24, 24) else p.resize((24, 24), Image.BILINEAR)) for p in pixels])
        in_train = [p for p in pixels if (train == p).all((1, 2, 3)).any()]
        assert len(in_train) == means["counts"][c]
        np.testing.assert_allclose(means["input_means"][c], np.mean(in_train, 0, dtype=np.float64), rtol=0, atol=1e-9)


def coloured_share(png) -> float:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return float((np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2]) > 60).mean())


def test_figures_and_explorer_show_the_inputs_in_colour(colour_run, tmp_path):
    run, _ = colour_run
    # the top examples and samples hold coloured shapes; a grey run's would hold none
    assert coloured_share(run / "reports/figures/conv1_top_examples.png") > 0.01
    assert coloured_share(run / "reports/figures/samples.png") > 0.01
    with offline_page(1280) as (page, seen):
        page.goto((run / "reports/index.html").resolve().as_uri() + "#conv3/2")
        page.wait_for_function("document.querySelectorAll('#view canvas').length > 4", timeout=120_000)
        coloured = page.evaluate("""Array.from(document.querySelectorAll('#view canvas')).map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) n += Math.abs(d[i] - d[i + 1]) + Math.abs(d[i + 1] - d[i + 2]) > 60;
            return n; })""")
        page.screenshot(path=str(tmp_path / "conv3.png"), full_page=True)
    assert sum(n > 0 for n in coloured) >= 4, coloured  # its top images (and optimised inputs) in colour
    assert not seen["console_errors"] and not seen["external"], seen


def test_the_draw_view_edits_a_colour_image_with_a_colour_brush(colour_run):
    """The colour network in the page: a top image opened with "edit this one" is its input unchanged
    (logits as PyTorch's with model.pt); a red stroke makes the input the per-channel mean of each
    pad block, red where the brush went."""
    import base64
    from featuremaps.data.store import read_meta
    from featuremaps.model.checkpoint import load_checkpoint
    from featuremaps.model.network import dataset_config
    run, _ = colour_run
    model, _ = load_checkpoint(run / "data/model/model.pt", dataset_config(read_meta(run / "data/dataset")))
    model.eval()
    hook = "() => { const r = window.featuremapsNet.draw.update(); return {input: Array.from(r.input), logits: Array.from(r.logits)}; }"
    shown = "n => document.getElementById('draw-out') && document.getElementById('draw-out').dataset.shown === n"
    with offline_page(1000, 1200) as (page, seen):
        page.goto((run / "reports/index.html").resolve().as_uri() + "#conv1/1")
        page.wait_for_selector("#view button.edit")  # the layer's views are loaded with its script
        chosen = page.evaluate("Array.from(atob(window.FEATUREMAPS.features.conv1[0].top[0].image), c => c.charCodeAt(0))")
        page.locator("#view button.edit").first.click()
        page.wait_for_function(shown, arg="0")
        untouched = page.evaluate(hook)
        page.evaluate("document.getElementById('brush-colour').value = '#ff0000'")
        box = page.locator("#pad").bounding_box()
        middle = box["y"] + 12.5 / 24 * box["height"]  # the middle of the pad's 13th row of blocks
        page.mouse.move(box["x"] + 0.1 * box["width"], middle)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.9 * box["width"], middle, steps=6)
        page.mouse.up()
        page.wait_for_function(shown, arg="1")
        png = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
        painted = page.evaluate(hook)
    image = np.array(chosen, dtype=np.uint8).reshape(24, 24, 3)
    assert untouched["input"] == chosen
    with torch.no_grad():
        logits = model(normalised_images(model, image[None])).numpy()[0]
    assert np.abs(np.array(untouched["logits"]) - logits).max() < 1e-4
    import io
    pad = np.asarray(Image.open(io.BytesIO(base64.b64decode(png.split(",", 1)[1]))).convert("RGB")).astype(float)
    s = pad.shape[0] // 24
    want = np.floor(pad.reshape(24, s, 24, s, 3).mean(axis=(1, 3)) + 0.5)
    got = np.array(painted["input"], dtype=np.uint8).reshape(24, 24, 3)
    assert np.array_equal(got, want.astype(np.uint8))
    assert (got[12, 3:21] == [255, 0, 0]).all()  # the brush's red across the middle row
    assert not seen["console_errors"], seen


def red_only_model():
    """A 3-channel network whose conv1 reads the red channel alone."""
    torch.manual_seed(0)
    model = grey_model(ModelParams(conv_channels=(4, 6)), (16, 16), 3, channels=3).eval()
    with torch.no_grad():
        model.conv1.weight[:, 1:] = 0
    return model


def test_a_network_that_sees_only_red_attributes_nothing_to_green_and_blue():
    model = red_only_model()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    x = normalised_images(model, images)
    target = torch.tensor([0, 1, 2, 0, 1])
    black = model.normalise(torch.zeros((1, 16, 16, 3), dtype=torch.uint8)).expand_as(x).contiguous()
    ig = IntegratedGradients(model).attribute(x, baselines=black, target=target, n_steps=8)
    assert (ig[:, 1:] == 0).all() and (ig[:, 0] != 0).any()
    assert torch.equal(integrated_gradients(model, x, target, 8), ig[:, 0] + ig[:, 1] + ig[:, 2])
    # changing green and blue changes neither the logits nor Grad-CAM
    other = images.copy()
    other[..., 1:] = rng.integers(0, 256, other[..., 1:].shape, dtype=np.uint8)
    y = normalised_images(model, other)
    assert torch.equal(model(x), model(y))
    assert torch.equal(gradcam(model, "conv2", x, target), gradcam(model, "conv2", y, target))


def test_feature_visualization_of_a_red_only_network_leaves_green_and_blue_where_they_started():
    model = red_only_model()
    images = np.random.default_rng(1).integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    # no L1 towards the background: that term alone would move green and blue
    runs = [visualize_layer(model, "conv1", images, VisualizeParams(steps=steps, seeds=2, jitter=0, l1=0.0), "relu", 3,
                            CPU)
            for steps in (1, 40)]
    a, b = runs
    assert a.images.shape == (4, 2, 16, 16, 3)
    assert np.array_equal(a.images[..., 1:], b.images[..., 1:])  # no gradient: green and blue never moved
    assert not np.array_equal(a.images[..., 0], b.images[..., 0])
    assert np.array_equal(a.refined_images[..., 1:], b.refined_images[..., 1:])


def test_featuremaps_image_shows_a_colour_models_input_in_colour(colour_run, tmp_path, capsys):
    from featuremaps.cli import main
    run, folder = colour_run
    photo = tmp_path / "photo.png"
    Image.open(sorted((folder / "disc").iterdir())[0]).resize((48, 40)).save(photo)
    status = main(["image", str(photo), "--repo", str(run), "--out", str(tmp_path / "out")])
    assert status == 0, capsys.readouterr().err
    record = yaml.safe_load((tmp_path / "out/images.json").read_text())["images"][0]
    assert "resized from 48x40 to 24x24" in " ".join(record["notes"])
    assert coloured_share(tmp_path / "out" / record["figure"]) > 0.005


def test_featuremaps_compare_draws_a_colour_runs_pictures_in_colour(colour_run, tmp_path, capsys):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from featuremaps.cli import main
    run, _ = colour_run
    if not (run / ".dvc").exists():  # the run as a committed DVC repository, read through dvc.api
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "t@example.invalid",
               "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
        for command in (["git", "init", "-q"], [str(Path(sys.executable).parent / "dvc"), "init", "-q"],
                        ["git", "add", "-A"], ["git", "commit", "-qm", "colour run"]):
            subprocess.run(command, cwd=run, check=True, env=env)
    status = main(["compare", "workspace", "workspace", "--repo", str(run), "--out", str(tmp_path / "cmp")])
    out = capsys.readouterr()
    assert status == 0, out.err
    with offline_page(1280) as (page, seen):
        page.goto((tmp_path / "cmp/index.html").resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('canvas').length > 10", timeout=120_000)
        coloured = page.evaluate("""Array.from(document.querySelectorAll('canvas')).map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) n += Math.abs(d[i] - d[i + 1]) + Math.abs(d[i + 1] - d[i + 2]) > 60;
            return n; })""")
    assert sum(n > 0 for n in coloured) >= 4, coloured
    assert not seen["console_errors"] and not seen["external"], seen
