"""The layers of any PyTorch model, named as PyTorch names its modules, and their maps captured
with forward hooks:

    calls = module_calls(model, example)                 # every module call of one forward, in order
    layer = resolve_layer(calls, "layer1.0.relu:2")      # checked: exists, reached, [N, C, H, W]
    maps = captured_maps(model, x, ["layer1.0.conv1", "layer4"])   # {name: tensor}, forward stopped early

A layer is a path of `model.named_modules()` (`layer2.0.conv1`, `features.6`, or `layer3` for a
whole block's output). A module the forward calls more than once (torchvision's BasicBlock calls its
`relu` twice) is named with its call, counted from 1: `layer1.0.relu:2`. Captured maps are clones
(an in-place ReLU after a conv must not change the conv's stored map), the hooks are removed when
the forward ends or fails, and the forward stops after the last requested layer where nothing
after it is needed. Analyses run the model `evaluating(model)`: in eval mode, its own mode put back
after, so that neither the hooks nor a forward pass change it or its batch-norm statistics (and no
copy of a large model is made).
"""
from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass

import torch
from torch import nn

from featuremaps.errors import ArgumentError

CALL = ":"  # between a module's path and its call: "layer1.0.relu:2"
SHOWN = 6   # names listed in a message at most


@dataclass(frozen=True)
class LayerCall:
    """One call of a module in a forward pass: `name` as a layer is addressed, `module` its path in
    named_modules(), `call` its number (from 1) among that module's calls, `kind` the module's class,
    `shape` the output's shape less the batch (None when the output is not a tensor), and the
    geometry of a conv or pooling module (None elsewhere)."""
    name: str
    module: str
    call: int
    kind: str
    shape: tuple | None
    kernel: tuple | None = None
    stride: tuple | None = None
    padding: tuple | None = None
    dilation: tuple | None = None
    groups: int | None = None

    @property
    def is_map(self) -> bool:
        """Is the output a batch of maps [N, C, H, W]?"""
        return self.shape is not None and len(self.shape) == 3


def _pair(value) -> tuple | None:
    if value is None or isinstance(value, str):  # padding="same" is resolved by the record's shape
        return None
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value), int(value))


def module_geometry(module: nn.Module) -> dict:
    """kernel, stride, padding, dilation (pairs) and groups of a conv or pooling module; {} for another."""
    if isinstance(module, nn.Conv2d):
        return {"kernel": _pair(module.kernel_size), "stride": _pair(module.stride), "padding": _pair(module.padding),
                "dilation": _pair(module.dilation), "groups": int(module.groups)}
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        return {"kernel": _pair(module.kernel_size), "stride": _pair(stride), "padding": _pair(module.padding),
                "dilation": _pair(getattr(module, "dilation", 1)), "groups": None}
    return {}


def split_name(name: str) -> tuple[str, int | None]:
    """"layer1.0.relu:2" -> ("layer1.0.relu", 2); "layer1.0.conv1" -> ("layer1.0.conv1", None)."""
    path, sep, call = name.rpartition(CALL)
    if not sep:
        return name, None
    if not call.isdigit() or int(call) < 1:
        raise ArgumentError(f"layer {name!r}: the call after {CALL!r} is a number from 1, e.g. {path}{CALL}2")
    return path, int(call)


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """`model` in eval mode inside the block, its own mode (train or eval, module by module) back after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def module_calls(model: nn.Module, example: torch.Tensor) -> list[LayerCall]:
    """Every call of every named module (the root excepted) in one forward of `example` (a batch, the
    model's input), in the order the calls return: a block's children before the block."""
    counts, found = {}, []

    def hook_for(path):
        def hook(module, args, output):
            counts[path] = counts.get(path, 0) + 1
            shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else None
            found.append((path, counts[path], type(module).__name__, shape, module_geometry(module)))
        return hook

    handles = [m.register_forward_hook(hook_for(path)) for path, m in model.named_modules() if path]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return [LayerCall(name=path if counts[path] == 1 else f"{path}{CALL}{call}", module=path, call=call, kind=kind,
                      shape=shape, **geometry)
            for path, call, kind, shape, geometry in found]


def _closest(name: str, names: list) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    shown = close or names[:SHOWN]
    return f"{'closest' if close else 'its layers include'}: {', '.join(shown)}" + (
        "" if close or len(names) <= SHOWN else f" (of {len(names)}; `featuremaps layers` lists them all)")


def resolve_layer(calls: list, name: str, module_paths=()) -> LayerCall:
    """The call `name` addresses among `calls` (from module_calls), checked to be a map [N, C, H, W];
    ArgumentError with one line otherwise. module_paths: every path of named_modules(), to tell a
    module the forward never reaches from a name that does not exist."""
    path, call = split_name(name)
    mine = [c for c in calls if c.module == path]
    if not mine:
        if path in module_paths:
            raise ArgumentError(f"layer {name!r}: the forward never calls this module, so it has no map")
        raise ArgumentError(f"layer {name!r} is not a module of the model; "
                            f"{_closest(path, [c.name for c in calls if c.is_map])}")
    if call is None and len(mine) > 1:
        raise ArgumentError(f"layer {name!r} runs {len(mine)} times in one forward: name one call, "
                            f"{', '.join(c.name for c in mine)}")
    if call is not None and call > len(mine):
        raise ArgumentError(f"layer {name!r}: {path} runs {len(mine)} time(s) in one forward; "
                            f"its calls: {', '.join(c.name for c in mine)}")
    found = mine[(call or 1) - 1]
    if not found.is_map:
        shape = "not a tensor" if found.shape is None else f"[N, {', '.join(map(str, found.shape))}]"
        raise ArgumentError(f"layer {name!r} ({found.kind}) gives {shape}, not maps [N, C, H, W]")
    return found


class _Stop(Exception):
    """Raised from a hook once every requested map is captured: nothing after it is needed."""


def captured_maps(model: nn.Module, x: torch.Tensor, layers: list, stop: bool = True, detach: bool = True) -> dict:
    """{layer name: its output for input `x`}, a clone of each (detached unless `detach` is False, for
    gradients through it); with `stop`, the forward ends after the last of them. Names as
    resolve_layer takes them; a layer the forward does not reach is an ArgumentError."""
    copy_of = (lambda out: out.detach().clone()) if detach else torch.clone
    with hooked_maps(model, layers, copy_of, stop=stop) as maps:
        try:
            model(x)
        except _Stop:
            pass
    unreached = [name for name in layers if name not in maps]
    if unreached:
        raise ArgumentError(f"layer {unreached[0]!r}: the forward never reached it")
    return dict(maps)


@contextlib.contextmanager
def hooked_maps(model: nn.Module, layers: list, transform=torch.clone, where=split_name, stop: bool = False):
    """Yield a dict that each forward pass of `model` fills with {layer: transform(its map)} (a clone by
    default: an in-place operation after the layer must not change it); the hooks are removed on
    leaving. With `stop`, a forward stops (raising _Stop) once every layer is captured. Layers as
    call_hooks takes them."""
    captured = {}

    def keep(name, output):
        captured[name] = transform(output)
        if stop and len(captured) == len(layers):
            raise _Stop

    with call_hooks(model, layers, keep, where):
        yield captured


@contextlib.contextmanager
def call_hooks(model: nn.Module, layers: list, on_call, where=split_name):
    """Inside the block, on_call(layer, output) at each call that a name of `layers` addresses; what it
    returns, when not None, is the module's output from then on. Names as resolve_layer takes them, or
    as `where` maps a name to (module path, call). A name without a call takes every call of its
    module (the one call resolve_layer allows; the builtin network's features() runs without the
    model's forward, so without a count to reset); a name with one, that call in each forward."""
    wanted, counts = {}, {}
    for name in layers:
        path, call = where(name)
        wanted.setdefault(path, {})[call] = name
    modules = dict(model.named_modules())
    missing = [path for path in wanted if path not in modules or not path]
    if missing:
        raise ArgumentError(f"layer {missing[0]!r} is not a module of the model; "
                            f"{_closest(missing[0], [p for p in modules if p])}")

    def hook_for(path):
        def hook(module, args, output):
            counts[path] = counts.get(path, 0) + 1
            name = wanted[path].get(counts[path], wanted[path].get(None))
            return None if name is None else on_call(name, output)
        return hook

    handles = [model.register_forward_pre_hook(lambda module, args: counts.clear())]
    handles += [modules[path].register_forward_hook(hook_for(path)) for path in wanted]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
