"""The draw view's forward pass for any traced model (model/graph.py -> report/graph.js) against
PyTorch in headless Chromium: logits, every extracted layer's map and Grad-CAM (Captum's) within 1e-4,
on ResNet-18, MobileNetV2 and a module of the user's own; what the page lacks, said in one line."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam
from torch import nn

from browser import offline_page
from featuremaps.model.export import network_arrays
from featuremaps.model.graph import page_graph
from featuremaps.model.normalisation import attach_normalisation
from featuremaps.model.seam import chosen_layers, tapped
from featuremaps.model.sources import adapted_to_channels
from synthetic import synthetic_images
from test_own_model import MYNET

SRC = Path(__file__).resolve().parents[1] / "src/featuremaps/report"
SCRIPT = (SRC / "graph.js").read_text() + (SRC / "network.js").read_text()


def mynet():
    namespace = {}
    exec(MYNET, namespace)
    return namespace["make_net"](10)


def torchvision_model(name):
    import torchvision
    return adapted_to_channels(torchvision.models.get_model(name, weights=None, num_classes=10), 1)


def trained_like(model):
    """Batch-norm statistics and affine weights other than their initial 0, 1 (so that a mistake shows)."""
    g = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=g) - 0.5)
            module.running_var.copy_(torch.rand(module.num_features, generator=g) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=g) + 0.5)
            module.bias.data.copy_(torch.rand(module.num_features, generator=g) * 0.4 - 0.2)
    return model


CASES = {"resnet18": (lambda: torchvision_model("resnet18"), ["layer1.0.conv1", "layer1.0.relu:2", "layer2.0.downsample.0",
                                                               "layer2"]),
         "mobilenet_v2": (lambda: torchvision_model("mobilenet_v2"), ["features.1.conv.0.0", "features.4", "features.17"]),
         # ceil-mode max pooling and concatenated branches (Fire modules)
         "squeezenet1_1": (lambda: torchvision_model("squeezenet1_1"), ["features.0", "features.3", "features.7"]),
         "own module": (mynet, ["stem", "block.bn1", "block.relu:2", "block"])}


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_runs_any_traced_model_as_pytorch_does(tmp_path, case):
    make, layers = CASES[case]
    torch.manual_seed(0)
    model = trained_like(make()).eval()
    attach_normalisation(model, [0.13], [0.31])
    layers = chosen_layers(model, layers, (28, 28))
    arrays = network_arrays(model, (28, 28), layers)
    config = json.loads(str(arrays.pop("config")))
    assert "graph" in config, config
    images, _ = synthetic_images(6, seed=3)
    x = (torch.from_numpy(images).float()[:, None] / 255 - 0.13) / 0.31
    from featuremaps.model.layers import captured_maps
    with torch.no_grad():
        logits = model(x).numpy()
    maps = {k: v.numpy() for k, v in captured_maps(model, x, layers, stop=False).items()}
    targets = logits.argmax(1)
    with tapped(model, config["gradcam_layer"]) as module:
        cams = LayerGradCam(model, module).attribute(x, target=torch.from_numpy(targets),
                                                   relu_attributions=True).detach().numpy()[:, 0]
    network = {"config": json.dumps(config),
               "tensors": {k: base64.b64encode(np.ascontiguousarray(v, np.float32).tobytes()).decode() for k, v in arrays.items()}}
    page = tmp_path / "net.html"
    page.write_text("<!doctype html><script>window.D = " + json.dumps({"network": network}) +
                    ";</script><script>const D = window.D;\n" + SCRIPT + "\nwindow.Net = Net;</script>")
    with offline_page() as (p, seen):
        p.goto(page.resolve().as_uri())
        out = p.evaluate("""images => images.map(s => {
            const px = Uint8Array.from(atob(s), c => c.charCodeAt(0)), start = performance.now(), r = Net.forward(px, true);
            const forward = performance.now() - start, target = r.logits.indexOf(Math.max(...r.logits));
            const cam = Net.gradcam(px, target, r);
            return {logits: Array.from(r.logits), cam: Array.from(cam.cam), forward, total: performance.now() - start,
                    maps: Object.fromEntries(Object.entries(r.maps).map(([k, v]) => [k, Array.from(v)]))};
        })""", [base64.b64encode(im.tobytes()).decode() for im in images])
    assert seen["console_errors"] == []
    for i, o in enumerate(out):
        scale = np.abs(logits[i]).max()
        np.testing.assert_allclose(o["logits"], logits[i], atol=1e-4 * max(scale, 1), rtol=0)
        assert sorted(o["maps"]) == sorted(layers)
        for layer in layers:
            ref = maps[layer][i].ravel()
            np.testing.assert_allclose(o["maps"][layer], ref, atol=1e-4 * max(np.abs(ref).max(), 1), rtol=0, err_msg=layer)
        np.testing.assert_allclose(o["cam"], cams[i].ravel(), atol=1e-4 * max(np.abs(cams[i]).max(), 1e-3), rtol=0)
    print(f"{case}: forward {np.median([o['forward'] for o in out]):.0f} ms, with Grad-CAM "
          f"{np.median([o['total'] for o in out]):.0f} ms (median of {len(out)})")


def test_what_the_page_lacks_is_named():
    class Gelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.act = nn.GELU()
            self.fc = nn.Linear(4, 10)

        def forward(self, x):
            return self.fc(self.act(self.conv(x)).mean((2, 3)))

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)

        def forward(self, x):
            return self.conv(x) if x.sum() > 0 else -self.conv(x)

    assert page_graph(Gelu(), ["conv"]) == (None, "the page does not implement act (GELU)")
    ops, reason = page_graph(Branchy(), ["conv"])
    assert ops is None and reason.startswith("torch.fx cannot trace its forward (")
    class MethodFlatten(nn.Module):  # x.flatten(1): the method's start dim, as torch.flatten(x, 1)'s
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 26 * 26, 10)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))

    ops, reason = page_graph(MethodFlatten(), ["conv"])
    assert reason is None and [op["op"] for op in ops] == ["input", "conv", "flatten", "linear"]
    assert ops[1]["kernel"] == (3, 3) and ops[1]["stride"] == (1, 1) and ops[1]["groups"] == 1
    ops, reason = page_graph(mynet(), ["block"])
    assert reason is None and ops[0] == {"op": "input"} and ops[-1]["op"] == "linear"
    # the block's map is the output of its last op: the second call of its ReLU
    (marked,) = [i for i, op in enumerate(ops) if "block" in op.get("maps", [])]
    assert ops[marked]["op"] == "relu" and ops[ops[marked]["in"][0]]["op"] == "add"
