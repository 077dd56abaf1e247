"""Where the model comes from (params.yaml: model.source), built the same way by train and by every
stage that loads data/model/model.pt:

    config = source_config(params.model, meta)   # what model.pt records: the source and the dataset's shape
    model = model_from_config(config)            # untrained; its normalisation buffers attached

- builtin: featuremaps.model.network.ConvNet from model.conv_channels etc. (its config unchanged).
- torchvision: `torchvision.models.get_model(name, weights=None, num_classes=<the dataset's>,
  **kwargs)`, any classification model of torchvision.models (resnet18, vgg11_bn, mobilenet_v2, ...).
- module: `factory` is "path/to/file.py:make_net" (a file in the project, read from the project's
  folder; models/ holds an example) or "package.module:make_net" (importable), called with `kwargs`,
  and with num_classes=<the dataset's> when it takes that argument and kwargs do not set it.

A grey dataset on a model whose first conv takes 3 channels: that conv is given one input channel
whose filters are the sums of its three. Convolution is linear in its input channels, so this is
exactly the model on the grey image repeated three times (a checkpoint trained on colour images
keeps its outputs), at a third of the first layer's cost, and each first-layer filter stays one
grey image to draw. The model's output is checked once on a blank batch: logits [N, classes].
"""
from __future__ import annotations

import difflib
import importlib.util
import inspect
import sys
from pathlib import Path

import torch
from torch import nn

from featuremaps.errors import ArgumentError, ParamsError, first_line
from featuremaps.model.layers import evaluating
from featuremaps.model.network import build_model, dataset_config, model_config
from featuremaps.model.normalisation import attach_normalisation
from featuremaps.model.weights import load_weights, normalisation_of, read_state_dict
from featuremaps.params import ModelParams, reported_as


def source_config(params: ModelParams, meta: dict) -> dict:
    """What model.pt records of the model: builtin's constructor arguments as before; for another
    source, the source, its name or factory and kwargs, and what the dataset dictates."""
    if params.source == "builtin":
        return model_config(params, meta)
    config = {**dataset_config(meta), "source": params.source, "kwargs": dict(params.kwargs)}
    config.update({"name": params.name} if params.source == "torchvision" else {"factory": params.factory})
    return config


def torchvision_names() -> list:
    """The classification models of torchvision.models (not its detection or video models)."""
    import torchvision
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _torchvision_model(name: str, n_classes: int, kwargs: dict) -> nn.Module:
    import torchvision
    names = torchvision_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
        raise ArgumentError(f"{name!r} is not a classification model of torchvision.models; "
                            + (f"closest: {', '.join(close)}" if close else f"e.g. {', '.join(names[:6])}, ..."))
    try:
        return torchvision.models.get_model(name, weights=None, num_classes=n_classes, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"torchvision's {name} refused its arguments ({first_line(exc)})") from None


def factory_file(config: dict) -> Path | None:
    """The project file a model's config builds it from (model.factory "models/mynet.py:make_net"),
    or None (builtin, torchvision, an importable package)."""
    where = str(config.get("factory", "")).rpartition(":")[0]
    return Path(where) if config.get("source") == "module" and where.endswith(".py") else None


def factory_callable(factory: str, root: Path = Path(".")):
    """The callable `factory` names: "file.py:name" (relative to `root`) or "package.module:name"."""
    where, sep, attr = factory.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        raise ArgumentError(f"factory {factory!r}: expected path/to/file.py:make_net or package.module:make_net")
    try:
        if where.endswith(".py"):
            path = (root / where)
            if not path.is_file():
                raise ArgumentError(f"factory {factory!r}: {where} not found")
            name = "featuremaps_factory_" + "".join(c if c.isalnum() else "_" for c in where)
            spec, module = importlib.util.spec_from_file_location(name, path), None
        else:
            name, module = where, sys.modules.get(where)
            spec = importlib.util.find_spec(where) if module is None else None  # imports its parent packages
            if module is None and spec is None:
                raise ArgumentError(f"factory {factory!r}: no module {where} can be imported")
        if module is None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look their module up here
            spec.loader.exec_module(module)
    except ArgumentError:
        raise
    except Exception as exc:  # noqa: BLE001: any error of the user's code, in one line
        raise ArgumentError(f"factory {factory!r}: {where} cannot be imported "
                            f"({type(exc).__name__}: {first_line(exc)})") from None
    made = getattr(module, attr, None)
    if not callable(made):
        raise ArgumentError(f"factory {factory!r}: {where} has no function {attr}")
    return made


def _module_model(factory: str, n_classes: int, kwargs: dict, root: Path) -> nn.Module:
    make = factory_callable(factory, root)
    kwargs = dict(kwargs)
    try:
        takes = inspect.signature(make).parameters
    except (TypeError, ValueError):
        takes = {}
    if "num_classes" in takes and "num_classes" not in kwargs:
        kwargs["num_classes"] = n_classes
    try:
        model = make(**kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ArgumentError(f"factory {factory!r} failed ({type(exc).__name__}: {first_line(exc)})") from None
    if isinstance(model, torch.jit.ScriptModule):
        raise ArgumentError(f"factory {factory!r} returned a TorchScript module, whose layers forward hooks "
                            f"cannot see; return the nn.Module itself")
    if not isinstance(model, nn.Module):
        raise ArgumentError(f"factory {factory!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def raw_model(config: dict, root: Path = Path(".")) -> nn.Module:
    """The model `config` names, as its source builds it (before any input adaptation); a factory file
    is read from the project folder `root`."""
    source = config.get("source", "builtin")
    if source == "builtin":
        return build_model(config)
    if source == "torchvision":
        return _torchvision_model(config["name"], config["n_classes"], config["kwargs"])
    return _module_model(config["factory"], config["n_classes"], config["kwargs"], root)


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    return next(((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)


def adapted_to_channels(model: nn.Module, channels: int) -> nn.Module:
    """`model` taking `channels` input channels: a 3-channel first conv summed to one for grey data
    (see the module's docstring); ArgumentError where they cannot agree."""
    found = first_conv(model)
    if found is None or found[1].in_channels == channels:
        return model
    name, conv = found
    if not (channels == 1 and conv.in_channels == 3 and conv.groups == 1):
        raise ArgumentError(f"the model's first conv ({name}) takes {conv.in_channels} input channel(s); "
                            f"the dataset's images have {channels}")
    grey = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                     bias=conv.bias is not None, padding_mode=conv.padding_mode)
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(1, keepdim=True))
        if conv.bias is not None:
            grey.bias.copy_(conv.bias)
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, grey)
    return model


def check_logits(model: nn.Module, config: dict) -> None:
    """ArgumentError unless the model maps a batch of the dataset's images to [N, classes] logits."""
    h, w = config["image_shape"]
    try:
        with torch.no_grad(), evaluating(model):  # a blank batch must not move batch-norm statistics
            out = model(torch.zeros(2, config["in_channels"], h, w))
    except Exception as exc:  # noqa: BLE001: the user's model, in one line
        raise ArgumentError(f"the model cannot take the dataset's {h}x{w} images with {config['in_channels']} "
                            f"channel(s) ({type(exc).__name__}: {first_line(exc)})") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, config["n_classes"]):
        shape = f"[{', '.join(map(str, out.shape))}]" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ArgumentError(f"the model's output is {shape} for 2 images, not logits of the dataset's "
                            f"{config['n_classes']} classes [2, {config['n_classes']}]")


def model_from_config(config: dict, weights=None, root: Path = Path(".")) -> nn.Module:
    """The model `config` describes, taking the dataset's channels, with normalisation buffers (zeros and
    ones until set or loaded), its output checked. `weights`: a callable given the raw model (before
    any input adaptation) that loads weights trained elsewhere into it. `root`: the project folder."""
    model = raw_model(config, root)
    if weights is not None:
        weights(model)
    if config.get("source", "builtin") == "builtin":
        return model
    model = adapted_to_channels(model, config["in_channels"])
    attach_normalisation(model, torch.zeros(config["in_channels"]), torch.ones(config["in_channels"]))
    check_logits(model, config)
    return model


def reported_source(params: ModelParams):
    """A context in which a model that cannot be built stops as a ParamsError naming the setting that
    says which model: model.conv_channels, model.name or model.factory."""
    if params.source == "builtin":
        return reported_as("model.conv_channels", list(params.conv_channels))
    key = {"torchvision": "name", "module": "factory"}[params.source]
    return reported_as(f"model.{key}", getattr(params, key))


def starting_model(params: ModelParams, config: dict, meta: dict, root: Path = Path(".")) -> nn.Module:
    """The model train starts from (or, with train.epochs 0, evaluates): built from `config`, with
    model.checkpoint's weights when set, and its input normalisation: model.input_mean/input_std
    where set, else what a featuremaps model file carries, else the train split's (meta.json).
    Call with torch seeded: the initial weights are drawn here. ParamsError naming the setting."""
    state = None
    if params.checkpoint:
        with reported_as("model.checkpoint", params.checkpoint):
            state = read_state_dict(root / params.checkpoint)

    def weights(model):
        with reported_as("model.checkpoint", params.checkpoint):
            load_weights(model, state, params.checkpoint)

    with reported_source(params):
        model = model_from_config(config, weights if state is not None else None, root)
    carried = normalisation_of(state) if state is not None else None
    mean, std = carried or (meta["mean"], meta["std"])
    for key, given in (("model.input_mean", params.input_mean), ("model.input_std", params.input_std)):
        if given != "auto" and len(given) != config["in_channels"]:
            raise ParamsError(f"params.yaml: {key} = {list(given)} has {len(given)} value(s); the dataset's images "
                              f"have {config['in_channels']} channel(s)")
    mean = list(params.input_mean) if params.input_mean != "auto" else mean
    std = list(params.input_std) if params.input_std != "auto" else std
    return attach_normalisation(model, mean, std)
