"""The trained network as plain arrays, for a page that runs it without torch (the explorer's draw view).

    arrays = network_arrays(model, image_shape, layers)   # {"config": JSON text, "<state dict key>": float32 array}

The builtin network: every floating-point tensor of the state dict (weights, biases, batch-norm
statistics, the input normalisation) as float32, and what the page needs of the architecture as JSON
(image_shape, in_channels, conv_channels, kernel_size, batch_norm, fc_units), so a reader can rebuild
the forward pass: normalise, then per block conv -> [batch norm] -> max pool 2 -> ReLU, then the
fully connected layers with ReLU between them (report/network.js). Any other model: its traced graph
(featuremaps.model.graph), run by report/graph.js, and the tensors its ops name.
"""
from __future__ import annotations

import json

import numpy as np

from featuremaps.model.graph import page_graph
from featuremaps.model.normalisation import MEAN, STD, input_channels


def network_config(model, image_shape) -> dict:
    """The architecture of a ConvNet as the page reads it."""
    return {"image_shape": [int(s) for s in image_shape[:2]], "in_channels": model.in_channels,
            "conv_channels": [getattr(model, layer).out_channels for layer in model.conv_layers],
            "kernel_size": int(model.conv1.kernel_size[0]), "batch_norm": model.batch_norm,
            "fc_units": [getattr(model, fc).out_features for fc in model.fc_layers[:-1]]}


DRAW_WEIGHTS_MAX = 64 * 2**20  # bytes of float32 weights a page loads for its draw view (ResNet-18: 45 MB)


def graph_config(model, image_shape, layers: list) -> dict:
    """Another model's forward as the ops of featuremaps.model.graph (its maps of `layers` marked, Grad-CAM
    on the deepest of them), or {"draw": false, "reason": why the page cannot run it}."""
    ops, reason = page_graph(model, layers)
    if ops is None:
        return {"draw": False, "reason": reason}
    state = model.state_dict()
    size = 4 * sum(state[key].numel() for key in {k for op in ops for k in op.get("w", {}).values()})
    if size > DRAW_WEIGHTS_MAX:  # VGG-11's 129 M parameters would be half a gigabyte of script
        return {"draw": False, "reason": f"its weights are {size / 2**20:,.0f} MiB, more than the "
                                         f"{DRAW_WEIGHTS_MAX // 2**20} MiB a page loads to run it"}
    depth = {name: i for i, op in enumerate(ops) for name in op.get("maps", [])}
    return {"image_shape": [int(s) for s in image_shape[:2]], "in_channels": input_channels(model), "graph": ops,
            "gradcam_layer": max(reversed(layers), key=depth.get) if layers else None}  # ties: the last named


def network_arrays(model, image_shape, layers: list = ()) -> dict:
    """{"config": JSON text, state dict key: float32 array}: the builtin network's config and every
    tensor, or another model's graph (graph_config) and the tensors its ops use. A model the page cannot
    run gets a config that says why, and of its arrays only the input normalisation."""
    config = network_config(model, image_shape) if hasattr(model, "conv_layers") else \
        graph_config(model, image_shape, list(layers))
    arrays = {"config": np.array(json.dumps(config, sort_keys=True))}
    used = None if hasattr(model, "conv_layers") else {MEAN, STD} | {
        key for op in config.get("graph", []) for key in op.get("w", {}).values()}
    for key, value in model.state_dict().items():
        if used is not None and key not in used:  # only what the page runs
            continue
        if value.is_floating_point():
            arrays[key] = value.detach().float().cpu().numpy()
    return arrays
