"""Conv activations of every image, streamed batch by batch through forward hooks.

    from featuremaps.analysis.activations import extract_activations
    result = extract_activations(model, splits, params.extract, classes, device)

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

from featuremaps.analysis.store import STATS, Extraction, feature_columns, layer_columns
from featuremaps.model.network import normalised_images
from featuremaps.model.normalisation import normalise
from featuremaps.model.seam import chosen_layers, hooked, unit_boxes
from featuremaps.params import ExtractParams


@contextlib.contextmanager
def hooked_layers(model, layers, activation: str = "relu"):
    """Yield a dict that each forward pass fills with {layer: activation} (relu: rectified; raw: a
    copy of the map, which an in-place operation after the layer cannot change); hooks always removed."""
    with hooked(model, layers, F.relu if activation == "relu" else torch.clone) as captured:
        yield captured


def extract_activations(model, splits: dict, params: ExtractParams, classes: list,
                        device=torch.device("cpu")) -> Extraction:
    """Run `model` over every split in `splits` ({name: (images uint8, labels)})."""
    model.eval().to(device)  # outside inference mode: see featuremaps.analysis.ablation.predictions
    with torch.inference_mode():
        image_shape = next(iter(splits.values()))[0].shape[1:3]
        return _extraction(model, splits, chosen_layers(model, params.layers, image_shape), params, classes, device)


def _extraction(model, splits, layers, params, classes, device) -> Extraction:
    n_classes = len(classes)
    # float64 accumulation stays on the device where it is supported.
    acc_device = device if device.type in ("cpu", "cuda") else torch.device("cpu")
    # Per-image outputs are allocated once, up front, and filled on the device: small arrays kept
    # alive between the batches' large temporaries would fragment the heap and make memory grow
    # with N, and a copy to the host per batch would make a GPU wait at every batch.
    total = sum(len(labels) for _, labels in splits.values())
    per_image = {"split": np.empty(total, dtype=object), "index": np.empty(total, dtype=np.int64),
                 "label": np.empty(total, dtype=np.uint8)}
    pred = torch.empty(total, dtype=torch.uint8, device=device)
    layer_sums, layer_max, layer_at, map_shapes = {}, {}, {}, {}
    class_sums, counts = {}, torch.zeros(n_classes, dtype=torch.int64, device=acc_device)
    means_images, means_labels = splits[params.means_split]
    input_sums = torch.zeros((n_classes, *means_images.shape[1:]), dtype=torch.float64, device=acc_device)
    row = 0
    with hooked_layers(model, layers, params.activation) as captured:
        for split, (images, labels) in splits.items():
            per_image["split"][row:row + len(labels)] = split
            per_image["index"][row:row + len(labels)] = np.arange(len(labels))
            per_image["label"][row:row + len(labels)] = labels
            split_labels = torch.from_numpy(labels.astype(np.int64)).to(acc_device)
            # the split reaches the device once (a view on the CPU); batches are cut there
            pixels = torch.from_numpy(np.ascontiguousarray(images)).to(device)
            for start in range(0, len(labels), params.batch_size):
                stop = min(start + params.batch_size, len(labels))
                rows = slice(row + start, row + stop)
                pred[rows] = model(normalise(model, pixels[start:stop])).argmax(1)
                for name in layers:
                    act = captured[name]
                    if name not in layer_sums:
                        map_shapes[name] = tuple(act.shape[2:])
                        layer_sums[name] = torch.empty((total, act.shape[1]), dtype=torch.float32, device=device)
                        layer_max[name] = torch.empty((total, act.shape[1]), dtype=torch.float32, device=device)
                        layer_at[name] = torch.empty((total, act.shape[1]), dtype=torch.int32, device=device)
                        class_sums[name] = torch.zeros((n_classes, *act.shape[1:]), dtype=torch.float64,
                                                       device=acc_device)
                    layer_sums[name][rows] = act.sum((2, 3)).float()
                    # the strongest unit of each map; torch.max gives the first of equal maxima
                    layer_max[name][rows], layer_at[name][rows] = act.flatten(2).max(2)
                    if split == params.means_split:
                        class_sums[name].index_add_(0, split_labels[start:stop],
                                                    act.to(acc_device, torch.float64))
                if split == params.means_split:
                    yd = split_labels[start:stop]
                    counts += torch.bincount(yd, minlength=n_classes)
                    input_sums.index_add_(0, yd, pixels[start:stop].to(acc_device, torch.float64))
            row += len(labels)
        per_image["pred"] = pred.cpu().numpy()
        for name, sums in layer_sums.items():
            values = {"sum": sums.cpu().numpy(), "max": layer_max[name].cpu().numpy(),
                      "at": layer_at[name].cpu().numpy()}
            for stat, array in values.items():
                for j, col in enumerate(feature_columns(name, array.shape[1], stat)):
                    per_image[col] = array[:, j]
        examples = example_maps(model, captured, means_images, means_labels, layers, n_classes, device)
    table = top_k_table(per_image, layers, params.means_split, params.top_k, params.top_k_by)
    boxes = {name: (lambda units, name=name: unit_boxes(model, name, units, means_images.shape[1:3])) for name in layers}
    return Extraction(
        layers=list(layers), activation=params.activation, means_split=params.means_split,
        top_k_by=params.top_k_by, classes=list(classes), per_image=per_image,
        class_sums={k: v.cpu().numpy() for k, v in class_sums.items()},
        class_counts=counts.cpu().numpy(), input_sums=input_sums.cpu().numpy(), examples=examples,
        top_k=located(table, map_shapes, boxes))


def example_maps(model, captured, images, labels, layers, n_classes, device) -> dict:
    """The first image of each class and its maps; a class with no image gets index -1."""
    index = np.full(n_classes, -1, dtype=np.int64)
    present = np.unique(labels)
    for c in present:
        index[c] = int(np.argmax(labels == c))
    chosen = index[index >= 0]
    model(normalised_images(model, images[chosen], device))
    out = {"index": index, "input": np.zeros((n_classes, *images.shape[1:]), dtype=np.uint8)}
    out["input"][index >= 0] = images[chosen]
    for name in layers:
        act = captured[name].float().cpu().numpy()
        maps = np.full((n_classes, *act.shape[1:]), np.nan, dtype=np.float32)
        maps[index >= 0] = act
        out[name] = maps
    return out


def top_k_table(per_image: dict, layers, split: str, k: int, by: str = "sum") -> dict:
    """For each layer and feature, the k images of `split` with the largest summed activation
    (by="sum") or the strongest single unit (by="max"), with that unit's flat position `at`
    (-1 where per_image holds no positions)."""
    rows = {"layer": [], "feature": [], "rank": [], "split": [], "index": [], "label": [], "value": [], "at": []}
    in_split = per_image["split"] == split
    index, label = per_image["index"][in_split], per_image["label"][in_split]
    for layer in layers:
        n = len(layer_columns(per_image, layer))
        for feature, (total, peak, at) in enumerate(zip(*(feature_columns(layer, n, stat) for stat in STATS)), 1):
            values = per_image[total if by == "sum" else peak][in_split]
            where = per_image[at][in_split] if at in per_image else np.full(len(values), -1)
            # Largest first; ties broken by the lower index so the table is deterministic.
            order = np.lexsort((index, -values.astype(np.float64)))[:k]
            n_rows = len(order)
            rows["layer"] += [layer] * n_rows
            rows["feature"] += [feature] * n_rows
            rows["rank"] += list(range(1, n_rows + 1))
            rows["split"] += [split] * n_rows
            rows["index"] += index[order].tolist()
            rows["label"] += label[order].tolist()
            rows["value"] += values[order].tolist()
            rows["at"] += where[order].tolist()
    return rows


def located(table: dict, map_shapes: dict, boxes: dict) -> dict:
    """`table` with each row's strongest unit as (y, x) in its map and the input pixels it sees
    (top, left, bottom, right, inclusive); map_shapes: {layer: (h, w)}; boxes: {layer: a function of
    units [(feature index, y, x)] giving their receptive fields}."""
    out = {k: v for k, v in table.items() if k != "at"}
    units = [(feature - 1, *divmod(int(at), map_shapes[layer][1]))
             for layer, feature, at in zip(table["layer"], table["feature"], table["at"])]
    out["y"], out["x"] = [u[1] for u in units], [u[2] for u in units]
    found = [None] * len(units)
    for layer in dict.fromkeys(table["layer"]):
        rows = [i for i, name in enumerate(table["layer"]) if name == layer]
        for i, box in zip(rows, boxes[layer]([units[i] for i in rows])):
            found[i] = box
    for j, key in enumerate(("top", "left", "bottom", "right")):
        out[key] = [box[j] for box in found]
    return out
