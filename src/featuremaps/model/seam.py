"""The one seam between a model and the analyses: what an analysis asks of any model, the builtin
network (featuremaps.model.network.ConvNet, which keeps its fast paths) or another (a torchvision
model, the user's own module).

    layers = chosen_layers(model, params.extract.layers, image_shape)   # checked names, in forward order
    with hooked(model, layers, F.relu) as maps: model(x); maps[layer]   # each forward's maps
    boxes = unit_boxes(model, layer, units, image_shape)                # receptive fields of units (c, y, x)
    filters = layer_filters(model, layers)                              # a conv layer's kernels

A layer of the builtin network is `conv<i>`, its map taken after its batch norm where it has one (as
before); any other model's layers are the module names of featuremaps.model.layers
(`layer1.0.conv1`, `layer1.0.relu:2`), and `extract.layers: all` takes every call of a Conv2d.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from featuremaps.errors import ArgumentError
from featuremaps.model.layers import call_hooks, captured_maps, evaluating, hooked_maps, module_calls, resolve_layer, \
    split_name
from featuremaps.model.network import ConvNet, receptive_field, selected_layers
from featuremaps.model.normalisation import input_channels
from featuremaps.model.receptive import receptive_boxes


def is_builtin(model: nn.Module) -> bool:
    return isinstance(model, ConvNet)


def layer_calls(model: nn.Module, image_shape) -> list:
    """module_calls of one blank image of `image_shape` (h, w): every call, its shape and geometry."""
    h, w = image_shape[:2]
    with evaluating(model):  # hooks only, no gradients: nothing of the model changes, and no copy of it
        return module_calls(model, torch.zeros(1, input_channels(model), h, w))


def chosen_layers(model: nn.Module, layers, image_shape) -> list:
    """The layers `layers` names ("all", or a list), checked, in the order the forward reaches them;
    ArgumentError with one line for a name that cannot be used."""
    if is_builtin(model):
        return selected_layers(model, layers)
    calls = layer_calls(model, image_shape)
    if layers == "all":
        return [c.name for c in calls if c.kind == "Conv2d" and c.is_map]
    paths = dict(model.named_modules())
    found = [resolve_layer(calls, name, paths).name for name in layers]
    order = [c.name for c in calls]
    return sorted(found, key=order.index)


@contextlib.contextmanager
def hooked(model: nn.Module, layers: list, transform=torch.clone):
    """Yield a dict each forward of `model` fills with {layer: transform(its map)}; hooks removed on leaving."""
    where = split_name
    if is_builtin(model):  # conv<i> is its conv module's output, or its batch norm's
        paths = {id(m): path for path, m in model.named_modules()}
        where = lambda name: (paths[id(model.output_module(name))], None)  # noqa: E731
    with hooked_maps(model, layers, transform, where) as captured:
        yield captured


def unit_boxes(model: nn.Module, layer: str, units: list, image_shape) -> list:
    """(top, left, bottom, right), inclusive, of the input pixels each unit (c, y, x) of `layer` sees:
    the builtin network's from its kernels, strides and paddings; any other model's from the support
    of its input gradient (featuremaps.model.receptive: exact for strided, dilated, depthwise and
    residual paths). The two agree on the builtin network (tested)."""
    h, w = image_shape[:2]
    if is_builtin(model):
        path = model.spatial_path(layer)
        return [receptive_field(path, y, x, (h, w)) for _, y, x in units]
    return receptive_boxes(model, layer, units, (h, w), input_channels(model))


def layer_filters(model: nn.Module, layers: list) -> dict:
    """{layer: kernels [out, in/groups, kh, kw] as float32 numpy} of the layers that are convolutions."""
    modules = dict(model.named_modules())
    out = {}
    for name in layers:
        module = modules.get(name if is_builtin(model) else split_name(name)[0])
        if isinstance(module, nn.Conv2d):
            out[name] = module.weight.detach().float().cpu().numpy()
        elif module is None:
            raise ArgumentError(f"layer {name!r} is not a module of the model")
    return out


@contextlib.contextmanager
def tapped(model: nn.Module, layer: str):
    """Yield a module whose output is `layer`'s map in each forward inside the block, for what takes a
    module (Captum's layer methods, a hook that ablates channels): the builtin network's own module for
    the layer; for another model an identity module the layer's output is passed through at its call
    (so a reused module's second call is a module of its own), removed on leaving."""
    if is_builtin(model):
        yield model.output_module(layer)
        return
    tap = nn.Identity()
    # the network goes on with a copy: an in-place op after the layer must not change what the tap gave
    with call_hooks(model, [layer], lambda name, output: tap(output).clone()):
        yield tap


def layer_map(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """`layer`'s map of inputs x, the forward stopped there (the builtin network's features(upto=))."""
    if is_builtin(model):
        return model.features(x, upto=layer)
    return captured_maps(model, x, [layer], detach=False)[layer]


def map_channels(model: nn.Module, layers: list, image_shape) -> dict:
    """{layer: its number of channels}."""
    if is_builtin(model):
        return {name: getattr(model, name).out_channels for name in layers}
    shapes = {c.name: c.shape for c in layer_calls(model, image_shape)}
    return {name: shapes[name][0] for name in layers}


def through_deepest(model: nn.Module, x: torch.Tensor, layers: list) -> None:
    """A forward of x that reaches every layer in `layers` (hooks capture them): the builtin network's
    conv part up to the deepest; another model's whole forward."""
    if is_builtin(model):
        model.features(x, upto=max(layers, key=model.conv_layers.index))
    else:
        model(x)
