"""What each feature looks for: the inputs that maximise it, found by gradient ascent.

    from featuremaps.analysis.feature_vis import visualize_layer
    vis = visualize_layer(model, "conv2", dataset_images, params.visualize, "relu", seed, device)

At the model's own input size and channel count (every channel optimised): each input is
255 * sigmoid(z), so it stays inside the valid pixel range, then goes through the model's own
normalisation. The
objective is the feature's mean activation over its map (`channel`) or the activation of
the unit at the map's centre (`neuron`), after ReLU or raw as extraction saw it. Every
feature and seed of a layer is one batch, optimised together with Adam; the forward pass
stops at the layer. For the channel objective each step translates the batch by a random
offset of up to `jitter` pixels (edge pixels repeated), so the pattern must work wherever it
sits. The neuron objective takes no translation: it would move the one unit away from the
pattern it is optimising (with receptive fields of 3 and 8 pixels, 2 pixels of jitter cost
it half its value). Besides the `seeds` random starts, each feature's best
dataset image is optimised further the same way: gradient ascent from noise finds a local
maximum, sometimes below what a real image reaches, and the refined image shows how that
image would change to excite the feature more. Values are measured on the stored uint8 images,
without translation, with the same function that scores the dataset's images.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from featuremaps.analysis.feature_vis_store import LayerVisualization
from featuremaps.data.layout import channels, from_nchw, to_nchw
from featuremaps.model.network import normalised_batches
from featuremaps.params import VisualizeParams


def feature_objective(maps: torch.Tensor, objective: str, activation: str) -> torch.Tensor:
    """[N, F] objective of each image and feature from the layer's raw output maps [N, F, h, w]."""
    if objective == "neuron":
        h, w = maps.shape[2:]
        maps = maps[:, :, h // 2, w // 2]
        return F.relu(maps) if activation == "relu" else maps
    return (F.relu(maps) if activation == "relu" else maps).mean((2, 3))


def _ascent_target(maps: torch.Tensor, objective: str, activation: str) -> torch.Tensor:
    """What the optimiser maximises: the objective, except that where ReLU leaves a feature at
    zero (no gradient), the raw value, which the same input pattern maximises."""
    value = feature_objective(maps, objective, activation)
    if activation != "relu":
        return value
    return torch.where(value > 0, value, feature_objective(maps, objective, "raw"))


def _translated(x: torch.Tensor, dy: int, dx: int, pad: int) -> torch.Tensor:
    if pad == 0:
        return x
    h, w = x.shape[2:]
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    return padded[:, :, pad + dy:pad + dy + h, pad + dx:pad + dx + w]


@torch.inference_mode()
def objective_values(model, layer: str, images: np.ndarray, objective: str, activation: str, device,
                     batch_size: int = 1024) -> np.ndarray:
    """float64 [N, F]: the objective of every feature of `layer` on uint8 images [N, H, W(, C)]."""
    return torch.cat([feature_objective(model.features(x, upto=layer), objective, activation).double().cpu()
                      for _, x in normalised_batches(model, images, batch_size, device)]).numpy()


def dataset_best(model, layer: str, images: np.ndarray, objective: str, activation: str, device,
                 batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(index [F], value [F]) of the image scoring highest on each feature, the lower index on ties;
    streamed, so memory does not grow with the number of images."""
    best_value, best_index = None, None
    for start in range(0, len(images), batch_size):
        values = objective_values(model, layer, images[start:start + batch_size], objective, activation, device,
                                  batch_size)
        top = values.argmax(0)  # first of equal maxima
        value = values[top, np.arange(values.shape[1])]
        if best_value is None:
            best_value, best_index = value, top + start
        else:
            better = value > best_value
            best_value = np.where(better, value, best_value)
            best_index = np.where(better, top + start, best_index)
    return best_index.astype(np.int64), best_value


def jitter_of(params: VisualizeParams) -> int:
    """The translation the objective allows (none for the neuron objective)."""
    return params.jitter if params.objective == "channel" else 0


def shifts_of(params: VisualizeParams, generator: torch.Generator) -> list:
    """The (dy, dx) translation of each step, drawn from `generator`."""
    jitter = jitter_of(params)
    return torch.randint(-jitter, jitter + 1, (params.steps, 2), generator=generator).tolist()


def ascended_images(layer_maps, start: torch.Tensor, target: torch.Tensor, params: VisualizeParams,
                    activation: str, shifts: list) -> np.ndarray:
    """uint8 [N, H, W(, C)]: the starts (logits [N, C, H, W]) after gradient ascent on feature
    target[i] of row i of the maps that layer_maps(pixels in [0, 1], dy, dx) returns ([N, F, h, w];
    it normalises and translates the batch by the step's shift)."""
    z = start.clone().requires_grad_(True)
    rows = torch.arange(len(target), device=z.device)
    optimizer = torch.optim.Adam([z], lr=params.lr)
    for dy, dx in shifts:
        maps = layer_maps(torch.sigmoid(z), dy, dx)  # 255 * sigmoid(z) as pixels
        objective = _ascent_target(maps, params.objective, activation)[rows, target]
        optimizer.zero_grad(set_to_none=True)
        (-objective.sum()).backward()
        optimizer.step()
    return from_nchw(torch.round(255 * torch.sigmoid(z.detach())).to(torch.uint8).cpu().numpy())


def visualize_layer(model, layer: str, dataset_images: np.ndarray, params: VisualizeParams, activation: str,
                    seed: int, device) -> LayerVisualization:
    """Optimise params.seeds inputs from random starts for every feature of `layer`, and one from
    the dataset image scoring highest on it; score them all on their stored pixels."""
    model.eval().to(device).requires_grad_(False)
    image_shape = dataset_images.shape[1:]
    index, value = dataset_best(model, layer, dataset_images, params.objective, activation, device)
    n_features, seeds = len(index), params.seeds
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn((n_features * seeds, channels(dataset_images), *image_shape[:2]), generator=generator) * 0.5
    # the best dataset image, as the logit of its pixels (kept off 0 and 255, where sigmoid has no gradient)
    best = torch.from_numpy(to_nchw(dataset_images[index])).double().div(255).mul(0.98).add(0.01)
    start = torch.cat([start, torch.logit(best).float()])
    jitter = jitter_of(params)
    target = torch.cat([torch.arange(n_features).repeat_interleave(seeds), torch.arange(n_features)])
    images = ascended_images(
        lambda x, dy, dx: model.features(_translated(model.standardise(x), dy, dx, jitter), upto=layer),
        start.to(device), target.to(device), params, activation, shifts_of(params, generator))
    rows = np.arange(len(target))
    own = objective_values(model, layer, images, params.objective, activation, device)[rows, target.numpy()]
    random_part = n_features * seeds
    return LayerVisualization(
        images[:random_part].reshape(n_features, seeds, *image_shape), own[:random_part].reshape(n_features, seeds),
        images[random_part:], own[random_part:], index, value)


def progress_line(r: LayerVisualization, params: VisualizeParams, split: str, seconds: float) -> str:
    """What the stage logs for a layer: the work done and how close the optimised inputs came to the
    best dataset image, over the features some image of `split` excites (the others are named dead)."""
    n = len(r.dataset_value)
    live = r.dataset_value > 0
    line = f"{n} features x {params.seeds} seeds + refined, {params.steps} steps in {seconds:.1f} s"
    if live.any():
        seeds = r.values.max(1)[live] / r.dataset_value[live]
        refined = r.refined_values[live] / r.dataset_value[live]
        line += (f"; objective / best {split} image's: best seed min {seeds.min():.2f} median {np.median(seeds):.2f}, "
                 f"refined min {refined.min():.2f} median {np.median(refined):.2f}")
    if not live.all():
        dead = ", ".join(str(f + 1) for f in np.flatnonzero(~live))
        line += f"; dead (zero or below on every {split} image): feature{'s' if (~live).sum() > 1 else ''} {dead}"
    return line
