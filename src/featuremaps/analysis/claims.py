"""Published claims about selectivity and importance, checked on this network.

    numbers = selectivity_claims(class_means, peaks, layer_rows)     # per layer, from attribute's tables
    drops = set_ablation_drops(model, layer, images, labels, base, order, k, draws, seed, batch_size, device)

Morcos et al. 2018 found a unit's class selectivity a poor predictor of how much overall accuracy
is lost when it is zeroed; Zhou et al. 2018 found it a good predictor of how much its own class
loses. Here, per layer, over the live channels:
- the Spearman correlation between each channel's selectivity index and the overall accuracy lost
  when it is zeroed alone;
- the Spearman correlation, over every (channel, class) pair, between the channel's selectivity for
  that class and that class's accuracy lost when it is zeroed;
- the accuracy lost when the k most selective channels are zeroed together, against k channels
  drawn at random (seeded, several draws).
A channel's selectivity for class c is (mu_c - mu_rest) / (mu_c + mu_rest), mu_rest the mean of its
per-class means over the other classes: its selectivity index is the largest of these.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from featuremaps.analysis.ablation import ablated, predictions, selectivity_index
from featuremaps.model.seam import map_channels


def class_selectivity(class_means: np.ndarray) -> np.ndarray:
    """[C, F] each channel's selectivity for each class from its per-class means [C, F]; 0 for a silent
    channel, NaN for a class without images."""
    present = ~np.isnan(class_means).any(1)
    means = class_means[present]
    rest = (means.sum(0) - means) / (len(means) - 1)
    total = means + rest
    out = np.full(class_means.shape, np.nan)
    out[present] = np.divide(means - rest, total, out=np.zeros_like(total), where=total > 0)
    return out


def spearman(x, y) -> tuple[float, float]:
    """scipy's Spearman correlation and its two-sided p-value; NaN when either side is constant or has
    under 3 values."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def layer_ablate_k(k: int, n_channels: int) -> int:
    """attribute.ablate_k `k` for a layer of `n_channels`: at most n_channels - 1, so that the k most selective
    channels and k random ones are different sets (0 for a single channel: nothing to compare)."""
    return max(0, min(k, n_channels - 1))


def most_selective(selectivity: np.ndarray, k: int) -> list:
    """The k channels (0-based) of highest selectivity index, the lower channel first on ties."""
    return sorted(np.argsort(-selectivity, kind="stable")[:k].tolist())


def set_ablation_drops(model, layer: str, images: np.ndarray, labels: np.ndarray, base: np.ndarray,
                       selective: list, k: int, draws: int, seed: int, batch_size: int, device) -> dict:
    """Overall accuracy lost when channel sets of `layer` are zeroed together: {"selective": drop of
    `selective`, "random": [drop of each of `draws` seeded random sets of k channels], "random_sets": the
    sets (1-based)}."""
    base_acc = float(np.mean(base == labels))
    n_channels = map_channels(model, [layer], images.shape[1:3])[layer]
    rng = np.random.default_rng(seed)
    sets = [sorted(rng.choice(n_channels, size=k, replace=False).tolist()) for _ in range(draws)]

    def drop(channels) -> float:
        with ablated(model, layer, channels):
            return base_acc - float(np.mean(predictions(model, images, batch_size, device) == labels))
    return {"selective": drop(selective), "random": [drop(s) for s in sets],
            "random_sets": [[c + 1 for c in s] for s in sets]}


def selectivity_claims(selectivity: np.ndarray, class_sel: np.ndarray, live: np.ndarray, overall_drop: np.ndarray,
                       class_drop: np.ndarray) -> dict:
    """The two rank correlations (rho, p) over the live channels: selectivity index [F] against overall
    drop [F], and class selectivity [C, F] against the class's drop [C, F] (classes without images left out)."""
    rows = ~np.isnan(class_sel).any(1) & ~np.isnan(class_drop).any(1)
    return {"selectivity_vs_drop": spearman(selectivity[live], overall_drop[live]),
            "class_selectivity_vs_class_drop": spearman(class_sel[np.ix_(rows, live)].ravel(),
                                                        class_drop[np.ix_(rows, live)].ravel())}


def ablation_selectivity(table: dict, stats: dict, classes: list) -> list:
    """The ablation table's selectivity column: each row's channel's selectivity for its class, or its
    selectivity index on the "all" rows. stats: channel_statistics' {layer: (class means, peaks)}."""
    sel = {layer: (class_selectivity(means), selectivity_index(means)) for layer, (means, _) in stats.items()}
    row_of = {name: c for c, name in enumerate(classes)}
    return [float(sel[layer][1][ch - 1] if name == "all" else sel[layer][0][row_of[name], ch - 1])
            for layer, ch, name in zip(table["layer"], table["channel"], table["class"])]


def layer_drops(table: dict, layer: str, classes: list, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(overall accuracy lost [F], each class's accuracy lost [C, F]) when each channel is zeroed alone."""
    overall, per_class = np.full(n_channels, np.nan), np.full((len(classes), n_channels), np.nan)
    row_of = {name: c for c, name in enumerate(classes)}
    for l, ch, name, acc, base in zip(table["layer"], table["channel"], table["class"], table["accuracy"],  # noqa: E741
                                      table["baseline"]):
        if l == layer:
            if name == "all":
                overall[ch - 1] = base - acc
            else:
                per_class[row_of[name], ch - 1] = base - acc
    return overall, per_class


def claims(model, layers, images: np.ndarray, labels: np.ndarray, base: np.ndarray, stats: dict, table: dict,
           classes: list, k: int, draws: int, seed: int, batch_size: int, device) -> tuple[dict, dict]:
    """({layer: the claims' numbers for interpretability.json}, the claims.parquet rows)."""
    numbers, rows = {}, {"layer": [], "set": [], "channels": [], "accuracy_drop": []}
    for layer in layers:
        means, peaks = stats[layer]
        index, live = selectivity_index(means), peaks > 0
        overall, per_class = layer_drops(table, layer, classes, len(peaks))
        rho = selectivity_claims(index, class_selectivity(means), live, overall, per_class)
        (r1, p1), (r2, p2) = rho["selectivity_vs_drop"], rho["class_selectivity_vs_class_drop"]
        numbers[layer] = {"selectivity_vs_drop_spearman": _rounded(r1), "selectivity_vs_drop_p": _rounded(p1),
                          "class_selectivity_vs_class_drop_spearman": _rounded(r2),
                          "class_selectivity_vs_class_drop_p": _rounded(p2)}
        layer_k = layer_ablate_k(k, len(peaks))
        numbers[layer]["ablate_k"] = layer_k
        if layer_k == 0:  # one channel: no set of it leaves another out to compare with
            numbers[layer].update(k_most_selective_drop=None, k_random_drop_mean=None, k_random_drop_max=None)
            continue
        selective = most_selective(index, layer_k)
        drops = set_ablation_drops(model, layer, images, labels, base, selective, layer_k, draws, seed, batch_size,
                                   device)
        numbers[layer].update(k_most_selective_drop=_rounded(drops["selective"]),
                              k_random_drop_mean=_rounded(np.mean(drops["random"])),
                              k_random_drop_max=_rounded(np.max(drops["random"])))
        for name, chans, drop in ([("selective", [c + 1 for c in selective], drops["selective"])]
                                  + [("random", s, d) for s, d in zip(drops["random_sets"], drops["random"])]):
            rows["layer"].append(layer)
            rows["set"].append(name)
            rows["channels"].append(" ".join(map(str, chans)))
            rows["accuracy_drop"].append(float(drop))
    return numbers, rows


def set_ablation_words(numbers: dict, asked: int) -> str:
    """The stage log's words on one layer's set ablation, saying when its width lowered attribute.ablate_k `asked`."""
    k = numbers["ablate_k"]
    if k == 0:
        return f"ablate_k {asked}: one channel, no set zeroed"
    lowered = f" (ablate_k {asked} lowered to the width less one)" if k < asked else ""
    return (f"{k} most selective zeroed {numbers['k_most_selective_drop']:.2%} vs random "
            f"{numbers['k_random_drop_mean']:.2%}{lowered}")


def _rounded(value: float):
    """For JSON: 6 decimals, None for NaN (a constant side: no correlation)."""
    return None if not np.isfinite(value) else round(float(value), 6)
