"""Conv activations of every image, streamed batch by batch through forward hooks.

    from featuremaps.analysis.activations import extract_activations
    result = extract_activations(model, splits, mean, std, params.extract, classes, device)

The model runs in eval mode under torch.inference_mode(); each batch's maps are reduced
(spatial sums per image, per-class sums) as soon as they are captured, so memory does
not grow with the number of images. Sums are float64, divided by counts at the end, so
per-class means are exact.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from featuremaps.analysis.store import Extraction, feature_columns, layer_columns
from featuremaps.errors import ArgumentError
from featuremaps.model.network import conv_layer_names, normalised_images
from featuremaps.params import ExtractParams


def check_layers(model, layers) -> None:
    """ArgumentError unless every name in `layers` is a conv layer of `model`."""
    allowed = conv_layer_names(model)
    unknown = [name for name in layers if name not in allowed]
    if unknown:
        raise ArgumentError(f"{unknown[0]!r} is not a conv layer of the model; its conv layers: {', '.join(allowed)}")


@contextlib.contextmanager
def hooked_layers(model, layers, activation: str = "relu"):
    """Yield a dict that each forward pass fills with {layer: activation}; hooks always removed."""
    check_layers(model, layers)
    modules = dict(model.named_modules())
    captured = {}

    def hook_for(name):
        def hook(module, inputs, output):
            captured[name] = F.relu(output) if activation == "relu" else output
        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in layers]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def layer_weights(model, layers) -> dict:
    """{layer: kernels [out, in, k, k] as float32 numpy} for the hooked layers."""
    modules = dict(model.named_modules())
    return {name: modules[name].weight.detach().float().cpu().numpy() for name in layers}


@torch.inference_mode()
def extract_activations(model, splits: dict, mean: float, std: float, params: ExtractParams,
                        classes: list, device=torch.device("cpu")) -> Extraction:
    """Run `model` over every split in `splits` ({name: (images uint8, labels)})."""
    model.eval().to(device)
    n_classes = len(classes)
    # float64 accumulation stays on the device where it is supported.
    acc_device = device if device.type in ("cpu", "cuda") else torch.device("cpu")
    # Per-image outputs are allocated once, up front: small arrays kept alive between the
    # batches' large temporaries would fragment the heap and make memory grow with N.
    total = sum(len(labels) for _, labels in splits.values())
    per_image = {"split": np.empty(total, dtype=object), "index": np.empty(total, dtype=np.int64),
                 "label": np.empty(total, dtype=np.uint8), "pred": np.empty(total, dtype=np.uint8)}
    layer_sums = {}
    class_sums, counts = {}, torch.zeros(n_classes, dtype=torch.int64, device=acc_device)
    means_images, means_labels = splits[params.means_split]
    input_sums = torch.zeros((n_classes, *means_images.shape[1:]), dtype=torch.float64, device=acc_device)
    row = 0
    with hooked_layers(model, params.layers, params.activation) as captured:
        for split, (images, labels) in splits.items():
            per_image["split"][row:row + len(labels)] = split
            for start in range(0, len(images), params.batch_size):
                xb = normalised_images(images[start:start + params.batch_size], mean, std, device)
                yb = torch.from_numpy(labels[start:start + params.batch_size].astype(np.int64))
                rows = slice(row, row + len(yb))
                per_image["pred"][rows] = model(xb).argmax(1).cpu().numpy()
                per_image["index"][rows] = np.arange(start, start + len(yb))
                per_image["label"][rows] = yb.numpy()
                for name in params.layers:
                    act = captured[name]
                    if name not in layer_sums:
                        layer_sums[name] = np.empty((total, act.shape[1]), dtype=np.float32)
                        class_sums[name] = torch.zeros((n_classes, *act.shape[1:]), dtype=torch.float64,
                                                       device=acc_device)
                    layer_sums[name][rows] = act.sum((2, 3)).float().cpu().numpy()
                    if split == params.means_split:
                        class_sums[name].index_add_(0, yb.to(acc_device), act.to(acc_device, torch.float64))
                if split == params.means_split:
                    yd = yb.to(acc_device)
                    counts += torch.bincount(yd, minlength=n_classes)
                    pixels = torch.from_numpy(images[start:start + params.batch_size])
                    input_sums.index_add_(0, yd, pixels.to(acc_device, torch.float64))
                row += len(yb)
        for name, sums in layer_sums.items():
            for j, col in enumerate(feature_columns(name, sums.shape[1])):
                per_image[col] = sums[:, j]
        examples = example_maps(model, captured, means_images, means_labels, mean, std, params, n_classes, device)
    return Extraction(
        layers=list(params.layers), activation=params.activation, means_split=params.means_split,
        classes=list(classes), per_image=per_image,
        class_sums={k: v.cpu().numpy() for k, v in class_sums.items()},
        class_counts=counts.cpu().numpy(), input_sums=input_sums.cpu().numpy(), examples=examples,
        top_k=top_k_table(per_image, params.layers, params.means_split, params.top_k))


def example_maps(model, captured, images, labels, mean, std, params, n_classes, device) -> dict:
    """The first image of each class and its maps; a class with no image gets index -1."""
    index = np.full(n_classes, -1, dtype=np.int64)
    present = np.unique(labels)
    for c in present:
        index[c] = int(np.argmax(labels == c))
    chosen = index[index >= 0]
    model(normalised_images(images[chosen], mean, std, device))
    out = {"index": index, "input": np.zeros((n_classes, *images.shape[1:]), dtype=np.uint8)}
    out["input"][index >= 0] = images[chosen]
    for name in params.layers:
        act = captured[name].float().cpu().numpy()
        maps = np.full((n_classes, *act.shape[1:]), np.nan, dtype=np.float32)
        maps[index >= 0] = act
        out[name] = maps
    return out


def top_k_table(per_image: dict, layers, split: str, k: int) -> dict:
    """For each layer and feature, the k images of `split` with the largest summed activation."""
    rows = {"layer": [], "feature": [], "rank": [], "split": [], "index": [], "label": [], "value": []}
    in_split = per_image["split"] == split
    index, label = per_image["index"][in_split], per_image["label"][in_split]
    for layer in layers:
        for feature, column in enumerate(layer_columns(per_image, layer), start=1):
            values = per_image[column][in_split]
            # Largest first; ties broken by the lower index so the table is deterministic.
            order = np.lexsort((index, -values.astype(np.float64)))[:k]
            n = len(order)
            rows["layer"] += [layer] * n
            rows["feature"] += [feature] * n
            rows["rank"] += list(range(1, n + 1))
            rows["split"] += [split] * n
            rows["index"] += index[order].tolist()
            rows["label"] += label[order].tolist()
            rows["value"] += values[order].tolist()
    return rows
