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

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from featuremaps.model.layers import evaluating
from featuremaps.model.normalisation import input_channels
from featuremaps.model.sources import SOURCE_KEYS, model_from_config, source_config
from featuremaps.params import reported_as


def measured_sizes(model: nn.Module, image_shape) -> dict:
    """Per image, from one forward of one blank image:
    "names": every call whose output is maps [N, C, H, W] (leaf modules and blocks), as layers are
    named, in the order they return; "acts", "channels": their output elements and channels;
    "conv_flops": each call's convolution operations (0 for what is not a conv: a block's are its
    children's); "convs": the indices of the conv calls (what extract.layers: all takes);
    "leaf_acts": the elements of every output of a module without children (what training keeps);
    "largest": the largest of those; "flops": the whole forward's; "params"; "pixels": h * w."""
    probe = model  # in eval mode, hooks only, no gradients: nothing of it changes (a copy would double its memory)
    h, w = image_shape[:2]
    counts, maps, leaf, largest = {}, [], [0], [0]

    def hook_for(path, is_leaf):
        def hook(module, args, output):
            counts[path] = counts.get(path, 0) + 1
            if not isinstance(output, torch.Tensor):
                return
            if is_leaf:
                leaf[0] += output[0].numel()
                largest[0] = max(largest[0], output[0].numel())
            if output.dim() != 4:
                return
            flops = 0
            if isinstance(module, nn.Conv2d):
                flops = 2 * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1] \
                    * output[0].numel()
            maps.append((path, counts[path], output[0].numel(), int(output.shape[1]), flops,
                         isinstance(module, nn.Conv2d)))
        return hook

    modules = [(path, m) for path, m in probe.named_modules() if path]
    handles = [m.register_forward_hook(hook_for(path, not list(m.children()))) for path, m in modules]
    try:
        with torch.no_grad(), evaluating(probe), FlopCounterMode(display=False) as flops:
            probe(torch.zeros(1, input_channels(probe), h, w))
    finally:
        for handle in handles:
            handle.remove()
    return {"params": sum(p.numel() for p in probe.parameters()),
            "names": [path if counts[path] == 1 else f"{path}:{call}" for path, call, *_ in maps],
            "acts": [m[2] for m in maps], "channels": [m[3] for m in maps], "conv_flops": [m[4] for m in maps],
            "convs": [i for i, m in enumerate(maps) if m[5]], "leaf_acts": leaf[0], "largest": largest[0],
            "flops": int(flops.get_total_flops()), "pixels": h * w}


def planned_sizes(params, shape) -> dict | None:
    """The sizes of the model params.yaml describes, on data of `shape` (featuremaps.data.shape.DataShape),
    measured from it untrained; None for the builtin network, whose sizes come from params. A model
    that cannot be built stops here, with one line naming its setting."""
    if params.model.source == "builtin":
        return None
    meta = {"image_shape": [shape.height, shape.width], "classes": list(range(shape.n_classes)),
            "channels": shape.channels}
    key = SOURCE_KEYS[params.model.source]
    with reported_as(key, getattr(params.model, key.split(".")[1])):
        model = model_from_config(source_config(params.model, meta))
    return measured_sizes(model, (shape.height, shape.width))
