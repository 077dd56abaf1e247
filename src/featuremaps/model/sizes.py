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
    """{"params", "acts" (per conv call: output elements per image), "fc_acts" (every other output of a
    module without children), "conv_flops" (per conv call), "flops" (the whole forward), "channels"
    (per conv call), "names" (the conv calls, as extract.layers names them), "pixels" (h * w measured at),
    "largest" (the largest single output)}."""
    probe = model  # in eval mode, hooks only, no gradients: nothing of it changes (a copy would double its memory)
    h, w = image_shape[:2]
    counts, convs, other, largest = {}, [], [0], [0]

    def hook_for(path):
        def hook(module, args, output):
            counts[path] = counts.get(path, 0) + 1
            if not isinstance(output, torch.Tensor):
                return
            largest[0] = max(largest[0], output[0].numel())
            if isinstance(module, nn.Conv2d):
                k = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
                convs.append((path, counts[path], output[0].numel(), int(output.shape[1]), 2 * k * output[0].numel()))
            else:
                other[0] += output[0].numel()
        return hook

    leaves = [(path, m) for path, m in probe.named_modules() if path and not list(m.children())]
    handles = [m.register_forward_hook(hook_for(path)) for path, m in leaves]
    try:
        with torch.no_grad(), evaluating(probe), FlopCounterMode(display=False) as flops:
            probe(torch.zeros(1, input_channels(probe), h, w))
    finally:
        for handle in handles:
            handle.remove()
    names = [path if counts[path] == 1 else f"{path}:{call}" for path, call, *_ in convs]
    return {"params": sum(p.numel() for p in probe.parameters()), "acts": [c[2] for c in convs],
            "fc_acts": other[0], "conv_flops": [c[4] for c in convs], "flops": int(flops.get_total_flops()),
            "channels": [c[3] for c in convs], "names": names, "pixels": h * w, "largest": largest[0]}


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
