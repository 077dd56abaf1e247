"""Conv activations of every image, streamed batch by batch through forward hooks.

    from featuremaps.analysis.activations import extract_activations
    result = extract_activations(model, splits, params.extract, classes, "per_image.parquet", device)

The model runs in eval mode under torch.inference_mode(); each batch is read from the stored
split as the one before runs, and its maps are reduced (spatial sums per image, per-class sums, a
running top-k) as soon as they are captured; per-image values are written to per_image.parquet a
row group at a time. So memory does not grow with the number of images. Sums are float64, divided
by counts at the end, so per-class means are exact; the top-k is exact too (featuremaps.analysis.top_k).
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from featuremaps.analysis.store import Extraction, extraction_meta, feature_columns
from featuremaps.analysis.top_k import RunningTopK
from featuremaps.model.batches import pixel_batches
from featuremaps.model.network import normalised_images
from featuremaps.model.normalisation import normalise
from featuremaps import memory
from featuremaps.tables import ParquetRowGroups
from featuremaps.model.seam import chosen_layers, hooked, unit_boxes
from featuremaps.params import ExtractParams


@contextlib.contextmanager
def hooked_layers(model, layers, activation: str = "relu"):
    """Yield a dict that each forward pass fills with {layer: activation} (relu: rectified; raw: a
    copy of the map, which an in-place operation after the layer cannot change); hooks always removed."""
    with hooked(model, layers, F.relu if activation == "relu" else torch.clone) as captured:
        yield captured


def extract_activations(model, splits: dict, params: ExtractParams, classes: list, per_image_path,
                        device=torch.device("cpu")) -> Extraction:
    """Run `model` over every split in `splits` ({name: (images uint8, labels)}); per_image.parquet is
    written to `per_image_path` a row group at a time as the images pass."""
    model.eval().to(device)  # outside inference mode: see featuremaps.analysis.ablation.predictions
    with torch.inference_mode():
        image_shape = next(iter(splits.values()))[0].shape[1:3]
        return _extraction(model, splits, chosen_layers(model, params.layers, image_shape), params, classes, device,
                           per_image_path)


class _PerImageRows:
    """Each batch's per-image values copied into buffers of one row group, allocated once on the
    device; when they are full, copied to the host once, written as a row group and passed to the
    running top-k (a GPU waits for the host once per group, not once per batch). Memory is one group
    whatever the number of images; the buffers are allocated up front because small arrays kept alive
    between the batches' large temporaries would fragment the heap and make memory grow with N."""

    def __init__(self, out: ParquetRowGroups, layers, params, total: int, label_dtype, pred_dtype):
        self.out, self.layers, self.params, self.total = out, layers, params, total
        self.label_dtype, self.pred_dtype = label_dtype, pred_dtype
        self.pred, self.rows, self.segments, self.top = None, 0, [], {}

    def _allocate(self, pred, stats: dict) -> None:
        row_bytes = 24 + 12 * sum(total.shape[1] for total, _, _ in stats.values())
        self.group_rows = max(1, min(self.total, memory.ROW_GROUP_BYTES // row_bytes))
        empty = lambda t: torch.empty((self.group_rows, *t.shape[1:]), dtype=t.dtype, device=t.device)  # noqa: E731
        self.pred = empty(pred)
        self.stats = {name: tuple(empty(t) for t in values) for name, values in stats.items()}
        self.index = np.empty(self.group_rows, dtype=np.int32)
        self.label = np.empty(self.group_rows, dtype=self.label_dtype)

    def add(self, split: str, start: int, labels: np.ndarray, pred, stats: dict) -> None:
        """The batch of `split` whose first image is `start`: its labels, predictions and {layer: (sum,
        max, at)} per feature."""
        if self.pred is None:
            self._allocate(pred, stats)
        done = 0
        while done < len(pred):
            n = min(len(pred) - done, self.group_rows - self.rows)
            into, src = slice(self.rows, self.rows + n), slice(done, done + n)
            self.pred[into] = pred[src]
            for name, values in stats.items():
                for buffer, value in zip(self.stats[name], values):
                    buffer[into] = value[src]
            self.index[into] = np.arange(start + done, start + done + n)
            self.label[into] = labels[src]
            if self.segments and self.segments[-1][0] == split:
                self.segments[-1][1] += n
            else:
                self.segments.append([split, n])
            self.rows, done = self.rows + n, done + n
            if self.rows == self.group_rows:
                self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        n = self.rows
        columns = {"split": np.concatenate([np.full(k, split, dtype=object) for split, k in self.segments]),
                   "index": self.index[:n], "label": self.label[:n],
                   "pred": self.pred[:n].cpu().numpy().astype(self.pred_dtype)}
        means = columns["split"] == self.params.means_split
        for name in self.layers:
            total, peak, at = (buffer[:n].cpu().numpy() for buffer in self.stats[name])
            for stat, array in (("sum", total), ("max", peak), ("at", at)):
                for j, col in enumerate(feature_columns(name, array.shape[1], stat)):
                    columns[col] = array[:, j]
            if means.any():
                top = self.top.setdefault(name, RunningTopK(self.params.top_k, total.shape[1]))
                top.update((total if self.params.top_k_by == "sum" else peak)[means],
                           columns["index"][means].astype(np.int64), columns["label"][means], at[means])
        self.out.write(columns)
        self.rows, self.segments = 0, []

    def top_k(self) -> dict:
        rows = {"layer": [], "feature": [], "rank": [], "split": [], "index": [], "label": [], "value": [], "at": []}
        for name in self.layers:
            if name in self.top:
                for key, values in self.top[name].rows(name, self.params.means_split).items():
                    rows[key] += values
        return rows


def _extraction(model, splits, layers, params, classes, device, per_image_path) -> Extraction:
    n_classes = len(classes)
    # float64 accumulation stays on the device where it is supported.
    acc_device = device if device.type in ("cpu", "cuda") else torch.device("cpu")
    map_shapes, class_sums, counts = {}, {}, torch.zeros(n_classes, dtype=torch.int64, device=acc_device)
    means_images, means_labels = splits[params.means_split]
    input_sums = torch.zeros((n_classes, *means_images.shape[1:]), dtype=torch.float64, device=acc_device)
    label_type = means_labels.dtype
    pred_type = np.uint8 if n_classes <= 256 else np.uint16
    total = sum(len(labels) for _, labels in splits.values())
    with hooked_layers(model, layers, params.activation) as captured, \
            ParquetRowGroups(per_image_path, extraction_meta(layers, params)) as out:
        per_image = _PerImageRows(out, layers, params, total, label_type, pred_type)
        for split, (images, labels) in splits.items():
            split_labels = torch.from_numpy(labels.astype(np.int64)).to(acc_device)
            for pixels, rows in pixel_batches(images, None, params.batch_size, device):
                pred = model(normalise(model, pixels)).argmax(1)
                stats = {}
                for name in layers:
                    act = captured[name]
                    if name not in class_sums:
                        map_shapes[name] = tuple(act.shape[2:])
                        class_sums[name] = torch.zeros((n_classes, *act.shape[1:]), dtype=torch.float64,
                                                       device=acc_device)
                    # the strongest unit of each map; torch.max gives the first of equal maxima
                    peak, at = act.flatten(2).max(2)
                    stats[name] = (act.sum((2, 3)).float(), peak.float(), at.int())
                    if split == params.means_split:
                        class_sums[name].index_add_(0, split_labels[rows], act.to(acc_device, torch.float64))
                if split == params.means_split:
                    yd = split_labels[rows]
                    counts += torch.bincount(yd, minlength=n_classes)
                    input_sums.index_add_(0, yd, pixels.to(acc_device, torch.float64))
                per_image.add(split, rows.start, labels[rows], pred, stats)
        per_image.flush()
        examples = example_maps(model, captured, means_images, means_labels, layers, n_classes, device)
    boxes = {name: (lambda units, name=name: unit_boxes(model, name, units, means_images.shape[1:3])) for name in layers}
    return Extraction(
        layers=list(layers), activation=params.activation, means_split=params.means_split,
        top_k_by=params.top_k_by, classes=list(classes), n_images=total,
        class_sums={k: v.cpu().numpy() for k, v in class_sums.items()},
        class_counts=counts.cpu().numpy(), input_sums=input_sums.cpu().numpy(), examples=examples,
        top_k=located(per_image.top_k(), map_shapes, boxes))


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
