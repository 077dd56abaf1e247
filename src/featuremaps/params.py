"""Typed settings loaded from params.yaml, checked before any work starts.

    from featuremaps.params import load_params
    p = load_params("params.yaml")
    p.train.lr, p.extract.layers, ...

Every key is declared here with its type and allowed values; params.yaml holds the
values. An unknown section or key, a wrong type or an out-of-range value raises
ParamsError with one line naming the key, the value found and what is allowed. The ranges
admit what a small CNN on MNIST-like data can use; within them, what the sizes together cost is
checked by featuremaps.cost.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from featuremaps.errors import ArgumentError, ParamsError, first_line
from featuremaps.paths import PARAMS


# Where a torch stage runs: auto = CUDA, then MPS, then CPU (featuremaps.model.device); the accelerators.
DEVICES = ("auto", "cpu", "cuda", "mps")
ACCELERATORS = ("cuda", "mps")
# The fewest probe images a CKA over epochs is worth computing on (with one image it is undefined).
MIN_PROBE = 10


def _spec(*, choices=None, low=None, high=None, low_open=False, high_open=False, min_len=None, max_len=None,
          valid=None, word=None, item_word=None):
    # For a list, low/high bound each item and min_len/max_len its length; `word` is a string
    # accepted in place of the list (extract.layers: all), `item_word` one accepted as an item of a
    # list of integers (timelapse.vis_epochs: [0, 5, last]).
    return {"choices": choices, "low": low, "high": high, "low_open": low_open, "high_open": high_open,
            "min_len": min_len, "max_len": max_len, "valid": valid, "word": word, "item_word": item_word}


def colormap_problem(name: str) -> str | None:
    """None for a name in matplotlib's colour map registry, else what is allowed, closest names first."""
    import matplotlib  # here, not at the top: only the render settings need it
    names = sorted(matplotlib.colormaps)
    if name in names:
        return None
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.6)
    return ("a matplotlib colour map; closest: " + ", ".join(close) if close
            else "a matplotlib colour map, e.g. viridis, magma, cividis, gray, RdBu_r")


def _f(default=dataclasses.MISSING, default_factory=dataclasses.MISSING, **spec):
    return field(default=default, default_factory=default_factory, metadata=_spec(**spec))


@dataclass(frozen=True)
class DataParams:
    source: str = _f("auto", choices=("auto", "torchvision", "npm", "idx", "folder"))
    dataset: str = _f("auto", choices=("auto", "mnist", "fashion-mnist", "cifar10"))
    idx_dir: str = _f("")
    folder: str = _f("images", valid=lambda v: None if v else "a folder path (images/ in the project by default)")
    image_size: tuple[int, ...] | str = _f("auto", low=4, high=256, min_len=2, max_len=2, word="auto")
    channels: int | str = _f("auto", choices=("auto", 1, 3))
    val_fraction: float = _f(1 / 6, low=0.0, high=1.0, low_open=True, high_open=True)
    split_seed: int = _f(0, low=0, high=2**32 - 1)


@dataclass(frozen=True)
class ModelParams:
    source: str = _f("builtin", choices=("builtin", "torchvision", "module"))
    name: str = _f("")        # source torchvision: a classification model of torchvision.models
    factory: str = _f("")     # source module: "path/to/file.py:make_net" or "package.module:make_net"
    kwargs: dict = _f(default_factory=dict)  # passed to the torchvision builder or the factory
    checkpoint: str = _f("")  # weights trained elsewhere: a state dict (.pt/.pth) or .safetensors
    input_mean: tuple[float, ...] | str = _f("auto", min_len=1, max_len=3, low=-1e3, high=1e3, word="auto")
    input_std: tuple[float, ...] | str = _f("auto", min_len=1, max_len=3, low=0.0, high=1e3, low_open=True, word="auto")
    conv_channels: tuple[int, ...] = _f(default_factory=lambda: (6, 16), low=1, high=256, min_len=1, max_len=6)
    kernel_size: int = _f(3, choices=(3, 5))
    batch_norm: bool = _f(False)
    fc_units: tuple[int, ...] = _f(default_factory=lambda: (120, 84), low=1, high=4096, min_len=0, max_len=4)
    dropout: float = _f(0.1, low=0.0, high=1.0, high_open=True)
    dropout2d: float = _f(0.1, low=0.0, high=1.0, high_open=True)


@dataclass(frozen=True)
class TrainParams:
    epochs: int = _f(15, low=0, high=1000)  # 0: model.checkpoint evaluated as it is
    batch_size: int = _f(256, low=1, high=1 << 16)
    eval_batch_size: int = _f(1024, low=1, high=1 << 16)
    lr: float = _f(1e-3, low=0.0, high=10.0, low_open=True)
    weight_decay: float = _f(0.01, low=0.0, high=10.0)
    lr_step_size: int = _f(1, low=1, high=100000)
    lr_gamma: float = _f(0.995, low=0.0, high=1.0, low_open=True)
    grad_clip: float = _f(1.0, low=0.0, high=1e6, low_open=True)
    rescore_train: bool = _f(False)
    snapshot_every: int = _f(1, low=0, high=1000)
    device: str = _f("auto", choices=DEVICES)
    channels_last: bool = _f(True)
    precision: str = _f("fp32", choices=("fp32", "bf16"))


@dataclass(frozen=True)
class ExtractParams:
    layers: tuple[str, ...] | str = _f("all", min_len=1, word="all")
    activation: str = _f("relu", choices=("relu", "raw"))
    batch_size: int = _f(256, low=1, high=1 << 16)
    means_split: str = _f("train", choices=("train", "val"))
    top_k: int = _f(8, low=1, high=100)
    top_k_by: str = _f("max", choices=("max", "sum"))
    device: str = _f("auto", choices=DEVICES)


@dataclass(frozen=True)
class VisualizeParams:
    objective: str = _f("channel", choices=("channel", "neuron"))
    seeds: int = _f(4, low=1, high=16)
    steps: int = _f(256, low=1, high=2000)
    lr: float = _f(0.05, low=0.0, high=10.0, low_open=True)
    jitter: int = _f(2, low=0, high=8)
    scale: float = _f(0.0, low=0.0, high=0.5)
    rotate: float = _f(0.0, low=0.0, high=45.0)
    parametrisation: str = _f("sigmoid", choices=("sigmoid", "fourier"))
    tv: float = _f(0.0, low=0.0, high=100.0)
    l1: float = _f(1.0, low=0.0, high=100.0)
    diversity: float = _f(0.0, low=0.0, high=100.0)
    negative: bool = _f(True)
    device: str = _f("auto", choices=DEVICES)


@dataclass(frozen=True)
class AttributeParams:
    split: str = _f("val", choices=("val", "train"))
    n_misclassified: int = _f(8, low=0, high=64)
    ig_steps: int = _f(32, low=1, high=256)
    batch_size: int = _f(256, low=1, high=4096)
    gradcam_map: str = _f("conv", choices=("conv", "rectified"))
    ablate_k: int = _f(3, low=1, high=64)
    random_draws: int = _f(10, low=1, high=100)
    device: str = _f("auto", choices=DEVICES)


@dataclass(frozen=True)
class TimelapseParams:
    probe_size: int = _f(1000, low=MIN_PROBE, high=5000)
    top_k: int = _f(4, low=1, high=16)
    vis_epochs: tuple[int, ...] = _f(default_factory=lambda: (0, 1, 2, 5, "last"), low=0, high=1000, min_len=0,
                                     max_len=8, item_word="last")
    seeds: int = _f(1, low=1, high=16)
    device: str = _f("auto", choices=DEVICES)


@dataclass(frozen=True)
class RenderParams:
    cmap: str = _f("viridis", valid=colormap_problem)
    diverging_cmap: str = _f("RdBu_r", valid=colormap_problem)
    dpi: int = _f(100, low=30, high=600)
    shared_scale: bool = _f(True)
    n_samples: int = _f(16, low=1, high=400)
    tile_inches: float = _f(0.9, low=0.1, high=10.0)
    hist_bins: int = _f(60, low=2, high=10000)
    figure_features: int = _f(32, low=1, high=1024)


@dataclass(frozen=True)
class Params:
    seed: int = _f(0, low=0, high=2**32 - 1)
    data: DataParams = field(default_factory=DataParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    extract: ExtractParams = field(default_factory=ExtractParams)
    visualize: VisualizeParams = field(default_factory=VisualizeParams)
    attribute: AttributeParams = field(default_factory=AttributeParams)
    timelapse: TimelapseParams = field(default_factory=TimelapseParams)
    render: RenderParams = field(default_factory=RenderParams)


def _item_kind(kind):
    """int or str for a list setting (tuple[int, ...], tuple[str, ...] | str), else None."""
    for option in typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else (kind,):
        if typing.get_origin(option) is tuple:
            return typing.get_args(option)[0]
    return None


def _range(spec: dict) -> str:
    lo = "(" if spec["low_open"] else "["
    hi = ")" if spec["high_open"] else "]"
    return f"{lo}{spec['low']}, {spec['high']}{hi}"


def _describe(spec: dict, kind) -> str:
    if spec["choices"]:
        return "one of " + ", ".join(map(str, spec["choices"]))
    item = _item_kind(kind)
    if item is not None:
        lo, hi = spec["min_len"] or 0, spec["max_len"]
        count = ((str(lo) if lo == hi else f"{lo} to {hi}") if hi is not None else f"at least {lo}") if lo \
            else (f"at most {hi}" if hi else "")
        one = lo == 1 and hi is None  # "at least 1 string"
        things = {int: "integer", float: "number"}.get(item, "string") + ("" if one else "s")
        things += f" in {_range(spec)}" if item in (int, float) and spec["low"] is not None else ""
        things += f" or {spec['item_word']}" if spec["item_word"] else ""
        name = f"a list of {count + ' ' if count else ''}{things}"
        return f"{spec['word']} or {name}" if spec["word"] else name
    if kind is dict:
        return "a mapping of keyword arguments (names to values)"
    name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[kind]
    if spec["low"] is None and spec["high"] is None:
        return name
    return f"{name} in {_range(spec)}"


def _in_range(value, spec: dict) -> bool:
    lo, hi = spec["low"], spec["high"]
    if lo is not None and (value < lo or (spec["low_open"] and value == lo)):
        return False
    return not (hi is not None and (value > hi or (spec["high_open"] and value == hi)))


def _check_value(key: str, value, kind, spec: dict):
    allowed = _describe(spec, kind)
    bad = ParamsError(f"params.yaml: {key} = {value!r} is not allowed; expected {allowed}")
    if spec["choices"] and _item_kind(kind) is None and typing.get_origin(kind) in (typing.Union, types.UnionType):
        # a choice among values of several types (data.channels: auto, 1 or 3)
        if isinstance(value, bool) or value not in spec["choices"]:
            raise bad
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            raise bad
        problem = spec["valid"] and spec["valid"](value)
        if problem:
            raise ParamsError(f"params.yaml: {key} = {value!r} is not allowed; expected {problem}")
    elif kind is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier() for k in value):
            raise bad
        return dict(value)
    elif (item := _item_kind(kind)) is not None:
        if spec["word"] is not None and value == spec["word"]:
            return value
        if item is int:
            fits = lambda v: ((isinstance(v, int) and not isinstance(v, bool) and _in_range(v, spec))  # noqa: E731
                              or (spec["item_word"] is not None and v == spec["item_word"]))
        elif item is float:
            fits = lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
                              and _in_range(v, spec))
        else:
            fits = lambda v: isinstance(v, str) and v  # noqa: E731
        if not isinstance(value, list) or not all(fits(v) for v in value):
            raise bad
        if len(value) < (spec["min_len"] or 0) or (spec["max_len"] is not None and len(value) > spec["max_len"]):
            raise bad
        twice = [v for i, v in enumerate(value) if v in value[:i]]
        if item is str and twice:
            raise ParamsError(f"params.yaml: {key} = {value!r} lists {twice[0]!r} twice; expected distinct values")
        return tuple(float(v) for v in value) if item is float else tuple(value)
    if spec["choices"] and value not in spec["choices"]:
        raise bad
    if not _in_range(value, spec):
        raise bad
    return value


def _build(cls, raw, prefix: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not isinstance(raw, dict):
        where = prefix.rstrip(".") or "the file"
        raise ParamsError(f"params.yaml: {where} must be a mapping of keys, found {raw!r}")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(f"params.yaml: unknown key {prefix}{unknown[0]}; "
                          f"allowed keys{' in ' + prefix.rstrip('.') if prefix else ''}: "
                          f"{', '.join(fields)}")
    values = {}
    for name, value in raw.items():
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = _build(kind, value, f"{prefix}{name}.")
        else:
            values[name] = _check_value(prefix + name, value, kind, fields[name].metadata)
    return cls(**values)


def params_from_dict(raw) -> Params:
    """Checked Params from a mapping shaped like params.yaml; missing keys take defaults."""
    return _build(Params, {} if raw is None else raw, "")


def load_params(path: str | Path = PARAMS) -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found; run from the project root") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({first_line(exc)})") from None
    return params_from_dict(raw)


def params_as_dict(params: Params) -> dict:
    """Plain dict (lists, not tuples) for writing into reports."""
    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return list(v)
        return v
    return plain(dataclasses.asdict(params))


@contextlib.contextmanager
def reported_as(key: str, value):
    """Inside the block, an ArgumentError about `value` stops as a ParamsError naming params.yaml's `key`."""
    try:
        yield
    except ArgumentError as exc:
        shown = list(value) if isinstance(value, tuple) else value
        raise ParamsError(f"params.yaml: {key} = {shown!r}: {exc}") from None
