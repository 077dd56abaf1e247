"""The trained network as plain arrays, for a page that runs it without torch (the explorer's draw view).

    arrays = network_arrays(model, image_shape)   # {"config": JSON text, "<state dict key>": float32 array}

Every floating-point tensor of the state dict (weights, biases, batch-norm statistics, the input
normalisation) as float32, and what the page needs of the architecture as JSON (image_shape,
in_channels, conv_channels, kernel_size, batch_norm, fc_units), so a reader can rebuild the
forward pass: normalise, then per block conv -> [batch norm] -> max pool 2 -> ReLU, then the
fully connected layers with ReLU between them.
"""
from __future__ import annotations

import json

import numpy as np

from featuremaps.model.normalisation import MEAN, STD


def network_config(model, image_shape) -> dict:
    """The architecture of a ConvNet as the page reads it."""
    return {"image_shape": [int(s) for s in image_shape[:2]], "in_channels": model.in_channels,
            "conv_channels": [getattr(model, layer).out_channels for layer in model.conv_layers],
            "kernel_size": int(model.conv1.kernel_size[0]), "batch_norm": model.batch_norm,
            "fc_units": [getattr(model, fc).out_features for fc in model.fc_layers[:-1]]}


def network_arrays(model, image_shape) -> dict:
    """{"config": JSON text, state dict key: float32 array}. A model other than the builtin network
    gets a config that says the page does not run it (yet), {"draw": false, "reason": ...}, and of its
    arrays only the input normalisation."""
    config = network_config(model, image_shape) if hasattr(model, "conv_layers") else {
        "draw": False, "reason": "the draw view runs the builtin network only so far"}
    arrays = {"config": np.array(json.dumps(config, sort_keys=True))}
    drawn = config.get("draw", True)
    for key, value in model.state_dict().items():
        if not drawn and key not in (MEAN, STD):  # no weights of a network the page does not run
            continue
        if value.is_floating_point():
            arrays[key] = value.detach().float().cpu().numpy()
    return arrays
