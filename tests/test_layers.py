"""Layers of any model by module name (featuremaps.model.layers), against known answers: a hooked map
equals its module called on its captured input, an in-place ReLU does not change a stored map, a
reused module is named by its call, the hooks go away, and batch-norm statistics stay as they were."""
import pytest
import torch
import torchvision
from torch import nn

from featuremaps.errors import ArgumentError
from featuremaps.model.layers import captured_maps, evaluating, module_calls, resolve_layer, split_name


class Block(nn.Module):
    """A residual block whose one in-place ReLU runs twice, with a depthwise conv."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, groups=c)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.conv2(out) + x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.block = Block(8)
        self.unused = nn.Conv2d(8, 8, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.block(self.stem(x))), 1))


def trained_like() -> Net:
    """The test network with batch-norm statistics that are not the initial ones."""
    torch.manual_seed(0)
    net = Net()
    net.block.bn1.running_mean.uniform_(-1, 1)
    net.block.bn1.running_var.uniform_(0.5, 2)
    return net


def no_hooks_left(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


X = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_every_call_is_named_in_order_with_its_shape_and_geometry():
    calls = module_calls(trained_like().eval(), X)
    assert [c.name for c in calls] == ["stem", "block.conv1", "block.bn1", "block.relu:1", "block.conv2",
                                       "block.relu:2", "block", "pool", "fc"]
    by = {c.name: c for c in calls}
    assert by["stem"].shape == (8, 14, 14) and by["stem"].stride == (2, 2) and by["stem"].padding == (1, 1)
    assert by["block.conv2"].groups == 8 and by["block.conv2"].kernel == (3, 3)
    assert by["block.relu:2"].module == "block.relu" and by["block.relu:2"].call == 2
    assert by["fc"].shape == (10,) and not by["fc"].is_map and by["pool"].shape == (8, 1, 1)
    assert split_name("layer1.0.relu:2") == ("layer1.0.relu", 2) and split_name("features.6") == ("features.6", None)


def test_a_hooked_map_equals_its_module_on_its_captured_input():
    model = trained_like().eval()
    seen = {}
    handle = model.block.conv2.register_forward_pre_hook(lambda m, args: seen.__setitem__("input", args[0].clone()))
    maps = captured_maps(model, X, ["block.conv2", "block.relu:1", "block.relu:2", "block"], stop=False)
    handle.remove()
    with torch.no_grad():
        assert torch.equal(maps["block.conv2"], model.block.conv2(seen["input"]))
        # the first ReLU's output is conv2's input; the block's output is its second ReLU's
        assert torch.equal(maps["block.relu:1"], seen["input"])
        assert torch.equal(maps["block"], maps["block.relu:2"])
        assert not torch.equal(maps["block.relu:1"], maps["block.relu:2"])


def test_an_in_place_relu_does_not_change_a_stored_map():
    model = trained_like().eval()
    raw = {}
    handle = model.block.bn1.register_forward_hook(lambda m, a, out: raw.__setitem__("bn1", out))  # not cloned
    maps = captured_maps(model, X, ["block.bn1"], stop=False)
    handle.remove()
    with torch.no_grad():
        expected = model.block.bn1(model.block.conv1(model.stem(X)))
    assert (expected < 0).any()
    assert torch.equal(maps["block.bn1"], expected)  # negative values kept
    assert raw["bn1"].min() >= 0  # the tensor the module returned was rectified in place afterwards


def test_the_forward_stops_after_the_last_requested_layer_and_the_hooks_are_removed():
    model = trained_like().eval()
    calls = []
    handle = model.fc.register_forward_hook(lambda *a: calls.append(1))
    maps = captured_maps(model, X, ["stem", "block.conv1"])
    assert set(maps) == {"stem", "block.conv1"} and calls == []
    captured_maps(model, X, ["stem"], stop=False)
    assert calls == [1]
    handle.remove()
    assert no_hooks_left(model)
    with pytest.raises(ArgumentError, match="never reached"):
        captured_maps(model, X, ["unused"])
    assert no_hooks_left(model)


def test_analysing_in_eval_mode_leaves_batch_norm_statistics_requires_grad_and_the_mode_as_they_were():
    model = trained_like().train()
    model.block.eval()  # modules' own modes, one by one, come back
    model.stem.weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with evaluating(model):
        captured_maps(model, X, ["block"], stop=False)
        module_calls(model, X)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.block.training and not model.block.bn1.training
    model.block.train()
    assert model.training and not model.stem.weight.requires_grad and model.block.conv1.weight.requires_grad
    # the same forward on the model itself in train mode would have moved them: the check can fail
    captured_maps(model, X, ["block"], stop=False)
    assert not torch.equal(before["block.bn1.running_mean"], model.block.bn1.running_mean)


@pytest.mark.parametrize("name, message", [
    ("block.rleu", "not a module of the model; closest: block.relu:2, block.relu:1, block$"),
    ("block.relu", "runs 2 times in one forward: name one call, block.relu:1, block.relu:2"),
    ("block.relu:3", "block.relu runs 2 time"),
    ("block.relu:0", "a number from 1"),
    ("fc", r"\(Linear\) gives \[N, 10\], not maps \[N, C, H, W\]"),
    ("unused", "the forward never calls this module"),
])
def test_a_layer_that_cannot_be_used_is_refused_in_one_line(name, message):
    model = trained_like().eval()
    calls = module_calls(model, X)
    with pytest.raises(ArgumentError, match=message) as info:
        resolve_layer(calls, name, dict(model.named_modules()))
    assert "\n" not in str(info.value)


def test_a_torchvision_resnet_by_pytorch_names():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    calls = module_calls(model, x)
    names = [c.name for c in calls]
    assert "layer1.0.relu:2" in names and "layer1.0.relu" not in names and names.count("layer4") == 1
    assert resolve_layer(calls, "layer3.1.conv2").shape == (256, 2, 2)
    assert resolve_layer(calls, "layer4").shape == (512, 1, 1)
    assert sum(c.kind == "Conv2d" for c in calls) == 20
    maps = captured_maps(model, x, ["layer1.0.relu:1", "layer1.0.relu:2", "layer1.0.bn2"])
    # relu:2 rectifies bn2 plus the block's input: its map is neither relu:1's nor bn2's
    assert maps["layer1.0.relu:2"].min() >= 0 and maps["layer1.0.bn2"].min() < 0
    assert not torch.equal(maps["layer1.0.relu:1"], maps["layer1.0.relu:2"])


def test_hooked_maps_follow_each_forward_of_the_builtin_network_s_features():
    from featuremaps.model.network import ConvNet
    from featuremaps.model.seam import hooked
    torch.manual_seed(0)
    net = ConvNet(batch_norm=True).eval()
    a, b = torch.randn(2, 1, 28, 28), torch.randn(3, 1, 28, 28)
    with torch.no_grad(), hooked(net, ["conv1", "conv2"]) as maps:
        net.features(a, upto="conv2")  # no forward of the model itself: nothing resets a call count
        net.features(b, upto="conv2")
        assert torch.equal(maps["conv2"], net.features(b, upto="conv2"))
        assert torch.equal(maps["conv1"], net.bn1(net.conv1(b)))
    assert no_hooks_left(net)


def test_the_builtin_network_s_record_has_its_conv_maps_where_the_page_drew_them():
    """The draw view took conv<b+1>'s map as [F, H // 2**b, W // 2**b]; it reads the record now."""
    from featuremaps.model.architecture import architecture_record
    from featuremaps.model.network import ConvNet
    for channels, kernel, shape in (((6, 16), 3, (28, 28)), ((4, 8, 8), 5, (27, 30))):
        net = ConvNet(conv_channels=channels, kernel_size=kernel, batch_norm=True, image_shape=shape)
        record = architecture_record(net, {"image_shape": list(shape)})
        assert record["family"] == "builtin" and record["input"] == [1, *shape]
        convs = {e["name"]: e for e in record["layers"] if e["kind"] == "Conv2d"}
        assert list(convs) == [f"conv{b + 1}" for b in range(len(channels))]
        for b, f in enumerate(channels):
            e = convs[f"conv{b + 1}"]
            assert e["shape"] == [f, shape[0] // 2 ** b, shape[1] // 2 ** b]
            assert e["kernel"] == [kernel, kernel] and e["padding"] == [kernel // 2] * 2 and e["stride"] == [1, 1]
        assert net.training  # recording ran it in eval mode and put its mode back
