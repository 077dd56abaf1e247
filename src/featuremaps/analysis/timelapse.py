"""How the features formed: the weight snapshots of training, each run on one fixed probe set.

    from featuremaps.analysis.timelapse import probe_indices, layer_timelapses, visualize_epochs
    probe = probe_indices(len(val_images), params.timelapse.probe_size, params.seed)
    lapses = layer_timelapses(model, snapshots, reference, layers, images[probe], labels[probe], ...)

For every snapshot epoch and conv layer:
- `cka`: linear CKA of the layer's post-ReLU maps (whole maps, every unit) on the probe images to
  the same maps of the reference, the model every other view shows (model.pt, the best epoch), from
  the images' centred Gram matrices, so its cost grows with the probe, not with the map's size;
  `cka_pooled`: the same of each image's channel means, the representation `featuremaps compare`
  reads (blind to where in the image a feature fires, so it moves more as features form);
- each channel's class selectivity and whether it is dead, from the same maps with the attribute
  stage's own arithmetic (on the full val split, at the best epoch, interpretability.json's numbers);
- the filters, and each channel's top_k probe images by its strongest unit.
At the epochs of timelapse.vis_epochs, the feature visualisations: the same gradient ascent as the
visualize stage, all those epochs in one batch (torch.func.vmap over the stacked weights) from the
same random starts, so what differs between epochs is the network only.
"""
from __future__ import annotations

import dataclasses

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from featuremaps.analysis.ablation import class_sums_and_peaks, selectivity_index
from featuremaps.analysis.feature_vis import ascended_images, background_of, objective_values, transforms_of
from featuremaps.analysis.cka import centred_gram, gram_cka, linear_cka
from featuremaps.model.network import normalised_batches
from featuremaps.model.normalisation import standardise
from featuremaps.model.seam import layer_filters, layer_map, map_channels
from featuremaps.params import VisualizeParams


@dataclass
class LayerTimelapse:
    filters: np.ndarray      # float32 [E, F, C_in, k, k]
    cka: np.ndarray          # float64 [E]: linear CKA of the whole maps to the reference's
    cka_pooled: np.ndarray   # float64 [E]: linear CKA of the per-image channel means (featuremaps compare's)
    selectivity: np.ndarray  # float64 [E, F]: class selectivity index (0 for a dead channel)
    preferred: np.ndarray    # int64 [E, F]: the class with the highest mean activation
    dead: np.ndarray         # bool [E, F]: zero (after ReLU) on every probe image
    top: np.ndarray          # int64 [E, F, k]: positions in the probe of the images with the strongest unit
    top_value: np.ndarray    # float32 [E, F, k]: that unit's value


def probe_indices(n_images: int, size: int, seed: int) -> np.ndarray:
    """`size` distinct indices into a split of n_images (all of them when it holds fewer), seeded, ascending."""
    return np.sort(np.random.default_rng(seed).choice(n_images, min(size, n_images), replace=False))


def first_epoch_above(epochs, cka, level: float):
    """The first epoch whose CKA is at least `level`; "never" when none is, "undefined" when no epoch has a
    CKA (a layer constant over the probe at every epoch)."""
    if not np.isfinite(np.asarray(cka, dtype=np.float64)).any():
        return "undefined (constant maps)"
    return next((int(e) for e, c in zip(epochs, cka) if np.isfinite(c) and c >= level), "never")


def reference_epoch(states: dict, reference: dict) -> int:
    """The snapshot epoch whose weights equal `reference` exactly, -1 if none."""
    for epoch, state in states.items():
        if state.keys() == reference.keys() and all(torch.equal(state[k], reference[k]) for k in state):
            return epoch
    return -1


@torch.inference_mode()
def _probe_maps(model, layer: str, images: np.ndarray, batch_size: int, device) -> torch.Tensor:
    """float32 [n, F, h, w]: the layer's post-ReLU maps of the probe images, on the CPU."""
    return torch.cat([F.relu(layer_map(model, x, layer)).float().cpu()
                      for _, x in normalised_batches(model, images, batch_size, device)])


def _top(maps: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per channel the k images with the strongest unit (the lower index on ties), and that unit."""
    peak = maps.amax((2, 3)).numpy().T  # [F, n]
    order = np.argsort(-peak, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(peak, order, axis=1)


def layer_timelapses(model, states: dict, reference: dict, layers: list, images: np.ndarray, labels: np.ndarray,
                     n_classes: int, top_k: int, batch_size: int, device) -> dict:
    """{layer: LayerTimelapse} over the epochs of `states` ({epoch: state dict}, ascending); `model`
    is left holding `reference`."""
    model.eval().to(device)
    model.load_state_dict(reference)
    grams, pooled = {}, {}
    for layer in layers:
        maps = _probe_maps(model, layer, images, batch_size, device)
        grams[layer], pooled[layer] = centred_gram(maps.flatten(1).numpy()), maps.mean((2, 3)).numpy()
    rows = {layer: {"filters": [], "cka": [], "cka_pooled": [], "selectivity": [], "preferred": [], "dead": [], "top": [],
                    "top_value": []} for layer in layers}
    classes = torch.from_numpy(labels.astype(np.int64))
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)[:, None]
    for epoch in sorted(states):
        model.load_state_dict(states[epoch])
        for layer in layers:
            maps = _probe_maps(model, layer, images, batch_size, device)
            sums, peaks = (t.numpy() for t in class_sums_and_peaks(maps, classes, n_classes))
            with np.errstate(invalid="ignore", divide="ignore"):
                class_means = sums / counts  # NaN for a class without probe images
            top, top_value = _top(maps, top_k)
            r = rows[layer]
            # a copy: the next load_state_dict writes into the same parameter
            r["filters"].append(layer_filters(model, [layer]).get(layer, np.zeros((0,), np.float32)).copy())
            r["cka"].append(gram_cka(centred_gram(maps.flatten(1).numpy()), grams[layer]))
            r["cka_pooled"].append(linear_cka(maps.mean((2, 3)).numpy(), pooled[layer]))
            r["selectivity"].append(selectivity_index(class_means))
            r["preferred"].append(np.nan_to_num(class_means, nan=-np.inf).argmax(0))
            r["dead"].append(peaks <= 0)
            r["top"].append(top)
            r["top_value"].append(top_value)
    model.load_state_dict(reference)
    return {layer: LayerTimelapse(**{name: np.stack(v) if v else np.zeros((0,)) for name, v in r.items()})
            for layer, r in rows.items()}


class _UpTo(nn.Module):
    """The model from pixels in [0, 1] to one layer's map: what functional_call runs per epoch."""

    def __init__(self, model, layer: str):
        super().__init__()
        self.model, self.layer = model, layer

    def forward(self, x):
        return layer_map(self.model, standardise(self.model, x), self.layer)


def visualize_epochs(model, states: list, layer: str, images: np.ndarray, params: VisualizeParams, seeds: int,
                     activation: str, seed: int, device) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [V, F, S, H, W(, C)], float64 [V, F, S]): `seeds` inputs per feature of `layer` optimised
    for each of the V state dicts `states` at once, from the same seeded starts and shifts, and
    each one's objective measured on its stored pixels at its epoch. `images` (the probe) give the
    shape and the background; the objective is not divided by a best image's (none is scored per
    epoch), so the regularisers weigh against the raw objective here."""
    image_shape = images.shape[1:]
    from torch.func import functional_call, vmap
    model.eval().to(device).requires_grad_(False)
    n_features = map_channels(model, [layer], image_shape)[layer]
    if not states:
        return np.zeros((0, n_features, seeds, *image_shape), np.uint8), np.zeros((0, n_features, seeds))
    n_channels = 1 if len(image_shape) == 2 else image_shape[2]
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn((n_features * seeds, n_channels, *image_shape[:2]), generator=generator) * 0.5
    wrapper = _UpTo(model, layer)
    stacked = {f"model.{k}": torch.stack([s[k] for s in states]).to(device) for k in states[0]}
    per_epoch = vmap(lambda state, x: functional_call(wrapper, state, (x,)), in_dims=(0, 0))
    v, n = len(states), len(start)

    def layer_maps(x):
        return per_epoch(stacked, x.unflatten(0, (v, n))).flatten(0, 1)

    target = torch.arange(n_features).repeat_interleave(seeds).repeat(v)
    background = torch.from_numpy(background_of(images)).float().to(device)
    # diversity pushes apart the seeds of each feature at each epoch: rows are [epoch, feature, seed]
    ascent = dataclasses.replace(params, seeds=seeds)
    images = ascended_images(layer_maps, start.repeat(v, 1, 1, 1).to(device), target.to(device), ascent, activation,
                             transforms_of(params, generator), background, diverse=len(target))
    images = images.reshape(v, n_features, seeds, *image_shape)
    values = np.empty((v, n_features, seeds))
    for i, state in enumerate(states):
        model.load_state_dict(state)
        flat = images[i].reshape(n_features * seeds, *image_shape)
        values[i] = objective_values(model, layer, flat, params.objective, activation, device)[
            np.arange(len(flat)), np.arange(n_features).repeat(seeds)].reshape(n_features, seeds)
    return images, values

