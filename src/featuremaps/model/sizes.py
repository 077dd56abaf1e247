"""A model's sizes, measured from the model itself, for the cost estimates of a model other than the
builtin network (whose sizes featuremaps.cost derives from params):

    sizes = measured_sizes(model, (h, w))        # one forward of one blank image
    check_costs(params, shape, sizes)            # featuremaps.cost, at any image size

One forward of one image under torch.utils.flop_counter.FlopCounterMode gives the floating-point
operations (a multiply-add counted as 2), and forward hooks on every module without children give
each one's output: the conv calls' maps (their elements, channels, and operations from their
kernels) and the elements of every other output (batch norms, activations, pooling, linear layers),
which training keeps for the backward pass. At another image size the maps and operations are
scaled by the number of pixels (exact for convolutions; the head's share is small), the parameters
kept.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from featuremaps.model.layers import evaluating, module_calls
from featuremaps.model.normalisation import input_channels
from featuremaps.model.sources import model_from_config, reported_source, source_config


def measured_sizes(model: nn.Module, image_shape) -> dict:
    """Per image, from one forward of one blank image:
    "names": every call whose output is maps [N, C, H, W] (leaf modules and blocks), as layers are
    named, in the order they return; "acts", "channels": their output elements and channels;
    "conv_flops": each call's convolution operations (0 for what is not a conv: a block's are its
    children's); "convs": the indices of the conv calls (what extract.layers: all takes);
    "leaf_acts": the elements of every output of a module without children (what training keeps);
    "largest": the largest of those; "flops": the whole forward's; "params"; "pixels": h * w."""
    h, w = image_shape[:2]
    # in eval mode, hooks only, no gradients: nothing of the model changes (a copy would double its memory)
    with evaluating(model), FlopCounterMode(display=False) as counted:
        calls = module_calls(model, torch.zeros(1, input_channels(model), h, w))
    modules = dict(model.named_modules())
    leaves = [math.prod(c.shape) for c in calls if c.shape is not None and not list(modules[c.module].children())]
    maps = [c for c in calls if c.is_map]

    def conv_flops(c) -> int:  # a multiply-add per kernel weight per output element
        conv = modules[c.module]
        return 2 * conv.in_channels // conv.groups * math.prod(conv.kernel_size) * math.prod(c.shape) \
            if isinstance(conv, nn.Conv2d) else 0
    return {"params": sum(p.numel() for p in model.parameters()), "names": [c.name for c in maps],
            "acts": [math.prod(c.shape) for c in maps], "channels": [c.shape[0] for c in maps],
            "conv_flops": [conv_flops(c) for c in maps], "convs": [i for i, c in enumerate(maps) if c.kind == "Conv2d"],
            "leaf_acts": sum(leaves), "largest": max(leaves, default=0), "flops": int(counted.get_total_flops()),
            "pixels": h * w}


def planned_sizes(params, shape) -> dict | None:
    """The sizes of the model params.yaml describes, on data of `shape` (featuremaps.data.shape.DataShape),
    measured from it untrained; None for the builtin network, whose sizes come from params. A model
    that cannot be built stops here, with one line naming its setting."""
    if params.model.source == "builtin":
        return None
    meta = {"image_shape": [shape.height, shape.width], "classes": list(range(shape.n_classes)),
            "channels": shape.channels}
    with reported_source(params.model):
        model = model_from_config(source_config(params.model, meta))
    return measured_sizes(model, (shape.height, shape.width))
