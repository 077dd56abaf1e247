"""The explorer's JavaScript forward pass (report/network.js) against PyTorch, in headless Chromium."""
import base64
import json

import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam

from browser import offline_page
from featuremaps.analysis.attribution import gradcam
from featuremaps.model.export import network_arrays
from featuremaps.model.network import normalised_images
from featuremaps.params import ModelParams
from synthetic import grey_model, synthetic_images

SCRIPT = (__import__("pathlib").Path(__file__).resolve().parents[1] / "src/featuremaps/report/network.js").read_text()


def page_data(model, image_shape=(28, 28)) -> dict:
    arrays = network_arrays(model, image_shape)
    return {"config": str(arrays.pop("config")),
            "tensors": {k: base64.b64encode(np.ascontiguousarray(v, np.float32).tobytes()).decode() for k, v in arrays.items()}}


@pytest.mark.parametrize("model_params, channels", [
    (ModelParams(), 1), (ModelParams(conv_channels=(6, 8, 8), kernel_size=5, batch_norm=True, fc_units=(32,)), 1),
    (ModelParams(conv_channels=(4, 8), fc_units=(16,)), 3)], ids=["default", "3 blocks 5x5 batch norm", "colour"])
def test_the_page_computes_what_pytorch_computes(tmp_path, model_params, channels):
    torch.manual_seed(0)
    model = grey_model(model_params, channels=channels).eval()
    if model.batch_norm:  # statistics other than the initial 0 and 1
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5)
                module.bias.data.uniform_(-0.2, 0.2)
    images, _ = synthetic_images(200, seed=4)
    if channels == 3:  # each image in a colour of its own, on a coloured ground
        tint = np.random.default_rng(5).uniform(0, 1, (200, 2, 1, 1, 3))
        images = (images[..., None] * tint[:, 0] + (255 - images[..., None]) * tint[:, 1] * 0.5).astype(np.uint8)
    with torch.no_grad():
        x = normalised_images(model, images)
        logits = model(x).numpy()
        maps = {layer: model.features(x, upto=layer).numpy() for layer in model.conv_layers}
    last = model.conv_layers[-1]
    targets = logits.argmax(1)
    cams = LayerGradCam(model, model.output_module(last)).attribute(
        x, target=torch.from_numpy(targets), relu_attributions=True).detach().numpy()[:, 0]
    page = tmp_path / "net.html"
    page.write_text("<!doctype html><script>window.D = " + json.dumps({"network": page_data(model)}) +
                    ";</script><script>const D = window.D;\n" + SCRIPT + "\nwindow.Net = Net;</script>")
    with offline_page() as (p, seen):
        p.goto(page.resolve().as_uri())
        out = p.evaluate("""images => images.map(s => {
            const px = Uint8Array.from(atob(s), c => c.charCodeAt(0)), r = Net.forward(px);
            const target = r.logits.indexOf(Math.max(...r.logits)), cam = Net.gradcam(px, target);
            return {logits: Array.from(r.logits), cam: Array.from(cam.cam), rectified: Array.from(Net.gradcam(px, target, undefined, true).cam),
                    maps: Object.fromEntries(Object.entries(r.maps).map(([k, v]) => [k, Array.from(v)]))};
        })""", [base64.b64encode(im.tobytes()).decode() for im in images])
    page_logits = np.array([o["logits"] for o in out])
    assert np.abs(page_logits - logits).max() < 1e-4
    for layer, m in maps.items():
        got = np.array([o["maps"][layer] for o in out]).reshape(m.shape)
        assert np.abs(got - m).max() < 1e-4, layer
    page_cams = np.array([o["cam"] for o in out]).reshape(cams.shape)
    assert np.abs(page_cams - cams).max() < 1e-4 and cams.max() > 0
    # attribute.gradcam_map: rectified, against featuremaps' Grad-CAM (upsampled as it upsamples)
    rectified = gradcam(model, last, x, torch.from_numpy(targets), "rectified").numpy()
    page_rect = LayerAttribution.interpolate(torch.tensor([o["rectified"] for o in out]).reshape(len(out), 1, *cams.shape[1:]),
                                             tuple(x.shape[2:]), "bilinear")[:, 0].numpy()
    conv_up = LayerAttribution.interpolate(torch.from_numpy(cams[:, None]), tuple(x.shape[2:]), "bilinear")[:, 0].numpy()
    assert np.abs(page_rect - rectified).max() < 1e-4 and np.abs(page_rect - conv_up).max() > 0.01 * conv_up.max()
    assert seen["console_errors"] == []


def test_the_explorer_runs_the_trained_model_as_pytorch_does(stage_outputs):
    """Through the page's hook: 200 dataset images, logits and last-layer Grad-CAM of model.pt."""
    from featuremaps.data.store import read_meta, read_split
    from featuremaps.model.checkpoint import load_checkpoint
    from featuremaps.model.network import dataset_config
    meta = read_meta(stage_outputs / "data/dataset")
    model, _ = load_checkpoint(stage_outputs / "data/model/model.pt", dataset_config(meta))
    model.eval()
    images = np.concatenate([read_split(stage_outputs / "data/dataset", s)[0] for s in ("val", "train")])[:200]
    x = normalised_images(model, images)
    with torch.no_grad():
        logits = model(x).numpy()
    cams = LayerGradCam(model, model.output_module(model.conv_layers[-1])).attribute(
        x, target=torch.from_numpy(logits.argmax(1)), relu_attributions=True).detach().numpy()[:, 0]
    with offline_page() as (p, seen):
        p.goto((stage_outputs / "reports/index.html").resolve().as_uri())
        out = p.evaluate("""async images => { const Net = await window.featuremapsNet.ready(); return images.map(s => {
            const px = Uint8Array.from(atob(s), c => c.charCodeAt(0)), r = Net.forward(px);
            return {logits: Array.from(r.logits), cam: Array.from(Net.gradcam(px, r.logits.indexOf(Math.max(...r.logits))).cam)};
        }); }""", [base64.b64encode(im.tobytes()).decode() for im in images])
    assert np.abs(np.array([o["logits"] for o in out]) - logits).max() < 1e-4
    assert np.abs(np.array([o["cam"] for o in out]).reshape(cams.shape) - cams).max() < 1e-4
    assert seen["console_errors"] == []


def test_the_draw_view_prepares_the_strokes_and_shows_every_layer(stage_outputs, tmp_path):
    """Strokes drawn with the pointer: the page's input equals featuremaps image's preparation of the
    drawing pad's pixels, and every conv layer's maps are drawn, each linked to its feature."""
    from PIL import Image
    from featuremaps.image.prepare import prepared_input
    with offline_page(1000, 1400) as (p, seen):
        p.goto((stage_outputs / "reports/index.html").resolve().as_uri() + "#draw")
        p.wait_for_selector("#pad")
        box = p.locator("#pad").bounding_box()
        for path in ([(0.35, 0.2), (0.65, 0.2), (0.45, 0.85)], [(0.3, 0.5), (0.6, 0.5)]):  # a crossed 7
            p.mouse.move(box["x"] + path[0][0] * box["width"], box["y"] + path[0][1] * box["height"])
            p.mouse.down()
            for x, y in path[1:]:
                p.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
            p.mouse.up()
        p.wait_for_function("document.getElementById('draw-out').dataset.shown === '2'", timeout=120_000)
        pad = np.array(p.evaluate("Array.from(document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data)"),
                       dtype=np.uint8).reshape(280, 280, 4)
        shown = p.evaluate("""() => { const c = document.getElementById('draw-input');
                                      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""")
        links = p.eval_on_selector_all("#draw-out a", "as => as.map(a => a.getAttribute('href'))")
        p.screenshot(path=str(tmp_path / "draw.png"), full_page=True)
    grey = np.asarray(Image.fromarray(pad[..., :3]).convert("L"))
    want = prepared_input(Image.fromarray(grey), (28, 28), 4)[0]
    got = np.array(shown, dtype=np.uint8).reshape(28, 28, 4)[..., 0]
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1 and want.max() > 0
    assert [f"#conv1/{n}" for n in range(1, 7)] == [link for link in links if link.startswith("#conv1/")]
    assert seen["console_errors"] == []


def test_edit_this_one_starts_from_the_dataset_image(stage_outputs):
    """A top image opened with "edit this one": untouched, the page's input is that image and its
    logits PyTorch's; painted on, the input is the mean of each pad block; the Grad-CAM of a class
    picked in the view equals Captum's for that class."""
    from featuremaps.data.store import read_meta
    from featuremaps.model.checkpoint import load_checkpoint
    from featuremaps.model.network import dataset_config
    from PIL import Image
    model, _ = load_checkpoint(stage_outputs / "data/model/model.pt", dataset_config(read_meta(stage_outputs / "data/dataset")))
    model.eval()
    hook = "() => { const r = window.featuremapsNet.draw.update(); return {input: Array.from(r.input), logits: Array.from(r.logits), target: r.target, cam: Array.from(r.cam)}; }"
    with offline_page(1000, 1400) as (p, seen):
        p.goto((stage_outputs / "reports/index.html").resolve().as_uri() + "#conv2/3")
        chosen = p.evaluate("Array.from(atob(window.FEATUREMAPS.features.conv2[2].top[1].image), c => c.charCodeAt(0))")
        p.locator("#view button.edit").nth(1).click()
        p.wait_for_function("document.getElementById('draw-out') && document.getElementById('draw-out').dataset.shown === '0'")
        untouched = p.evaluate(hook)
        box = p.locator("#pad").bounding_box()
        p.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.3 * box["height"])
        p.mouse.down()
        p.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.6 * box["height"], steps=6)
        p.mouse.up()
        p.wait_for_function("document.getElementById('draw-out').dataset.shown === '1'")
        pad = np.array(p.evaluate("Array.from(document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data)"),
                       dtype=np.uint8).reshape(280, 280, 4)
        p.select_option("#cam-class", "3")
        painted = p.evaluate(hook)
    image = np.array(chosen, dtype=np.uint8).reshape(28, 28)
    assert untouched["input"] == chosen
    x = normalised_images(model, image[None])
    with torch.no_grad():
        assert np.abs(np.array(untouched["logits"]) - model(x).numpy()[0]).max() < 1e-4
    grey = np.asarray(Image.fromarray(pad[..., :3]).convert("L")).astype(float)
    want = np.floor(grey.reshape(28, 10, 28, 10).mean(axis=(1, 3)) + 0.5).astype(np.uint8)
    got = np.array(painted["input"], dtype=np.uint8).reshape(28, 28)
    assert np.array_equal(got, want) and (got != image).sum() > 20  # the stroke changed it
    cam = LayerGradCam(model, model.output_module(model.conv_layers[-1])).attribute(
        normalised_images(model, got[None]), target=3, relu_attributions=True).detach().numpy()[0, 0]
    assert painted["target"] == 3 and np.abs(np.array(painted["cam"]).reshape(cam.shape) - cam).max() < 1e-4
    assert seen["console_errors"] == []
