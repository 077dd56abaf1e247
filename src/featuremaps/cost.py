"""What the settings cost before anything runs: each torch stage's peak memory and time, estimated
from the sizes alone, and refused over a budget with one line that names the settings and the
largest values that fit.

    check_costs(params, data_shape(meta))            # in every torch stage, on its real dataset
    check_costs(params, expected_data_shape(params))  # in the check stage, before the download
    check_disk(params, expected_data_shape(params), paths.DATA)  # the check stage: the dataset on disk

(data_shape: featuremaps.data.shape; expected_data_shape: featuremaps.data.expected.)

Memory is an upper bound of the stage's peak resident memory (calibrated against it by
benchmarks/cost_calibration.py and tests/test_cost.py): the process and its libraries, the
splits held in memory (those of up to featuremaps.memory.IN_MEMORY_BYTES; larger ones are read a
batch at a time, so memory does not grow with the number of images), the model with its gradients and
optimiser state, and the activations of the largest batch each stage holds, with autograd's saved
tensors. Time is rough (within a factor of about
three on the reference machine): the network's floating-point operations over the work a stage
does, plus the memory traffic of layers too large for the cache, on the CPU unless the stage's
device is set to cuda or mps. The budget: MEMORY_BUDGET (8 GiB, or half the machine's memory
where that is less) and TIME_BUDGET (30 minutes) per stage. The defaults cost about 1 GiB and
seconds to a minute.
"""
from __future__ import annotations

import dataclasses
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from featuremaps.data.shape import DataShape
from featuremaps.memory import ROW_GROUP_BYTES
from featuremaps.errors import ParamsError
from featuremaps.model.blocks import max_blocks
from featuremaps.model.epochs import snapshot_epochs
from featuremaps.params import ACCELERATORS, Params

GiB = 1 << 30
MEMORY_BUDGET = 8 * GiB
TIME_BUDGET = 30 * 60  # seconds per stage: far beyond the defaults (seconds), below a lost afternoon

BASE_BYTES = 900 << 20  # Python, torch, numpy, pandas, matplotlib loaded, before any data
TIMELAPSE_LIBRARIES = 150 << 20  # DVCLive (which imports DVC) and scipy, beyond BASE_BYTES
FLOAT = 4
# Floats kept per activation element: the conv output, its pooled, ReLU and dropout results, and in
# training their gradients and autograd's saved copies (measured, with room to spare).
KEEP_TRAIN, KEEP_INFER = 6, 4
# A measured model (featuremaps.model.sizes) counts every module's output apart: training keeps each
# once with room for its gradient; inference under torch.inference_mode frees each output once the
# next is made, so it holds a few of the largest (benchmarks/own_model_cost.py).
KEEP_TRAIN_MEASURED, KEEP_INFER_MEASURED = 2, 3
CPU_FLOPS = 60e9  # per second: what the 2-core reference machine reaches on these networks
# A layer whose batch of activations is larger than the cache is bound by memory, not arithmetic:
# seconds per element of it, per stage, measured on that machine (benchmarks/cost_calibration.py;
# extract also reduces every element in float64, per image and per class).
CACHE_BYTES, CACHE_BATCH = 32 << 20, 256
ELEMENT_SECONDS = {"train": 7e-9, "extract": 22e-9, "visualize": 10e-9, "attribute": 10e-9, "timelapse": 10e-9}
GPU_SPEEDUP = 20  # a conservative floor for any CUDA or MPS device (an H200 trains the default 14x faster)

# Settings searched for the largest value that fits, in the order a message lists them; a list
# setting by each of its items (model.conv_channels[1]).
SIZE_SETTINGS = ("model.conv_channels", "model.fc_units", "train.epochs", "train.batch_size", "train.eval_batch_size", "extract.batch_size",
                 "visualize.seeds", "visualize.steps", "attribute.batch_size", "attribute.ig_steps",
                 "timelapse.probe_size", "timelapse.seeds")


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


def _conv_layers(model, shape: DataShape) -> list:
    """(in channels, out channels, height, width of the output) of each conv layer, in order."""
    layers, c_in, h, w = [], shape.channels, shape.height, shape.width
    for c_out in model.conv_channels:
        layers.append((c_in, c_out, h, w))
        c_in, h, w = c_out, h // 2, w // 2
    return layers


def _sizes(params, shape: DataShape) -> dict:
    m = params.model
    convs = _conv_layers(m, shape)
    blocks = len(convs)
    fc_in = convs[-1][1] * (shape.height >> blocks) * (shape.width >> blocks)
    widths = [fc_in, *m.fc_units, shape.n_classes]
    fc = list(zip(widths, widths[1:]))
    k2 = m.kernel_size ** 2
    conv_params = [k2 * c_in * c_out + c_out for c_in, c_out, _, _ in convs]
    conv_flops = [2 * k2 * c_in * c_out * h * w for c_in, c_out, h, w in convs]
    acts = [c_out * h * w for _, c_out, h, w in convs]
    return {
        "params": sum(conv_params) + sum(i * o + o for i, o in fc),
        "acts": acts,  # per image, each conv layer's output elements
        "fc_acts": sum(o for _, o in fc) + fc_in,
        "conv_flops": conv_flops,
        "flops": sum(conv_flops) + sum(2 * i * o for i, o in fc),
        "channels": [c_out for _, c_out, _, _ in convs],
    }


def _scaled(measured: dict, shape: DataShape) -> dict:
    """A measured model's sizes at this shape's pixels: maps and operations in proportion, parameters as they are."""
    k = shape.height * shape.width / measured["pixels"]
    return {**measured, "acts": [math.ceil(a * k) for a in measured["acts"]],
            "leaf_acts": math.ceil(measured["leaf_acts"] * k), "largest": math.ceil(measured["largest"] * k),
            "conv_flops": [f * k for f in measured["conv_flops"]], "flops": measured["flops"] * k}


def _seconds(stage: str, flops: float, slow_elements: float, device: str) -> float:
    """Arithmetic at CPU_FLOPS, plus ELEMENT_SECONDS for each activation element of a layer whose
    batch is too large for the cache (then memory, not arithmetic, bounds it), on the CPU; a GPU is
    taken as GPU_SPEEDUP times faster."""
    seconds = flops / CPU_FLOPS + slow_elements * ELEMENT_SECONDS[stage]
    return seconds / GPU_SPEEDUP if device in ACCELERATORS else seconds


def _slow(acts: list) -> float:
    """The elements per image of the layers among `acts` whose batch of floats (of CACHE_BATCH
    images: the batch settings size memory, not time) outgrows the cache."""
    return sum(a for a in acts if CACHE_BATCH * a * FLOAT > CACHE_BYTES)


def stage_costs(params, shape: DataShape, measured: dict | None = None) -> list:
    """[Cost] of train, extract, visualize, attribute and timelapse with these settings on data of this
    shape; `measured`: the sizes of a model other than the builtin network (featuremaps.model.sizes)."""
    s = _sizes(params, shape) if measured is None else _scaled(measured, shape)
    n = shape.n_images
    # every output training keeps: the builtin network's conv maps and fc outputs; a measured model's leaves
    act = sum(s["acts"]) + s["fc_acts"] if measured is None else s["leaf_acts"]
    names = s.get("names") or [f"conv{i + 1}" for i in range(len(params.model.conv_channels))]
    every = [names[i] for i in s["convs"]] if measured is not None else names
    chosen = every if params.extract.layers == "all" else params.extract.layers
    layers = [names.index(layer) for layer in chosen if layer in names] or [len(names) - 1]
    t, e, v, a = params.train, params.extract, params.visualize, params.attribute
    n_split = {"train": shape.n_train, "val": shape.n_val}
    # A batch is never larger than the split it is cut from.
    train_batch, eval_batch = min(t.batch_size, shape.n_train), min(t.eval_batch_size, max(shape.n_train, shape.n_val))
    extract_batch, attr_batch = min(e.batch_size, max(shape.n_train, shape.n_val)), min(a.batch_size, n_split[a.split])

    if measured is None:
        train_act, infer_act = KEEP_TRAIN * act, KEEP_INFER * act
    else:
        train_act, infer_act = KEEP_TRAIN_MEASURED * act, KEEP_INFER_MEASURED * s["largest"]
    # the splits held in memory (uint8); a larger split is read a batch at a time, its batches counted below
    held = shape.held_bytes
    train_bytes = (BASE_BYTES + held + 6 * FLOAT * s["params"]
                   + FLOAT * train_batch * train_act + FLOAT * eval_batch * infer_act)
    passes = t.epochs * (3 * shape.n_train + shape.n_val + (shape.n_train if t.rescore_train else 0))
    train_s = _seconds("train", passes * s["flops"], passes * _slow(s["acts"]), t.device)

    channels = sum(s["channels"][i] for i in layers)
    extract_act = infer_act if measured is None else infer_act + sum(s["acts"][i] for i in layers)  # + the hooked maps
    # a measured model's weights twice: the model, and the checkpoint it is loaded from
    # per-image values: a row group of per_image.parquet at a time, on the device, the host and in Arrow
    extract_bytes = (BASE_BYTES + held + min(n * channels * 48, 4 * ROW_GROUP_BYTES) + FLOAT * extract_batch * extract_act
                     + 2 * 8 * shape.n_classes * sum(s["acts"][i] for i in layers)
                     + FLOAT * s["params"] * (1 if measured is None else 2))
    extract_s = _seconds("extract", n * s["flops"], n * _slow(s["acts"]), e.device)

    vis_batch_bytes, vis_s = 0.0, 0.0
    keep = KEEP_TRAIN if measured is None else KEEP_TRAIN_MEASURED
    for i in layers:
        batch = s["channels"][i] * (v.seeds + 1 + v.negative)  # the seeds, the refined image, the minimising input
        upto = sum(s["acts"][:i + 1])
        # the optimised batch, or the dataset scored 1,024 images at a time: never both at once
        vis_batch_bytes = max(vis_batch_bytes, FLOAT * keep * batch * upto, FLOAT * KEEP_INFER * 1024 * upto)
        images = 3 * batch * v.steps + 2 * n_split[params.extract.means_split]
        vis_s += _seconds("visualize", images * sum(s["conv_flops"][:i + 1]), images * _slow(s["acts"][:i + 1]),
                          v.device)
    vis_bytes = BASE_BYTES + held + FLOAT * s["params"] + vis_batch_bytes

    split = n_split[a.split]
    attr_bytes = (BASE_BYTES + held + FLOAT * s["params"] * 3
                  + FLOAT * max(attr_batch, min(1024, 32 * a.ig_steps)) * act
                  * (KEEP_TRAIN if measured is None else KEEP_TRAIN_MEASURED))
    images = split * (3 * len(layers) + 2 + channels) + 32 * a.ig_steps * 3
    attr_s = _seconds("attribute", images * s["flops"], images * _slow(s["acts"]), a.device)
    # timelapse: every snapshot in memory; per epoch the probe's maps of one layer (float32, and
    # their centred copy) and two Gram matrices; the vis epochs optimised in one batch
    tl = params.timelapse
    snapshots = len(snapshot_epochs(t.epochs, t.snapshot_every))
    probe, vis_epochs = min(tl.probe_size, shape.n_val), len(tl.vis_epochs) if snapshots else 0
    widest = max(s["acts"][i] for i in layers)
    tl_vis_bytes, tl_s = 0.0, 0.0
    for i in layers:
        batch = vis_epochs * s["channels"][i] * tl.seeds
        upto = sum(s["acts"][:i + 1])
        tl_vis_bytes = max(tl_vis_bytes, FLOAT * keep * batch * upto)
        images = 3 * batch * v.steps + snapshots * probe * 3
        tl_s += _seconds("timelapse", images * sum(s["conv_flops"][:i + 1]), images * _slow(s["acts"][:i + 1]),
                         tl.device)
    tl_s += snapshots * len(layers) * 2 * probe * probe * widest / CPU_FLOPS  # the Gram matrices
    tl_bytes = (BASE_BYTES + TIMELAPSE_LIBRARIES + held + FLOAT * s["params"] * (snapshots + 2)
                + max(FLOAT * 2 * probe * widest + 8 * 3 * probe * probe, tl_vis_bytes))
    costs = [Cost("train", train_bytes, train_s), Cost("extract", extract_bytes, extract_s),
             Cost("visualize", vis_bytes, vis_s), Cost("attribute", attr_bytes, attr_s),
             Cost("timelapse", tl_bytes, tl_s)]
    return costs


def _over(costs: list, memory: int) -> list:
    return [c for c in costs if c.bytes > memory or c.seconds > TIME_BUDGET]


def _parts(key: str):
    """("model", "conv_channels", 1) for model.conv_channels[1]; item None for a plain setting."""
    section, name = key.split(".")
    if name.endswith("]"):
        name, item = name[:-1].split("[")
        return section, name, int(item)
    return section, name, None


def setting_value(params, key: str):
    section, name, item = _parts(key)
    value = getattr(getattr(params, section), name)
    return value if item is None else value[item]


def with_setting(params, key: str, value):
    section, name, item = _parts(key)
    if item is not None:
        items = list(getattr(getattr(params, section), name))
        items[item] = value
        value = tuple(items)
    return dataclasses.replace(params, **{section: dataclasses.replace(getattr(params, section), **{name: value})})


def _low(key: str) -> int:
    section, name, _ = _parts(key)
    cls = type(getattr(Params(), section))
    return next(f for f in dataclasses.fields(cls) if f.name == name).metadata["low"]


def size_settings(params) -> list:
    """SIZE_SETTINGS with each list setting spelled item by item (the builtin network's sizes only for it)."""
    keys = []
    for key in SIZE_SETTINGS:
        if key.startswith("model.") and params.model.source != "builtin":
            continue
        value = setting_value(params, key)
        keys += [f"{key}[{i}]" for i in range(len(value))] if isinstance(value, tuple) else [key]
    return keys


def check_blocks(params, shape: DataShape) -> None:
    """ParamsError when the conv blocks would pool the image below 1 px."""
    blocks, fit = len(params.model.conv_channels), max_blocks((shape.height, shape.width))
    if blocks > fit:
        raise ParamsError(f"params.yaml: model.conv_channels = {list(params.model.conv_channels)} has {blocks} "
                          f"blocks, which pool a {shape.height}x{shape.width} image below 1 px; at most {fit} fit")


def _largest(fits, lo: int, hi: int):
    """The largest value in [lo, hi) at which fits(value) holds, by bisection (fits falls once as the value
    grows, and fails at hi); None when it fails at lo."""
    if not fits(lo):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def largest_fitting(params, shape: DataShape, key: str, memory: int, measured: dict | None = None):
    """The largest value of integer setting `key` (the others as they are) at which every stage fits."""
    return _largest(lambda v: not _over(stage_costs(with_setting(params, key, v), shape, measured), memory),
                    _low(key), setting_value(params, key))


def largest_fitting_size(params, shape: DataShape, memory: int, measured: dict | None = None):
    """The largest [height, width] of the images' aspect (at least 4 a side) at which every stage fits, or None."""
    def scaled(height: int) -> DataShape:
        return dataclasses.replace(shape, height=height, width=max(4, round(shape.width * height / shape.height)))
    height = _largest(lambda h: not _over(stage_costs(params, scaled(h), measured), memory), 4, shape.height)
    return None if height is None else (height, scaled(height).width)


def _lowers(params, shape: DataShape, key: str, over: list, memory: int, measured: dict | None = None) -> bool:
    lowest = {c.stage: c for c in stage_costs(with_setting(params, key, _low(key)), shape, measured)}
    for c in over:
        d = lowest[c.stage]
        if (c.bytes > memory and d.bytes < 0.9 * c.bytes) or (c.seconds > TIME_BUDGET and d.seconds < 0.9 * c.seconds):
            return True
    return False


def describe(c: Cost) -> str:
    gib = c.bytes / GiB
    minutes = c.seconds / 60
    when = f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min" if minutes >= 1 else f"{c.seconds:.0f} s"
    return f"{c.stage} about {gib:.1f} GiB and {when}"


DISK_COPIES = 2  # data/dataset and DVC's cache of it (DVC copies unless a reflink or link cache is set)


def dataset_bytes(shape: DataShape) -> int:
    """What data/dataset holds at most: every image's uint8 pixels and a label of up to two bytes."""
    return shape.n_images * (shape.height * shape.width * shape.channels + 2)


def free_disk(folder: Path) -> int:
    """Free bytes on the disk `folder` is (or will be) on: its nearest existing parent's."""
    folder = Path(folder).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_disk(params, shape: DataShape, folder: Path) -> None:
    """ParamsError with one line, before the download, when the dataset and DVC's copy of it would not
    fit the free disk under `folder` (data/), naming its size, what is free and, for a folder of
    images, the largest data.image_size that fits."""
    need, free = DISK_COPIES * dataset_bytes(shape), free_disk(folder)
    if need <= free:
        return
    pixels = f"{shape.height}x{shape.width}" + (f"x{shape.channels}" if shape.channels > 1 else "")
    what = (f"data.folder = {params.data.folder!r} and data.image_size = [{shape.height}, {shape.width}]"
            if params.data.source == "folder" else f"data.source = {params.data.source!r}")
    fix = "free disk space, or store data/ on a larger disk"
    if params.data.source == "folder":
        side = math.sqrt(free / need)  # the pixels scale with the square of the side
        h, w = int(shape.height * side), int(shape.width * side)
        if h >= 1 and w >= 1:
            fix = f"it fits at data.image_size <= [{h}, {w}]; or " + fix
    raise ParamsError(f"params.yaml: {what}: {shape.n_images:,} images of {pixels} take {disk_size(need)} on disk "
                      f"(data/dataset and DVC's cache of it), and {disk_size(free)} are free at {folder}; {fix}")


def disk_size(n: int) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / (1 << 20):.1f} MiB"


def check_costs(params, shape: DataShape, measured: dict | None = None) -> None:
    """ParamsError with one line when the network does not fit the image or a stage would need more
    than the memory or time budget. `measured`: another model's sizes (featuremaps.model.sizes), which
    model.source torchvision or module needs; the builtin network's come from params."""
    if params.model.source != "builtin" and measured is None:
        raise ValueError("the sizes of a model other than the builtin network are measured from it")
    if params.model.source == "builtin":
        check_blocks(params, shape)
        measured = None
    memory = memory_budget()
    costs = stage_costs(params, shape, measured)
    over = _over(costs, memory)
    if not over:
        return
    # The settings that make a stage over budget (at their lowest, what is over falls by a tenth or
    # more), and the largest value of each at which every stage fits.
    sizing = [key for key in size_settings(params)
              if setting_value(params, key) > _low(key) and _lowers(params, shape, key, over, memory, measured)]
    now = ", ".join(f"{key} = {setting_value(params, key)}" for key in sizing) or "these settings"
    remedies = [f"{key} <= {value}" for key in sizing
                if (value := largest_fitting(params, shape, key, memory, measured)) is not None]
    if params.data.source == "folder":  # the images' size is a setting too: data.image_size
        sizing.insert(0, "data.image_size")
        now = ", ".join(filter(None, [f"data.image_size = [{shape.height}, {shape.width}]",
                                      now if now != "these settings" else ""]))
        if (size := largest_fitting_size(params, shape, memory, measured)) is not None:
            remedies.insert(0, f"data.image_size <= [{size[0]}, {size[1]}]")
    fix = f"it fits at {' or '.join(remedies)}" if remedies else "no one of these settings alone makes it fit"
    if measured is not None and params.extract.layers == "all":  # a large model's every conv layer
        fix += f"; or analyse fewer of its {len(measured['convs'])} conv layers in extract.layers " \
               f"(`featuremaps layers` lists every layer)"
    device = {c.stage: getattr(params, c.stage).device for c in over}
    cpu = [stage for stage, d in device.items() if d not in ACCELERATORS]
    slow = [c.stage for c in over if c.stage in cpu and c.seconds > TIME_BUDGET]
    gpu_hint = f" (times on the CPU; on a GPU set {', '.join(f'{x}.device' for x in slow)}: cuda)" if slow else ""
    raise ParamsError(
        f"params.yaml: {now} on {shape.n_images:,} images of {shape.height}x{shape.width} need "
        f"{'; '.join(describe(c) for c in over)}{gpu_hint}; the budget is {memory / GiB:.0f} GiB and "
        f"{TIME_BUDGET // 60} min a stage; {fix}")
