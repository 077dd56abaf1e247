"""The user's own model (model.source torchvision or module) and weights trained elsewhere
(model.checkpoint): built, adapted to grey images, loaded through the usual wrappers and prefixes,
refused in one line when they cannot be used, and evaluated as they are with train.epochs 0."""
import json
import textwrap

import numpy as np
import pytest
import torch
import torchvision
from conftest import stage_exit, stage_folder
from torch import nn

from featuremaps import cli
from featuremaps.data.store import read_meta, read_split
from featuremaps.errors import ArgumentError, ArtifactError, ParamsError
from featuremaps.model.checkpoint import load_checkpoint, read_checkpoint
from featuremaps.model.settings import check_model_settings
from featuremaps.model.sources import adapted_to_channels, factory_callable, model_from_config, source_config
from featuremaps.model.weights import load_weights, read_state_dict
from featuremaps.params import params_from_dict

GREY = {"image_shape": [28, 28], "classes": [str(i) for i in range(10)], "channels": 1}

# A network of the user's own: a strided stem, a residual block whose one in-place ReLU runs twice,
# a depthwise conv, and a head; make_net takes num_classes, which featuremaps passes.
MYNET = textwrap.dedent('''
    import torch
    from torch import nn


    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.depthwise = nn.Conv2d(c, c, 3, padding=1, groups=c)

        def forward(self, x):
            return self.relu(self.depthwise(self.relu(self.bn1(self.conv1(x)))) + x)


    class MyNet(nn.Module):
        def __init__(self, num_classes=10, width=8):
            super().__init__()
            self.stem = nn.Conv2d(1, width, 3, stride=2, padding=1)
            self.block = Block(width)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(width, num_classes)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.block(self.stem(x))), 1))


    def make_net(num_classes, width=8):
        return MyNet(num_classes, width)


    def not_a_model():
        return "a string"


    def scripted(num_classes):
        return torch.jit.script(MyNet(num_classes))
''')


@pytest.fixture
def in_project(tmp_path, monkeypatch):
    """The working folder is a project with models/mynet.py."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mynet.py").write_text(MYNET)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_of(meta=GREY, **model):
    return source_config(params_from_dict({"model": model}).model, meta)


def test_a_torchvision_model_on_grey_images_is_the_colour_model_on_the_grey_image_repeated():
    torch.manual_seed(0)
    colour = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    config = config_of(source="torchvision", name="resnet18")
    assert config == {"image_shape": [28, 28], "n_classes": 10, "in_channels": 1, "source": "torchvision",
                      "kwargs": {}, "name": "resnet18"}
    grey = model_from_config(config, weights=lambda m: m.load_state_dict(colour.state_dict())).eval()
    assert grey.conv1.in_channels == 1 and grey.conv1.weight.shape == (64, 1, 7, 7)
    assert grey.pixel_mean.shape == (1,) and grey.pixel_std.shape == (1,)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(grey(x), colour(x.repeat(1, 3, 1, 1)), atol=1e-5)


def test_torchvision_models_of_each_family_build_for_the_dataset():
    colour32 = {**GREY, "image_shape": [32, 32], "channels": 3}
    for name in ("vgg11_bn", "mobilenet_v2", "squeezenet1_1"):
        model = model_from_config(config_of(colour32, source="torchvision", name=name))
        with torch.no_grad():
            assert model.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 10), name


@pytest.mark.parametrize("model, message", [
    ({"source": "torchvision", "name": "resnt18"}, "'resnt18' is not a classification model of torchvision.models; "
                                                    "closest: resnet18"),
    ({"source": "torchvision", "name": "resnet18", "kwargs": {"wings": 2}}, "torchvision's resnet18 refused its arguments"),
    ({"source": "torchvision", "name": "inception_v3"}, "cannot take the dataset's 28x28 images"),
    ({"source": "module", "factory": "models/mynet.py:not_a_model"}, "returned str, not a torch.nn.Module"),
    ({"source": "module", "factory": "models/mynet.py:scripted"}, "returned a TorchScript module"),
    ({"source": "module", "factory": "models/mynet.py:nothing"}, "models/mynet.py has no function nothing"),
    ({"source": "module", "factory": "models/broken.py:make_net"}, r"models/broken.py cannot be imported \(SyntaxError"),
    ({"source": "module", "factory": "models/mynet.py"}, "expected path/to/file.py:make_net"),
    ({"source": "module", "factory": "no_such_package.mod:make_net"}, r"no_such_package.mod cannot be imported \(ModuleNotFoundError"),
    ({"source": "module", "factory": "models/mynet.py:make_net", "kwargs": {"num_classes": 3}},
     r"output is \[2, 3\] for 2 images, not logits of the dataset's 10 classes"),
])
def test_a_model_that_cannot_be_built_is_refused_in_one_line(in_project, model, message):
    (in_project / "models" / "broken.py").write_text("def make_net(:\n")
    with pytest.raises(ArgumentError, match=message) as info:
        model_from_config(config_of(**model))
    assert "\n" not in str(info.value)


def test_a_factory_in_the_project_gets_the_dataset_s_classes(in_project):
    model = model_from_config(config_of(source="module", factory="models/mynet.py:make_net", kwargs={"width": 4}))
    assert model.fc.out_features == 10 and model.stem.out_channels == 4
    assert factory_callable("featuremaps.model.network:build_model").__name__ == "build_model"


def trained_elsewhere(path, wrap=lambda sd: sd):
    torch.manual_seed(3)
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    torch.save(wrap(nn.DataParallel(net).state_dict()), path)
    return net


def test_checkpoints_through_their_wrappers_and_prefixes(tmp_path):
    net = trained_elsewhere(tmp_path / "dp.pt")
    assert next(iter(torch.load(tmp_path / "dp.pt", weights_only=True))).startswith("module.")
    trained_elsewhere(tmp_path / "wrapped.pth", lambda sd: {"model_state_dict": sd, "epoch": 7,
                                                             "optimizer": {"state": {}, "lr": 0.1}})
    compiled = {f"_orig_mod.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": compiled}, tmp_path / "compiled.pt")
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "net.safetensors")
    for name in ("dp.pt", "wrapped.pth", "compiled.pt", "net.safetensors"):
        state = read_state_dict(tmp_path / name)
        assert sorted(state) == sorted(net.state_dict()), name
        assert all(torch.equal(state[k], v) for k, v in net.state_dict().items()), name
        fresh = torchvision.models.resnet18(weights=None, num_classes=10)
        load_weights(fresh, state, tmp_path / name)
        assert all(torch.equal(fresh.state_dict()[k], v) for k, v in net.state_dict().items()), name


def test_a_checkpoint_that_cannot_be_used_is_refused_in_one_line(tmp_path):
    net = trained_elsewhere(tmp_path / "dp.pt")
    torch.save(net, tmp_path / "whole.pt")
    torch.jit.save(torch.jit.script(net), tmp_path / "scripted.pt")
    (tmp_path / "text.pt").write_text("not weights")
    torch.save({"backbone." + k: v for k, v in net.state_dict().items()}, tmp_path / "prefixed.pt")
    cases = [("whole.pt", "pickled Python objects .* torch.save\\(model.state_dict\\(\\), path\\)"),
             ("scripted.pt", "a TorchScript file; forward hooks do not run inside one"),
             ("text.pt", "not a file torch.save wrote"),
             ("missing.pt", "not found")]
    for name, message in cases:
        with pytest.raises(ArgumentError, match=message) as info:
            read_state_dict(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(ArgumentError, match="missing keys bn1.bias, bn1.num_batches_tracked, bn1.running_mean and "
                                             "119 more; unexpected keys backbone.bn1.bias, .*the checkpoint's keys "
                                             "start with 'backbone.'"):
        load_weights(torchvision.models.resnet18(weights=None, num_classes=10),
                     read_state_dict(tmp_path / "prefixed.pt"), tmp_path / "prefixed.pt")
    with pytest.raises(ArgumentError, match=r"fc.weight has shape \[10, 512\], the model's \[5, 512\] \(1 more differ\)"):
        load_weights(torchvision.models.resnet18(weights=None, num_classes=5), net.state_dict(), "net")


@pytest.mark.parametrize("model, train, message", [
    ({"source": "torchvision"}, {}, "model.name is empty; model.source torchvision needs"),
    ({"name": "resnet18"}, {}, "model.name = 'resnet18' is read only with model.source torchvision"),
    ({"source": "module"}, {}, "model.factory is empty"),
    ({"kwargs": {"width": 3}}, {}, "model.kwargs is read only with model.source torchvision or module"),
    ({}, {"epochs": 0}, "train.epochs = 0 evaluates model.checkpoint as it is, but model.checkpoint is empty"),
    ({"checkpoint": "/tmp/w.pt"}, {}, "put the file under models/"),
    ({"checkpoint": "models/../w.pt"}, {}, "put the file under models/"),
    ({"checkpoint": "models/none.pt"}, {}, "'models/none.pt': not found"),
    ({"source": "module", "factory": "mynet.py:make_net"}, {}, "model.factory = 'mynet.py': put the file under models/"),
])
def test_model_settings_that_do_not_go_together_are_refused(in_project, model, train, message):
    with pytest.raises(ParamsError, match=message):
        check_model_settings(params_from_dict({"model": model, "train": train}))
    check_model_settings(params_from_dict({"model": {"source": "module", "factory": "models/mynet.py:make_net"}}))


def test_a_dataparallel_checkpoint_evaluated_as_it_is_gives_the_plain_evaluation_s_accuracy(tmp_path, idx_dir, capsys):
    folder = stage_folder(tmp_path / "run", idx_dir, train={"epochs": 0},
                          model={"source": "module", "factory": "models/mynet.py:make_net",
                                 "checkpoint": "models/trained.pt"})
    (folder / "models").mkdir()
    (folder / "models" / "mynet.py").write_text(MYNET)
    assert stage_exit(folder, "download")[0] == 0
    # trained outside the pipeline, in plain PyTorch, and saved through nn.DataParallel
    namespace = {}
    exec(MYNET, namespace)
    torch.manual_seed(5)
    net = namespace["make_net"](10)
    meta = read_meta(folder / "data/dataset")
    (tr_x, tr_y), (va_x, va_y) = read_split(folder / "data/dataset", "train"), read_split(folder / "data/dataset", "val")

    def prepared(images):
        return (torch.from_numpy(images).float()[:, None] / 255 - meta["mean"][0]) / meta["std"][0]
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(40):
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(prepared(tr_x)), torch.from_numpy(tr_y).long()).backward()
        optimiser.step()
    torch.save(nn.DataParallel(net).state_dict(), folder / "models" / "trained.pt")
    with torch.no_grad():
        expected = float((net.eval()(prepared(va_x)).argmax(1).numpy() == va_y).mean())
    assert stage_exit(folder, "train")[0] == 0
    metrics = json.loads((folder / "reports/metrics.json").read_text())
    assert metrics["val_accuracy"] == expected and expected > 0.3
    assert metrics["epochs"] == 1 and metrics["best_epoch"] == 0
    history = (folder / "reports/plots/history.csv").read_text().splitlines()
    assert len(history) == 2 and history[1].startswith("0,")
    with pytest.raises(ArtifactError, match="its model cannot be built here .*models/mynet.py not found"):
        load_checkpoint(folder / "data/model/model.pt")  # the factory is the project's: read from its folder
    # what compare reads of a revision's model: its description, from anywhere, without its code
    assert read_checkpoint(folder / "data/model/model.pt")["config"]["factory"] == "models/mynet.py:make_net"
    model, ckpt = load_checkpoint(folder / "data/model/model.pt", root=folder)
    assert ckpt["config"]["source"] == "module" and ckpt["config"]["factory"] == "models/mynet.py:make_net"
    assert all(torch.equal(model.state_dict()[k], v) for k, v in net.state_dict().items())
    assert np.allclose(model.pixel_mean.numpy(), meta["mean"]) and np.allclose(model.pixel_std.numpy(), meta["std"])

    # featuremaps layers, from another folder: the trained model's layers by name, with their shapes
    capsys.readouterr()
    assert cli.main(["layers", "--repo", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{folder / 'data/model/model.pt'}:"
    assert lines[1].startswith("models/mynet.py:make_net (module) on 1x28x28 images: 8 layers with maps, 3 of them conv")
    rows = {line[2:].split()[0]: line for line in lines[3:]}
    assert list(rows) == ["stem", "block.conv1", "block.bn1", "block.relu:1", "block.depthwise", "block.relu:2",
                          "block", "pool"]
    assert rows["stem"].split() == ["*", "stem", "Conv2d", "8", "x", "14", "x", "14", "k3x3", "s2x2", "p1x1"]
    assert rows["block.depthwise"].split()[-1] == "g8" and rows["block.relu:2"].startswith("  block.relu:2")


def test_sizes_measured_from_the_builtin_network_are_the_cost_formulas():
    from featuremaps.cost import _sizes
    from featuremaps.data.shape import DataShape
    from featuremaps.model.network import ConvNet
    from featuremaps.model.sizes import measured_sizes
    params = params_from_dict({"model": {"conv_channels": [6, 16, 32], "kernel_size": 5}})
    measured = measured_sizes(ConvNet(conv_channels=(6, 16, 32), kernel_size=5), (28, 28))
    formulas = _sizes(params, DataShape(100, 10, 28, 28))
    for key in ("params", "flops"):
        assert measured[key] == formulas[key], key
    for key in ("acts", "conv_flops", "channels"):
        assert [measured[key][i] for i in measured["convs"]] == formulas[key], key
    assert [measured["names"][i] for i in measured["convs"]] == ["conv1", "conv2", "conv3"]
    assert measured["names"] == ["conv1", "pool:1", "dropout2d:1", "conv2", "pool:2", "dropout2d:2", "conv3",
                                 "pool:3", "dropout2d:3"]


def test_a_torchvision_model_too_large_for_the_budget_is_refused_naming_what_fits():
    from featuremaps.cost import GiB, check_costs, memory_budget, stage_costs
    from featuremaps.data.shape import DataShape
    from featuremaps.model.sizes import planned_sizes
    params = params_from_dict({"model": {"source": "torchvision", "name": "resnet18"},
                               "extract": {"layers": ["layer1", "layer4"]}, "visualize": {"steps": 64}})
    small = DataShape(500, 100, 32, 32, 10, 3)
    check_costs(params, small, planned_sizes(params, small))
    with pytest.raises(ParamsError, match="or analyse fewer of its 20 conv layers in extract.layers"):
        every = params_from_dict({"model": {"source": "torchvision", "name": "resnet18"}})
        check_costs(every, small, planned_sizes(every, small))
    params = params_from_dict({"model": {"source": "torchvision", "name": "resnet18"}, "train": {"epochs": 1},
                               "extract": {"layers": ["layer4"]}, "visualize": {"steps": 8, "seeds": 1},
                               "attribute": {"ig_steps": 4}, "timelapse": {"vis_epochs": [0]}})
    big = DataShape(5_000, 1_000, 128, 128, 10, 3)
    measured = planned_sizes(params, big)
    assert [c.stage for c in stage_costs(params, big, measured)] == ["train", "extract", "visualize", "attribute",
                                                                     "timelapse"]
    with pytest.raises(ParamsError, match=r"^params.yaml: train.batch_size = 256, train.eval_batch_size = 1024 on "
                                          r"6,000 images of 128x128 need train about [\d.]+ GiB .*; the budget is "
                                          rf"{memory_budget() / GiB:.0f} GiB and 30 min a stage; "):
        check_costs(params, big, measured)
    # 4x the pixels: 4x the maps and operations, the same parameters
    quad = planned_sizes(params, DataShape(500, 100, 64, 64, 10, 3))
    small_sizes = planned_sizes(params, small)
    assert quad["params"] == small_sizes["params"]
    assert quad["acts"][:6] == [4 * a for a in small_sizes["acts"][:6]]


def test_the_check_stage_refuses_a_model_that_cannot_be_built_before_the_download(tmp_path, idx_dir, capsys):
    folder = stage_folder(tmp_path / "run", idx_dir, model={"source": "torchvision", "name": "resnt18"})
    status, err = stage_exit(folder, "check", capsys)
    assert status == 1 and not (folder / "data/dataset").exists()
    assert "error: params.yaml: model.name = 'resnt18': 'resnt18' is not a classification model of " \
           "torchvision.models; closest: resnet18" in err
