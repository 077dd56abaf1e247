"""The architecture record: a model's layers as a reader needs them without building the model (its
code may not be here: a revision's own module) or re-deriving them from params or layer names.

    record = architecture_record(model, config)
    {"family": "builtin" | "resnet18" | "models/mynet.py:make_net",
     "input": [C, H, W],
     "layers": [{"name": "layer1.0.conv1", "kind": "Conv2d", "shape": [C, H, W],
                 "kernel": [kh, kw], "stride": [...], "padding": [...], "dilation": [...], "groups": g}, ...]}

Every call of one forward whose output is maps [N, C, H, W], in the order the calls return, named as
featuremaps.model.layers names them (geometry keys only for a conv or pooling module). The builtin
network's `conv<i>` is its conv module's entry. train saves the record in model.pt (key
"architecture"), extract carries it to the page in network.npz, and compare reads it from a revision's
model.pt.
"""
from __future__ import annotations

import torch
from torch import nn

from featuremaps.model.layers import evaluating, module_calls
from featuremaps.model.normalisation import input_channels

GEOMETRY = ("kernel", "stride", "padding", "dilation", "groups")


def model_family(config: dict) -> str:
    """What a reader calls the model: "builtin", the torchvision name, or the factory."""
    return {"torchvision": config.get("name"), "module": config.get("factory")}.get(config.get("source"), "builtin")


def architecture_record(model: nn.Module, config: dict) -> dict:
    """The record of `model` on one blank image of config["image_shape"] (the model left as it was)."""
    h, w = config["image_shape"][:2]
    c = input_channels(model)
    with evaluating(model):
        calls = module_calls(model, torch.zeros(1, c, h, w, device=next(model.parameters()).device))
    layers = []
    for call in calls:
        if not call.is_map:
            continue
        entry = {"name": call.name, "kind": call.kind, "shape": [int(s) for s in call.shape]}
        entry.update({k: list(v) if isinstance(v, tuple) else v for k in GEOMETRY
                      if (v := getattr(call, k)) is not None})
        layers.append(entry)
    return {"family": model_family(config), "input": [int(c), int(h), int(w)], "layers": layers}


def layer_entries(record: dict, names: list) -> dict:
    """{name: its entry} of the layers `names` (a name the record lacks is left out)."""
    entries = {entry["name"]: entry for entry in record.get("layers", [])}
    return {name: entries[name] for name in names if name in entries}
