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

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

from featuremaps.analysis.feature_vis_store import LayerVisualization
from featuremaps.data.layout import channels, from_nchw, to_nchw
from featuremaps.model.network import normalised_batches
from featuremaps.model.normalisation import standardise
from featuremaps.model.seam import hooked, is_builtin, layer_map, through_deepest
from featuremaps.params import VisualizeParams


LEAK = 0.1  # the ascent's leaky ReLU slope: 0.1 and 0.01 reach the same values on the default run


def feature_objective(maps: torch.Tensor, objective: str, activation: str) -> torch.Tensor:
    """[N, F] objective of each image and feature from the layer's raw output maps [N, F, h, w]."""
    if objective == "neuron":
        h, w = maps.shape[2:]
        maps = maps[:, :, h // 2, w // 2]
        return F.relu(maps) if activation == "relu" else maps
    return (F.relu(maps) if activation == "relu" else maps).mean((2, 3))


def _ascent_target(maps: torch.Tensor, objective: str, activation: str) -> torch.Tensor:
    """What the optimiser maximises: the objective, with a leaky ReLU in place of the ReLU, so that
    units not yet firing still pass a gradient (with the plain ReLU, regions of the input under
    silent units never move: grey patches, seeds stuck at half the best image's value)."""
    if activation != "relu":
        return feature_objective(maps, objective, activation)
    return feature_objective(F.leaky_relu(maps, LEAK), objective, "raw")


def background_of(images, batch_size: int = 8192) -> np.ndarray:
    """float64 [C]: each channel's median over the images' border pixels, in [0, 1]: what the frame
    is padded with when the optimised input is moved, and what the L1 term pulls it towards. Exact:
    counted per grey level (uint8 images) a batch at a time, so memory does not grow with N."""
    counts = None
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        x = x if x.ndim == 4 else x[..., None]
        border = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1).reshape(-1, x.shape[-1])
        batch = np.stack([np.bincount(border[:, c], minlength=256) for c in range(border.shape[1])])
        counts = batch if counts is None else counts + batch
    return np.array([_median_of_counts(c) for c in counts]) / 255.0


def _median_of_counts(counts: np.ndarray) -> float:
    """np.median of the values 0..255 counted in `counts`: the middle one, or the mean of the middle two."""
    n, cumulative = int(counts.sum()), np.cumsum(counts)
    value = lambda k: int(np.searchsorted(cumulative, k, side="right"))  # the k-th smallest, from 0  # noqa: E731
    return float(value(n // 2)) if n % 2 else (value(n // 2 - 1) + value(n // 2)) / 2


def transforms_of(params: VisualizeParams, generator: torch.Generator) -> list:
    """One (dy, dx, scale, degrees) per step, drawn from `generator`: an integer translation of up to
    jitter pixels, a scale within 1 +- params.scale and a rotation within +- params.rotate degrees;
    none of them for the neuron objective, where any move would take the pattern off its unit."""
    moves = params.objective == "channel"
    jitter = jitter_of(params)
    shifts = torch.randint(-jitter, jitter + 1, (params.steps, 2), generator=generator).tolist()
    scales = (1 + params.scale * (2 * torch.rand(params.steps, generator=generator) - 1)).tolist() \
        if params.scale and moves else [1.0] * params.steps
    angles = (params.rotate * (2 * torch.rand(params.steps, generator=generator) - 1)).tolist() \
        if params.rotate and moves else [0.0] * params.steps
    return [(dy, dx, sc, an) for (dy, dx), sc, an in zip(shifts, scales, angles)]


def transformed(x: torch.Tensor, step: tuple, background: torch.Tensor) -> torch.Tensor:
    """Pixels x [N, C, H, W] in [0, 1] moved by step (dy, dx, scale, degrees) about the centre; the
    uncovered frame filled with the background [C]. Integer shifts alone are exact copies."""
    dy, dx, scale, degrees = step
    bg = background.view(1, -1, 1, 1)
    if scale == 1.0 and degrees == 0.0:
        if dy == 0 and dx == 0:
            return x
        h, w = x.shape[2:]
        pad = max(abs(dy), abs(dx))
        padded = F.pad(x - bg, (pad, pad, pad, pad)) + bg
        return padded[:, :, pad - dy:pad - dy + h, pad - dx:pad - dx + w]
    h, w = x.shape[2:]
    a = math.radians(degrees)
    # the sampling grid: output pixel -> input pixel, the inverse of the move
    theta = torch.tensor([[math.cos(a) / scale, math.sin(a) / scale * h / w, -2 * dx / w],
                          [-math.sin(a) / scale * w / h, math.cos(a) / scale, -2 * dy / h]],
                         dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x - bg, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + bg


def _frequency_scale(h: int, w: int, device) -> torch.Tensor:
    """[h, w // 2 + 1]: 1 / frequency (Lucent's 1/f spectrum), so low frequencies move first."""
    fy = torch.fft.fftfreq(h, device=device)[:, None]
    fx = torch.fft.rfftfreq(w, device=device)[None, :]
    return 1.0 / torch.sqrt(fy * fy + fx * fx).clamp(min=1.0 / max(h, w))


def parametrised(logits: torch.Tensor, parametrisation: str) -> torch.Tensor:
    """The optimised variable for pixels 255 * sigmoid(logits): the logits themselves ("sigmoid"), or
    their 2-D Fourier coefficients divided by the 1/f scale ("fourier"), as a real tensor."""
    if parametrisation == "sigmoid":
        return logits.clone()
    h, w = logits.shape[2:]
    return torch.view_as_real(torch.fft.rfft2(logits) / _frequency_scale(h, w, logits.device))


def pixels_of(z: torch.Tensor, parametrisation: str, size: tuple) -> torch.Tensor:
    """Pixels in [0, 1] [N, C, H, W] from the optimised variable (parametrised's inverse, then sigmoid)."""
    if parametrisation == "sigmoid":
        return torch.sigmoid(z)
    h, w = size
    return torch.sigmoid(torch.fft.irfft2(torch.view_as_complex(z) * _frequency_scale(h, w, z.device), s=(h, w)))


def penalties(x: torch.Tensor, background: torch.Tensor, params: VisualizeParams) -> torch.Tensor:
    """[N] the regularisers of each input x in [0, 1]: params.tv times its total variation (the mean
    absolute difference of neighbouring pixels) and params.l1 times its mean distance from the background."""
    out = torch.zeros(len(x), dtype=x.dtype, device=x.device)
    if params.tv:
        out = out + params.tv * ((x[:, :, 1:] - x[:, :, :-1]).abs().mean((1, 2, 3))
                                 + (x[..., 1:] - x[..., :-1]).abs().mean((1, 2, 3)))
    if params.l1:
        out = out + params.l1 * (x - background.view(1, -1, 1, 1)).abs().mean((1, 2, 3))
    return out


def similarity_of_seeds(maps: torch.Tensor, seeds: int) -> torch.Tensor:
    """[G] for rows grouped by `seeds` (the first G * seeds rows of maps [N, F, h, w]): the mean cosine
    similarity between the layer's maps of every two seeds of a group (Lucent's diversity term reads
    the layer's Gram matrices; the maps themselves suffice for a map this small)."""
    groups = maps[:len(maps) // seeds * seeds].flatten(1).unflatten(0, (-1, seeds))
    unit = F.normalize(groups, dim=2)
    cos = unit @ unit.transpose(1, 2)
    return (cos.sum((1, 2)) - seeds) / (seeds * (seeds - 1))


def ascended_images(layer_maps, start: torch.Tensor, target: torch.Tensor, params: VisualizeParams,
                    activation: str, transforms: list, background: torch.Tensor, norm: torch.Tensor | None = None,
                    minimise: int = 0, diverse: int = 0) -> np.ndarray:
    """uint8 [N, H, W(, C)]: the starts (logits [N, C, H, W]) after gradient ascent on feature
    target[i] of row i of the maps that layer_maps(pixels in [0, 1]) returns ([N, F, h, w]; it
    normalises them), each step's input moved by that step's transform (transformed). The objective
    of row i is divided by norm[i] (the best dataset image's, so the regularisers weigh the same on
    every feature); the last `minimise` rows instead push their feature's raw objective down (the
    input that minimises it), in the same batch. With params.diversity, the first `diverse` rows, in
    groups of params.seeds, are pushed apart."""
    lowered = torch.arange(len(target), device=start.device) >= len(target) - minimise
    size = tuple(start.shape[2:])
    z = parametrised(start, params.parametrisation).requires_grad_(True)
    rows = torch.arange(len(target), device=z.device)
    norm = torch.ones(len(target), device=z.device) if norm is None else norm
    optimizer = torch.optim.Adam([z], lr=params.lr)
    for step in transforms:
        x = pixels_of(z, params.parametrisation, size)  # 255 * x as pixels
        maps = layer_maps(transformed(x, step, background))
        objective = _ascent_target(maps, params.objective, activation)[rows, target]
        if minimise:
            objective = torch.where(lowered, -feature_objective(maps, params.objective, "raw")[rows, target], objective)
        objective = objective / norm
        loss = -objective.sum() + penalties(x, background, params).sum()
        if params.diversity and diverse and params.seeds > 1:
            loss = loss + params.diversity * similarity_of_seeds(maps[:diverse], params.seeds).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    pixels = pixels_of(z.detach(), params.parametrisation, size)
    return from_nchw(torch.round(255 * pixels).to(torch.uint8).cpu().numpy())


@torch.inference_mode()
def objective_values(model, layer: str, images: np.ndarray, objective: str, activation: str, device,
                     batch_size: int = 1024) -> np.ndarray:
    """float64 [N, F]: the objective of every feature of `layer` on uint8 images [N, H, W(, C)]."""
    return torch.cat([feature_objective(layer_map(model, x, layer), objective, activation).double().cpu()
                      for _, x in normalised_batches(model, images, batch_size, device)]).numpy()


def dataset_best(model, layer: str, images: np.ndarray, objective: str, activation: str, device,
                 batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(index [F], value [F]) of the image scoring highest on each feature, the lower index on ties;
    streamed, so memory does not grow with the number of images."""
    index, value, _ = dataset_extremes(model, layer, images, objective, activation, device, batch_size)[layer]
    return index, value


@torch.inference_mode()
def dataset_extremes(model, layers, images: np.ndarray, objective: str, activation: str, device,
                     batch_size: int = 1024) -> dict:
    """{layer: (dataset_best's index [F] and value [F], each feature's lowest raw objective [F])} for
    every layer in `layers` (a name or a list), from one streamed pass through the deepest of them."""
    layers = [layers] if isinstance(layers, str) else list(layers)
    found = {}
    with hooked(model, layers) as seen:  # copies: an in-place op after a layer must not change its map
        for start, x in normalised_batches(model, images, batch_size, device):
            through_deepest(model, x, layers)
            for layer in layers:
                maps = seen[layer]
                values = feature_objective(maps, objective, activation).double().cpu().numpy()
                low = feature_objective(maps, objective, "raw").double().cpu().numpy().min(0)
                top = values.argmax(0)  # first of equal maxima
                value = values[top, np.arange(values.shape[1])]
                if layer not in found:
                    found[layer] = [top + start, value, low]
                else:
                    index, best, lowest = found[layer]
                    better = value > best
                    found[layer] = [np.where(better, top + start, index), np.where(better, value, best),
                                    np.minimum(lowest, low)]
    return {layer: (index.astype(np.int64), best, lowest) for layer, (index, best, lowest) in found.items()}


def jitter_of(params: VisualizeParams) -> int:
    """The translation the objective allows (none for the neuron objective)."""
    return params.jitter if params.objective == "channel" else 0


def visualize_layer(model, layer: str, dataset_images: np.ndarray, params: VisualizeParams, activation: str,
                    seed: int, device, extremes: tuple | None = None) -> LayerVisualization:
    """Optimise params.seeds inputs from random starts for every feature of `layer`, one from the
    dataset image scoring highest on it, and (params.negative) one that minimises its raw value from
    the first seed's start; score them all on their stored pixels. For the first conv layer, also the
    exact optimum of its centre unit and how close an ascent on that unit gets to it. `extremes`: the
    layer's dataset_extremes when the caller has them (one pass for every layer)."""
    model.eval().to(device).requires_grad_(False)
    image_shape = dataset_images.shape[1:]
    index, value, lowest = extremes or dataset_extremes(model, layer, dataset_images, params.objective, activation,
                                                         device)[layer]
    n_features, seeds = len(index), params.seeds
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn((n_features * seeds, channels(dataset_images), *image_shape[:2]), generator=generator) * 0.5
    # the best dataset image, as the logit of its pixels (kept off 0 and 255, where sigmoid has no gradient)
    best = torch.from_numpy(to_nchw(dataset_images[index])).double().div(255).mul(0.98).add(0.01)
    start = torch.cat([start, torch.logit(best).float()])
    target = torch.cat([torch.arange(n_features).repeat_interleave(seeds), torch.arange(n_features)])
    background = torch.from_numpy(background_of(dataset_images)).float().to(device)
    # the objective relative to the best image's, so the regularisers weigh alike on every feature
    norm = torch.from_numpy(np.where(value > 0, value, 1.0)).float()[target]
    random_part = n_features * seeds
    first_seed = start[:random_part:seeds]
    minimise = n_features if params.negative else 0
    if minimise:  # the inputs that minimise each feature, from the first seed's start, in the same batch
        start = torch.cat([start, first_seed])
        target = torch.cat([target, torch.arange(n_features)])
        norm = torch.cat([norm, torch.from_numpy(np.where(lowest < 0, -lowest, 1.0)).float()])

    def layer_maps(x):
        return layer_map(model, standardise(model, x), layer)
    images = ascended_images(layer_maps, start.to(device), target.to(device), params, activation,
                             transforms_of(params, generator), background, norm.to(device), minimise=minimise,
                             diverse=random_part)
    optimised = len(target) - minimise
    rows = np.arange(optimised)
    own = objective_values(model, layer, images[:optimised], params.objective, activation, device)[
        rows, target.numpy()[:optimised]]
    negative = images[optimised:]
    negative_values = objective_values(model, layer, negative, params.objective, "raw", device)[
        np.arange(minimise), np.arange(minimise)] if minimise else np.zeros(0)
    optimum, reached = np.full(n_features, np.nan), np.full(n_features, np.nan)
    if is_builtin(model) and layer == model.conv_layers[0]:
        optimum, reached = neuron_optimum_gap(model, layer, first_seed, params, activation, background, generator,
                                              device)
    return LayerVisualization(
        images[:random_part].reshape(n_features, seeds, *image_shape), own[:random_part].reshape(n_features, seeds),
        images[random_part:optimised], own[random_part:], index, value, negative, negative_values, optimum, reached)


def neuron_optimum(model, layer: str, image_shape: tuple, activation: str, device) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [F, H, W(, C)], float64 [F]): for the first conv layer, whose units are an affine function
    of the pixels in their receptive field (then batch norm, also affine), the input that maximises
    the unit at the map's centre, and its value: 255 where the unit's effective weight is positive, 0
    where it is not (the pixel range's ends, since the function is linear in each pixel)."""
    conv = getattr(model, layer)
    weight = conv.weight.detach().double()                                  # [F, C, k, k]
    if model.batch_norm:  # batch norm multiplies by gamma / sqrt(var + eps): a negative gamma flips the sign
        weight = weight * torch.sign(getattr(model, f"bn{layer[4:]}").weight.detach().double()).view(-1, 1, 1, 1)
    h, w = image_shape[:2]
    k = weight.shape[2]
    n_features, n_channels = weight.shape[:2]
    pixels = torch.zeros((n_features, n_channels, h, w), dtype=torch.float64)
    top, left = h // 2 - k // 2, w // 2 - k // 2  # the centre unit's receptive field ("same" padding)
    rows, cols = slice(max(top, 0), min(top + k, h)), slice(max(left, 0), min(left + k, w))
    kr, kc = slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left)
    pixels[:, :, rows, cols] = 255.0 * (weight[:, :, kr, kc] > 0)
    images = from_nchw(pixels.to(torch.uint8).numpy())
    values = objective_values(model, layer, images, "neuron", activation, device)[np.arange(n_features),
                                                                                    np.arange(n_features)]
    return images, values


def neuron_optimum_gap(model, layer: str, start: torch.Tensor, params: VisualizeParams, activation: str,
                       background: torch.Tensor, generator, device) -> tuple[np.ndarray, np.ndarray]:
    """([F] the exact optimum of the centre unit, [F] what gradient ascent on that unit alone reaches
    from `start`, with these params (no translation: it would move the unit))."""
    n_features = len(start)
    optimum = neuron_optimum(model, layer, tuple(start.shape[2:]), activation, device)[1]
    neuron = dataclasses.replace(params, objective="neuron", diversity=0.0)
    reached_images = ascended_images(lambda x: layer_map(model, standardise(model, x), layer), start.to(device),
                                     torch.arange(n_features, device=device), neuron, activation,
                                     transforms_of(neuron, generator), background,
                                     torch.from_numpy(np.where(optimum > 0, optimum, 1.0)).float().to(device))
    reached = objective_values(model, layer, reached_images, "neuron", activation, device)[
        np.arange(n_features), np.arange(n_features)]
    return optimum, reached


def progress_line(r: LayerVisualization, params: VisualizeParams, split: str, seconds: float) -> str:
    """What the stage logs for a layer: the work done and how close the optimised inputs came to the
    best dataset image, over the features some image of `split` excites (the others are named dead)."""
    n = len(r.dataset_value)
    live = r.dataset_value > 0
    line = f"{n} features x {params.seeds} seeds + refined, {params.steps} steps in {seconds:.1f} s"
    if live.any():
        seeds = r.values[live] / r.dataset_value[live, None]
        refined = r.refined_values[live] / r.dataset_value[live]
        below = int((seeds < 1).sum())
        line += (f"; objective / best {split} image's: every seed min {seeds.min():.2f} median {np.median(seeds):.2f}"
                 f" ({below} of {seeds.size} below 1), refined min {refined.min():.2f} median {np.median(refined):.2f}")
    if np.isfinite(r.neuron_optimum).any():
        gap = r.neuron_optimum - r.neuron_reached
        line += f"; centre unit: gap to its exact optimum max {np.nanmax(gap):.2g} (largest optimum {np.nanmax(r.neuron_optimum):.3g})"
    if not live.all():
        dead = ", ".join(str(f + 1) for f in np.flatnonzero(~live))
        line += f"; dead (zero or below on every {split} image): feature{'s' if (~live).sum() > 1 else ''} {dead}"
    return line
