"""Where a decision comes from: Grad-CAM of a conv layer and Integrated Gradients at the pixels,
through Captum, per image and averaged per class over a split.

    from featuremaps.analysis.attribution import gradcam, class_mean_gradcam, integrated_gradients

Grad-CAM (Selvaraju et al. 2017) weights each map of the layer by the mean gradient of the
target logit over it, sums the weighted maps and keeps the positive part; it is upsampled
bilinearly to the input size. Which maps (GRADCAM_MAPS, `attribute.gradcam_map`): "conv", the
layer's output module as it is (conv, or its batch norm), before pooling and ReLU: the tensor a
hook on the module sees, Captum's and pytorch-grad-cam's convention; or "rectified", ReLU of it,
the maps the paper weighs and the feature-map figures show. Max pooling and ReLU commute, so the
network computes the same function either way and the two differ only in the maps summed. Per-class means are float64 sums over streamed batches divided
by counts, so they are exact whatever the batch size.
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam

from featuremaps.model.network import normalised_batches, normalised_images
from featuremaps.model.normalisation import normalise
from featuremaps.model.seam import tapped

GRADCAM_MAPS = ("conv", "rectified")


def gradcam(model, layer: str, x: torch.Tensor, target: torch.Tensor, maps: str = "conv") -> torch.Tensor:
    """[N, H, W] Grad-CAM of `layer` for class `target` [N] of inputs x [N, C, H, W], at input size,
    of the layer's "conv" or "rectified" maps."""
    with tapped(model, layer) as module:
        # Registered before Captum's own hook, which then sees (and takes gradients at) the rectified maps.
        rectify = module.register_forward_hook(lambda m, i, out: torch.relu(out)) if maps == "rectified" else None
        try:
            cam = LayerGradCam(model, module).attribute(x, target=target, relu_attributions=True)
        finally:
            if rectify is not None:
                rectify.remove()
    return LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")[:, 0].detach()


def integrated_gradients(model, x: torch.Tensor, target: torch.Tensor, steps: int) -> torch.Tensor:
    """[N, H, W] Integrated Gradients of class `target` from a black image, summed over the input
    channels (each pixel's share of the logit, whatever its colour)."""
    black = normalise(model, torch.zeros((1, *x.shape[2:], x.shape[1]), dtype=torch.uint8, device=x.device))
    ig = IntegratedGradients(model).attribute(x, baselines=black.expand_as(x).contiguous(), target=target,
                                              n_steps=steps, internal_batch_size=1024)
    # One channel as it is: a sum would turn its signed zeros into +0.
    return (ig[:, 0] if ig.shape[1] == 1 else ig.sum(1)).detach()


def class_mean_gradcam(model, layers, images: np.ndarray, labels: np.ndarray, n_classes: int, batch_size: int,
                       device, maps: str = "conv") -> tuple[dict, np.ndarray, np.ndarray]:
    """({layer: mean Grad-CAM for the true class [C, H, W] float64}, counts [C], mean input [C, H, W(, channels)]),
    streamed batch by batch; a class with no image is NaN."""
    model.eval().to(device)
    sums = {layer: torch.zeros((n_classes, *images.shape[1:3]), dtype=torch.float64, device=device)
            for layer in layers}
    pixels = torch.zeros((n_classes, *images.shape[1:]), dtype=torch.float64, device=device)
    counts = torch.zeros(n_classes, dtype=torch.int64, device=device)
    for start, x in normalised_batches(model, images, batch_size, device):
        y = torch.from_numpy(labels[start:start + batch_size].astype(np.int64)).to(device)
        for layer in layers:
            sums[layer].index_add_(0, y, gradcam(model, layer, x, y, maps).double())
        pixels.index_add_(0, y, torch.from_numpy(images[start:start + batch_size]).to(device, torch.float64))
        counts += torch.bincount(y, minlength=n_classes)
    n = counts.double()[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = {layer: (s / n).cpu().numpy() for layer, s in sums.items()}
        return means, counts.cpu().numpy(), (pixels / n.view(-1, *[1] * (pixels.ndim - 1))).cpu().numpy()


def example_indices(labels: np.ndarray, preds: np.ndarray, n_classes: int, n_misclassified: int) -> np.ndarray:
    """The first image of each class present, then the first `n_misclassified` misclassified images."""
    first = [int(np.argmax(labels == c)) for c in range(n_classes) if (labels == c).any()]
    wrong = np.flatnonzero(labels != preds)[:n_misclassified]
    return np.array(first + [int(i) for i in wrong if i not in first], dtype=np.int64)


def example_attributions(model, layers, images: np.ndarray, labels: np.ndarray, preds: np.ndarray, ig_steps: int,
                         device, maps: str = "conv") -> dict:
    """Per image: Grad-CAM of each layer for the predicted and for the true class, and Integrated
    Gradients for the predicted class from a black image."""
    model.eval().to(device)
    x = normalised_images(model, images, device)
    pred, true = (torch.from_numpy(a.astype(np.int64)).to(device) for a in (preds, labels))
    out = {"ig": integrated_gradients(model, x, pred, ig_steps).cpu().numpy()}
    for layer in layers:
        out[f"{layer}_pred"] = gradcam(model, layer, x, pred, maps).cpu().numpy()
        out[f"{layer}_true"] = gradcam(model, layer, x, true, maps).cpu().numpy()
    return out
