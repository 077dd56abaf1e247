"""What `featuremaps layers` prints: every layer of a model that has maps, by the name extract.layers
and the other settings take, with its module's class, its output [C x H x W] for one image of the
dataset and a conv or pooling module's kernel, stride, padding, dilation and groups.

    model, config, shown = listed_model(repo)         # data/model/model.pt, else what params.yaml describes
    print("\\n".join(layer_lines(model, config)))
"""
from __future__ import annotations

from pathlib import Path

import torch

from featuremaps import paths
from featuremaps.data.expected import expected_data_shape
from featuremaps.data.store import META, read_meta
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.seam import layer_calls
from featuremaps.model.sources import source_config, starting_model
from featuremaps.params import load_params


def listed_model(repo: Path, model_file: Path | None = None, from_params: bool = False):
    """(model, config, what it is): `model_file`, else the repo's trained model, else (or with
    `from_params`) the model params.yaml describes, untrained, for the downloaded dataset or, before
    the download, the one params.yaml names."""
    if model_file is not None or (not from_params and (repo / paths.MODEL).is_file()):
        path = model_file if model_file is not None else repo / paths.MODEL
        model, ckpt = load_checkpoint(path, root=repo)
        return model, ckpt["config"], str(path)
    params = load_params(repo / paths.PARAMS)
    if (repo / paths.DATASET / META).is_file():
        meta = read_meta(repo / paths.DATASET)
    else:
        shape = expected_data_shape(params)
        meta = {"image_shape": [shape.height, shape.width], "channels": shape.channels,
                "classes": [str(i) for i in range(shape.n_classes)], "mean": [0.0] * shape.channels,
                "std": [1.0] * shape.channels}
    config = source_config(params.model, meta)
    torch.manual_seed(params.seed)
    return starting_model(params.model, config, meta, repo), config, f"{paths.PARAMS} (untrained)"


def _geometry(call) -> str:
    if call.kernel is None:
        return ""
    parts = [f"k{'x'.join(map(str, call.kernel))}", f"s{'x'.join(map(str, call.stride))}"]
    parts += [f"p{'x'.join(map(str, call.padding))}"] if call.padding else []
    parts += [f"d{'x'.join(map(str, call.dilation))}"] if call.dilation and call.dilation != (1, 1) else []
    parts += [f"g{call.groups}"] if call.groups and call.groups > 1 else []
    return " ".join(parts)


def layer_lines(model, config: dict) -> list:
    """The table `featuremaps layers` prints: one line per call with maps; * marks the conv layers
    that extract.layers: all takes."""
    h, w = config["image_shape"]
    calls = [c for c in layer_calls(model, (h, w)) if c.is_map]
    source = config.get("source", "builtin")
    family = config.get("name") or config.get("factory") or "the builtin network"
    width = max([len(c.name) for c in calls] + [4])
    kind = max([len(c.kind) for c in calls] + [6])
    lines = [f"{family} ({source}) on {config['in_channels']}x{h}x{w} images: {len(calls)} layers with maps, "
             f"{sum(c.kind == 'Conv2d' for c in calls)} of them conv (*: what extract.layers: all takes)",
             f"  {'name':<{width}}  {'module':<{kind}}  {'output C x H x W':<18}  kernel, stride, padding"]
    for c in calls:
        mark = "*" if c.kind == "Conv2d" else " "
        lines.append(f"{mark} {c.name:<{width}}  {c.kind:<{kind}}  {' x '.join(map(str, c.shape)):<18}  "
                     f"{_geometry(c)}".rstrip())
    return lines
