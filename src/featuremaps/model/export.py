"""The trained network as plain arrays, for a page that runs it without torch (the explorer's draw view).

    arrays = network_arrays(model, config)     # {"config": JSON text, "<state dict key>": float32 array}

Every tensor of the state dict (weights, biases, batch-norm statistics, the input normalisation)
as float32, and the constructor config as JSON, so a reader can rebuild the forward pass:
normalise, then per block conv -> [batch norm] -> max pool 2 -> ReLU, then the fully connected
layers with ReLU between them.
"""
from __future__ import annotations

import json

import numpy as np


def network_arrays(model, config: dict) -> dict:
    arrays = {"config": np.array(json.dumps(config, sort_keys=True))}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            arrays[key] = value.detach().float().cpu().numpy()
    return arrays
