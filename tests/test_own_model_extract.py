"""The stages on a model of the user's own (a strided stem, a residual block with a depthwise
conv and an in-place ReLU called twice), weights planted and evaluated as they are: top examples
against a brute-force search, receptive fields against hand-computed boxes and against the
support of each unit's input gradient on its own image, and the report and explorer of its layers."""
import re

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import stage_exit, stage_folder
from synthetic import write_idx_folder
from test_own_model import MYNET
from torch import nn

from featuremaps.data.store import read_meta, read_split
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.layers import captured_maps
from featuremaps.model.network import ConvNet, receptive_field
from featuremaps.model.receptive import receptive_boxes

EDGE = torch.tensor([[-1.0, 0.0, 1.0]] * 3)  # a vertical edge, dark to light, planted as stem's feature 1
LAYERS = ["stem", "block.conv1", "block.bn1", "block.depthwise", "block.relu:2", "block"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("own_extract")
    idx = write_idx_folder(tmp / "idx", n_train=200, n_test=60, compress=True)
    folder = stage_folder(tmp / "run", idx, train={"epochs": 0},
                          extract={"layers": LAYERS, "top_k": 4, "top_k_by": "max", "activation": "raw"},
                          model={"source": "module", "factory": "models/mynet.py:make_net",
                                 "checkpoint": "models/planted.pt"},
                          render={"figure_features": 5})
    (folder / "models").mkdir()
    (folder / "models" / "mynet.py").write_text(MYNET)
    namespace = {}
    exec(MYNET, namespace)
    torch.manual_seed(1)
    net = namespace["make_net"](10)
    with torch.no_grad():
        net.stem.weight[0, 0] = EDGE
        net.stem.bias[0] = 0
    torch.save(net.state_dict(), folder / "models" / "planted.pt")
    for stage in ("download", "train", "extract", "attribute", "visualize", "timelapse", "render"):
        assert stage_exit(folder, stage)[0] == 0, stage
    return folder


def test_every_named_layer_is_extracted(run):
    per_image = pd.read_parquet(run / "data/activations/per_image.parquet")
    top = pd.read_parquet(run / "data/activations/top_k.parquet")
    assert list(dict.fromkeys(top["layer"])) == LAYERS
    assert sum(c.startswith("block.relu:2_f") and c[-2:].isdigit() for c in per_image.columns) == 8
    assert len(top) == len(LAYERS) * 8 * 4


def test_a_map_an_in_place_relu_follows_is_stored_as_the_layer_gave_it(run):
    model, _ = load_checkpoint(run / "data/model/model.pt", root=run)
    images, _ = read_split(run / "data/dataset", "train")
    x = (torch.from_numpy(images[:20]).float()[:, None] / 255 - model.pixel_mean.view(1, -1, 1, 1)) \
        / model.pixel_std.view(1, -1, 1, 1)
    with torch.no_grad():
        bn1 = model.block.bn1(model.block.conv1(model.stem(x)))  # block.relu:1 rectifies this tensor in place
    per_image = pd.read_parquet(run / "data/activations/per_image.parquet")
    train = per_image[per_image["split"] == "train"].sort_values("index")
    stored = train[[f"block.bn1_f{j:02d}" for j in range(1, 9)]].to_numpy()[:20]
    np.testing.assert_allclose(stored, bn1.sum((2, 3)).numpy(), rtol=1e-4, atol=1e-3)
    assert (stored < 0).any()


def test_the_planted_edge_s_top_examples_are_the_brute_force_search_s(run):
    meta = read_meta(run / "data/dataset")
    images, labels = read_split(run / "data/dataset", "train")
    x = (torch.from_numpy(images).double()[:, None] / 255 - meta["mean"][0]) / meta["std"][0]
    response = F.conv2d(x, EDGE.double()[None, None], stride=2, padding=1)  # the planted feature alone
    peak = response.flatten(1).max(1)
    order = np.lexsort((np.arange(len(images)), -peak.values.numpy()))[:4]
    top = pd.read_parquet(run / "data/activations/top_k.parquet")
    mine = top[(top["layer"] == "stem") & (top["feature"] == 1)].sort_values("rank")
    assert mine["index"].tolist() == order.tolist()
    at = peak.indices.numpy()[order]
    assert mine["y"].tolist() == (at // 14).tolist() and mine["x"].tolist() == (at % 14).tolist()
    np.testing.assert_allclose(mine["value"], peak.values.numpy()[order], rtol=1e-5)


def test_receptive_fields_are_the_hand_computed_boxes(run):
    top = pd.read_parquet(run / "data/activations/top_k.parquet")
    # stem: 3x3, stride 2, padding 1; each 3x3 conv after it (padding 1) widens by one stem unit (2 pixels) a side;
    # the block's output (and its second ReLU) adds the depthwise path to the skip path: the wider of the two
    reach = {"stem": 1, "block.conv1": 3, "block.bn1": 3, "block.depthwise": 5, "block.relu:2": 5, "block": 5}
    for _, row in top.iterrows():
        r = reach[row["layer"]]
        expected = (max(2 * row["y"] - r, 0), max(2 * row["x"] - r, 0), min(2 * row["y"] + r, 27),
                    min(2 * row["x"] + r, 27))
        assert (row["top"], row["left"], row["bottom"], row["right"]) == expected, row["layer"]


def test_each_box_holds_the_support_of_its_unit_s_input_gradient_on_its_image(run):
    model, _ = load_checkpoint(run / "data/model/model.pt", root=run)
    images, _ = read_split(run / "data/dataset", "train")
    top = pd.read_parquet(run / "data/activations/top_k.parquet")
    for _, row in top.iterrows():
        x = (torch.from_numpy(images[row["index"]:row["index"] + 1]).float()[:, None] / 255
             - model.pixel_mean.view(1, -1, 1, 1)) / model.pixel_std.view(1, -1, 1, 1)
        x.requires_grad_(True)
        maps = captured_maps(model, x, [row["layer"]], detach=False)[row["layer"]]
        maps[0, row["feature"] - 1, row["y"], row["x"]].backward()
        ys, xs = np.nonzero(x.grad[0, 0].numpy())
        assert len(ys), row["layer"]
        assert row["top"] <= ys.min() and ys.max() <= row["bottom"], row["layer"]
        assert row["left"] <= xs.min() and xs.max() <= row["right"], row["layer"]


@pytest.mark.parametrize("config", [dict(conv_channels=(6, 16)), dict(conv_channels=(4, 8, 8), kernel_size=5,
                                                                       batch_norm=True)])
def test_gradient_support_fields_equal_the_builtin_network_s_formula(config):
    torch.manual_seed(0)
    net = ConvNet(**config).eval()
    for i, layer in enumerate(net.conv_layers):
        side = 28 >> i
        units = [(1, y, x) for y in range(0, side, 3) for x in range(0, side, 2)]
        module = ("bn" + layer[4:]) if net.batch_norm else layer
        assert receptive_boxes(net, module, units, (28, 28), 1) == [
            receptive_field(net.spatial_path(layer), y, x, (28, 28)) for _, y, x in units], layer


def test_dilated_and_max_pooled_paths():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=2, dilation=2), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                        nn.Conv2d(2, 2, 3, stride=2))
    # unit y of layer 3: layer-2 units 2y..2y+2; pool unit u covers layer-0 units 2u-1..2u+1, each of which
    # sees pixels -2..+2 around it (a dilated 3x3)
    (box,) = receptive_boxes(net, "3", [(0, 1, 2)], (32, 32), 1)
    assert box == (2 * 2 - 1 - 2, 2 * 4 - 1 - 2, 2 * 4 + 1 + 2, 2 * 6 + 1 + 2)


class TwoBranches(nn.Module):
    """Inception's pattern: a 1x1 and a 5x5 branch concatenated, so channels see different pixels."""

    def __init__(self):
        super().__init__()
        self.narrow, self.wide = nn.Conv2d(1, 2, 1), nn.Conv2d(1, 2, 5, padding=2)
        self.mix = nn.Identity()

    def forward(self, x):
        return self.mix(torch.cat([self.narrow(x), self.wide(x)], 1))


def test_channels_of_concatenated_branches_get_their_own_fields():
    units = [(0, 5, 5), (1, 5, 5), (2, 5, 5), (3, 0, 0), (0, 0, 0)]
    assert receptive_boxes(TwoBranches(), "mix", units, (12, 12), 1) == [
        (5, 5, 5, 5), (5, 5, 5, 5), (3, 3, 7, 7), (0, 0, 2, 2), (0, 0, 0, 0)]


def test_a_deep_chain_s_field_reaches_its_edges_exactly():
    torch.manual_seed(0)
    chain = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(60)])
    # each 3x3 conv widens the field by one pixel a side: the edge pixels are reached by one path of 60 weights
    assert receptive_boxes(chain, "59", [(2, 65, 65), (0, 0, 129)], (130, 130), 4) == [(5, 5, 125, 125),
                                                                                     (0, 69, 60, 129)]


def test_fields_leave_the_model_its_mode_its_statistics_and_no_gradients():
    namespace = {}
    exec(MYNET, namespace)
    net = namespace["make_net"](10).train()
    net.block.depthwise.weight.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    receptive_boxes(net, "block", [(0, 3, 3), (5, 0, 13)], (28, 28), 1)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(m.training for m in net.modules()) and all(p.grad is None for p in net.parameters())
    assert not net.block.depthwise.weight.requires_grad and net.stem.weight.requires_grad


def test_attribute_ablates_and_explains_every_named_layer(run):
    import json
    metrics = json.loads((run / "reports/interpretability.json").read_text())
    assert list(metrics) == LAYERS
    ablation = pd.read_parquet(run / "data/attributions/ablation.parquet")
    assert len(ablation) == len(LAYERS) * 8 * 11  # 8 channels each, 10 classes and "all"
    assert set(ablation["layer"]) == set(LAYERS)


def resnet_and_images():
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    return model, torch.randn(3, 3, 32, 32), torch.tensor([1, 4, 7])


@pytest.mark.parametrize("layer, module", [("layer3.1.conv2", lambda m: m.layer3[1].conv2),
                                           ("layer4", lambda m: m.layer4),
                                           # the block's second ReLU call is the block's output
                                           ("layer1.0.relu:2", lambda m: m.layer1[0])])
def test_grad_cam_at_any_layer_is_captum_s_on_the_raw_model(layer, module):
    from captum.attr import LayerAttribution, LayerGradCam

    from featuremaps.analysis.attribution import gradcam
    model, x, target = resnet_and_images()
    mine = gradcam(model, layer, x, target)
    cam = LayerGradCam(model, module(model)).attribute(x, target=target, relu_attributions=True)
    theirs = LayerAttribution.interpolate(cam, (32, 32), "bilinear")[:, 0]
    assert mine.shape == (3, 32, 32) and mine.abs().max() > 0
    torch.testing.assert_close(mine, theirs.detach(), atol=1e-5, rtol=1e-5)


def test_ablating_every_channel_of_the_block_leaves_the_head_s_bias():
    from featuremaps.analysis.ablation import ablated
    namespace = {}
    exec(MYNET, namespace)
    net = namespace["make_net"](10).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        with ablated(net, "block", range(8)):
            assert torch.equal(net(x), net.fc.bias.expand(4, 10))
        with ablated(net, "block.relu:1", [0, 3]):
            hidden = captured_maps(net, x, ["block.depthwise"])["block.depthwise"]
        # the depthwise conv sees channels 0 and 3 as zero: its output there is its bias alone
        assert torch.allclose(hidden[:, [0, 3]], net.block.depthwise.bias[[0, 3]].view(1, 2, 1, 1).expand(4, 2, 14, 14))
        assert not torch.allclose(hidden[:, 1], net.block.depthwise.bias[1].expand(4, 14, 14))
    assert not any(m._forward_hooks for m in net.modules())


def test_visualize_and_timelapse_optimise_every_named_layer(run):
    features = np.load(run / "data/visualizations/features.npz")
    for layer in LAYERS:
        images = features[f"{layer}_images"] if f"{layer}_images" in features else None
        assert images is not None and images.shape[:2] == (8, 4), layer  # 8 features, 4 seeds
    timelapse = np.load(run / "data/timelapse/timelapse.npz")
    assert list(timelapse["epochs"]) == [0]
    assert any(key.startswith("block.relu:2") for key in timelapse.files)


CONVS = ("stem", "block.conv1", "block.depthwise")  # the extracted layers that have kernels


def test_the_report_draws_each_layer_by_its_name(run):
    figures = run / "reports/figures"
    for layer in LAYERS:
        stem = layer.replace(":", "-")  # no ':' in a file name
        for what in ("feature_maps", "class_means", "histograms", "top_examples", "feature_vis"):
            assert (figures / f"{stem}_{what}.png").is_file(), (layer, what)
        assert (figures / f"{stem}_filters.png").is_file() == (layer in CONVS), layer
    assert not any(":" in p.name for p in figures.iterdir())
    live = {p.name for p in (run / "live/plots/images").iterdir()}  # DVCLive's step images, as folders
    assert "block.relu-2_optimised" in live and "block.depthwise_filters" in live and not any(":" in n for n in live)
    page = (run / "reports/index.html").read_text()
    # render.figure_features: 5 of each layer's 8 features drawn, and the caption says so
    assert page.count("Only features 1-5 of its 8 are drawn (render.figure_features)") >= 5 * len(LAYERS)
    assert {p.name for p in (run / "reports/explorer/layer").iterdir()} == \
        {f"{layer.replace(':', '-')}.js" for layer in LAYERS}


def test_the_explorer_shows_every_feature_of_every_layer_and_runs_the_model_in_the_draw_view(run, tmp_path):
    from browser import offline_page
    page_path = (run / "reports/index.html").resolve()
    drawn = ("() => Array.from(document.querySelectorAll('#view canvas')).map(c => c.getContext('2d')"
             ".getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v > 0))")
    with offline_page(1280) as (page, seen):
        page.goto(page_path.as_uri())
        links = page.eval_on_selector_all("#features a", "as => as.map(a => a.getAttribute('href'))")
        assert links == [f"#{layer}/{n}" for layer in LAYERS for n in range(1, 9)]  # every feature, not 5
        assert page.locator("#draw-link a").get_attribute("href") == "#draw"
        page.screenshot(path=str(tmp_path / "overview.png"))
        loaded = "() => Array.from(document.scripts).filter(s => s.src.includes('/explorer/')).length"
        assert page.evaluate(loaded) == 0  # the layer scripts wait until a view needs them
        for layer, n in (("block.relu:2", 3), ("block.depthwise", 2), ("block", 8)):
            page.evaluate(f"location.hash = '#{layer}/{n}'")
            page.wait_for_function("t => document.querySelector('#view h2')?.textContent === t",
                                   arg=f"{layer} \u00b7 feature {n}", timeout=120_000)
            assert all(page.evaluate(drawn)) and page.locator("#view .box").count() > 0
            sections = page.eval_on_selector_all("#view h3", "hs => hs.map(h => h.textContent)")
            filters = [h for h in sections if h.startswith("Filter")]
            assert (len(filters) == 1) == (layer in CONVS), (layer, sections)
            if layer == "block.depthwise":  # a depthwise kernel sees one input channel
                assert filters[0].startswith("Filter (3x3, 1 input channel;"), filters
                # the layer as the architecture record in model.pt describes it
                assert page.locator("#view .layer-words").inner_text() == (
                    "Conv2d: 8 maps of 14x14, kernel 3x3, stride 1, padding 1, depthwise (models/mynet.py:make_net)")
        page.screenshot(path=str(tmp_path / "feature.png"), full_page=True)
        assert page.evaluate(loaded) == 3
        page.evaluate("location.hash = '#class/2'")
        page.wait_for_function("document.querySelector('#view h2')?.textContent.startsWith('class ')")
        assert all(page.evaluate(drawn))
        # the draw view runs the traced module (its weights loaded with the view): every extracted layer's
        # maps, Grad-CAM of the deepest, and the update time said
        assert not any("network.js" in r for r in seen["requests"])
        page.evaluate("location.hash = '#draw'")
        page.wait_for_selector("#draw-out")
        titles = page.eval_on_selector_all("#draw-out section h3", "hs => hs.map(h => h.textContent)")
        assert titles[0].startswith("The input as the model sees it, and Grad-CAM of block (")
        assert [t.split(": each")[0] for t in titles[1:]] == LAYERS
        assert re.fullmatch(r"The network runs (on every frame as you draw \(\d+\.\d ms a run\)|at the end of each stroke "
                            r"\(\d+ ms a run, longer than a 16 ms frame\))\.", page.locator("#draw-speed").inner_text())
        box = page.locator("#pad").bounding_box()
        page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.4 * box["width"], box["y"] + 0.8 * box["height"], steps=8)
        page.mouse.up()
        page.wait_for_function("document.getElementById('draw-out').dataset.shown === '1'")
        assert page.locator("#prediction").inner_text().startswith("predicted: ")
        assert all(page.evaluate(drawn))
        page.screenshot(path=str(tmp_path / "draw.png"), full_page=True)
    assert seen["external"] == [] and seen["failed"] == [] and seen["console_errors"] == []


def test_a_model_the_page_cannot_run_has_every_other_view_and_says_why(run, tmp_path):
    import json
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("idx"))
    network = dict(np.load(copy / "data/activations/network.npz"))
    network["config"] = np.array(json.dumps({"draw": False, "reason": "the page does not implement act (GELU)"}))
    np.savez(copy / "data/activations/network.npz", **network)
    assert stage_exit(copy, "render")[0] == 0
    from browser import offline_page
    with offline_page(1280) as (page, seen):
        page.goto((copy / "reports/index.html").resolve().as_uri())
        assert page.locator("#draw-link").inner_text() == \
            "No draw view for this model: the page does not implement act (GELU)."
        page.evaluate("location.hash = '#block/1'")
        page.wait_for_function("document.querySelector('#view h2')?.textContent === 'block \u00b7 feature 1'")
        assert page.locator("#view button.edit").count() == 0  # nothing to edit an image in
    assert not (copy / "reports/explorer/network.js").read_text().count("block.conv1.weight")
    assert seen["console_errors"] == [] and seen["failed"] == []


def test_model_pt_records_the_architecture_and_extract_passes_it_on(run):
    """Every call with maps, named and shaped as the forward runs (by hand: a 28x28 input, the stride-2
    stem halves it, padding 1 keeps it), with the geometry of each conv."""
    import json
    record = torch.load(run / "data/model/model.pt", weights_only=True)["architecture"]
    assert record == json.loads((run / "data/activations/architecture.json").read_text())
    assert record["family"] == "models/mynet.py:make_net" and record["input"] == [1, 28, 28]
    by_name = {e["name"]: e for e in record["layers"]}
    assert list(by_name) == ["stem", "block.conv1", "block.bn1", "block.relu:1", "block.depthwise", "block.relu:2",
                             "block", "pool"]
    assert all(e["shape"] == [8, 14, 14] for name, e in by_name.items() if name != "pool")
    assert by_name["pool"]["shape"] == [8, 1, 1]
    assert {k: by_name["stem"][k] for k in ("kernel", "stride", "padding", "groups")} == \
        {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "groups": 1}
    assert by_name["block.depthwise"]["groups"] == 8 and "kernel" not in by_name["block.bn1"]
