"""Which channels a decision depends on: per-class accuracy with channels zeroed, and the channel
statistics behind the interpretability metrics (dead channels, class selectivity).

A channel is ablated by a forward hook that zeroes it in the layer's output (for the builtin network
its conv output, which the ReLU after it keeps at zero): what follows sees the channel as silent.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from featuremaps.model.network import normalised_batches
from featuremaps.model.seam import layer_map, map_channels, tapped


@contextlib.contextmanager
def ablated(model, layer: str, channels):
    """Inside the block, `layer`'s output channels `channels` are zero."""
    channels = list(channels)

    def hook(module, inputs, output):
        output = output.clone()
        output[:, channels] = 0
        return output

    with tapped(model, layer) as module:
        handle = module.register_forward_hook(hook)
        try:
            yield
        finally:
            handle.remove()


def predictions(model, images: np.ndarray, batch_size: int, device) -> np.ndarray:
    # Moved outside inference mode: parameters copied to a GPU inside it would be inference
    # tensors, which a later backward pass (Grad-CAM) cannot use.
    model.eval().to(device)
    # filled in place: small tensors kept alive between the batches' large temporaries would fragment
    # the heap and make memory grow with the number of images
    preds = torch.empty(len(images), dtype=torch.int64, device=device)
    with torch.inference_mode():
        for start, x in normalised_batches(model, images, batch_size, device):
            preds[start:start + len(x)] = model(x).argmax(1)
    return preds.cpu().numpy()


def class_accuracy(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """[C] share of each class's images predicted right (NaN for a class with none)."""
    right = np.bincount(labels, weights=labels == preds, minlength=n_classes)
    total = np.bincount(labels, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return right / total


def ablation_table(model, layers, images: np.ndarray, labels: np.ndarray, base: np.ndarray, classes: list,
                   batch_size: int, device) -> dict:
    """Rows of (layer, channel, class, accuracy, baseline): each channel of each layer zeroed alone,
    the accuracy of every class and of all images ("all"), beside the unablated accuracy of the
    model's predictions `base`."""
    n = len(classes)
    base_acc = class_accuracy(labels, base, n)
    rows = {"layer": [], "channel": [], "class": [], "accuracy": [], "baseline": []}
    channels = map_channels(model, layers, images.shape[1:3])
    for layer in layers:
        for channel in range(channels[layer]):
            with ablated(model, layer, [channel]):
                preds = predictions(model, images, batch_size, device)
            acc = class_accuracy(labels, preds, n)
            for name, a, b in zip(list(classes) + ["all"], list(acc) + [float(np.mean(preds == labels))],
                                  list(base_acc) + [float(np.mean(base == labels))]):
                rows["layer"].append(layer)
                rows["channel"].append(channel + 1)
                rows["class"].append(name)
                rows["accuracy"].append(float(a))
                rows["baseline"].append(float(b))
    return rows


def class_sums_and_peaks(act: torch.Tensor, labels: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-class sums of each channel's spatial mean [C, F] float64, each channel's largest value [F]
    float64) of post-ReLU maps act [N, F, h, w] whose images have class `labels` [N]."""
    sums = torch.zeros((n_classes, act.shape[1]), dtype=torch.float64, device=act.device)
    return sums.index_add_(0, labels, act.mean((2, 3)).double()), act.amax((0, 2, 3)).double()


@torch.inference_mode()
def channel_statistics(model, layers, images: np.ndarray, labels: np.ndarray, n_classes: int, batch_size: int,
                       device) -> dict:
    """{layer: (per-class mean of each channel's post-ReLU spatial mean [C, F] float64, each channel's
    largest post-ReLU value over all images [F])}, streamed."""
    model.eval().to(device)
    sums, peaks = {}, {}
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    for start, x in normalised_batches(model, images, batch_size, device):
        y = torch.from_numpy(labels[start:start + batch_size].astype(np.int64)).to(device)
        for layer in layers:
            batch_sums, batch_peaks = class_sums_and_peaks(F.relu(layer_map(model, x, layer)), y, n_classes)
            if layer not in sums:
                sums[layer], peaks[layer] = batch_sums, batch_peaks
            else:
                sums[layer] += batch_sums
                peaks[layer] = torch.maximum(peaks[layer], batch_peaks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {layer: ((sums[layer].cpu().numpy() / counts[:, None]), peaks[layer].cpu().numpy())
                for layer in layers}


def selectivity_index(class_means: np.ndarray) -> np.ndarray:
    """[F] class selectivity (Morcos et al. 2018) of each channel from its per-class means [C, F]:
    (mu_max - mu_rest) / (mu_max + mu_rest), mu_rest the mean over the other classes; 0 for a
    silent channel. Classes without images are left out."""
    means = class_means[~np.isnan(class_means).any(1)]
    top = means.max(0)
    rest = (means.sum(0) - top) / (len(means) - 1)
    total = top + rest
    return np.divide(top - rest, total, out=np.zeros_like(total), where=total > 0)


def interpretability_metrics(stats: dict, table: dict) -> dict:
    """Per layer: dead channels (never above zero), mean selectivity index over the live channels, the
    largest drop of overall accuracy from zeroing one channel and that channel (1-based)."""
    out = {}
    for layer, (class_means, peaks) in stats.items():
        live = peaks > 0
        rows = [(c, b - a) for l, c, k, a, b in zip(table["layer"], table["channel"], table["class"],
                                                    table["accuracy"], table["baseline"]) if l == layer and k == "all"]
        channel, drop = max(rows, key=lambda r: (r[1], -r[0]))
        si = selectivity_index(class_means)[live]
        out[layer] = {"dead_channels": int((~live).sum()),
                      "mean_selectivity": round(float(si.mean()) if si.size else 0.0, 6),
                      "max_accuracy_drop": round(float(drop), 6), "max_drop_channel": int(channel)}
    return out
