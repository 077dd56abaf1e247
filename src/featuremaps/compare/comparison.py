"""Two sides compared: CKA for every pair of their layers, channels matched within each compared
layer, and the numbers as compare.json and a table for the terminal."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featuremaps.compare import REPRESENTATIONS
from featuremaps.compare.sides import Side
from featuremaps.analysis.cka import chance_cka_of, cka_of, debiased_cka_of
from featuremaps.compare.representations import paired_moments
from featuremaps.compare.similarity import ChannelMatch, channel_match


@dataclass
class Comparison:
    a: Side
    b: Side
    layers: list                # compared channel by channel
    threshold: float            # a matched pair correlated less is no good match
    stat: str                   # a key of REPRESENTATIONS
    cka: dict                   # A's layer -> B's layer -> linear CKA
    matches: dict               # layer -> ChannelMatch
    debiased: dict              # layer -> debiased CKA (unbiased HSIC) of the compared layer
    shuffled: dict              # layer -> linear CKA's mean over every order of B's images: what chance gives at this n


def compare_sides(a: Side, b: Side, layers: list, threshold: float, stat: str = "max") -> Comparison:
    moments = paired_moments(a.representation(stat), b.representation(stat),
                             [(la, lb) for la in a.layers for lb in b.layers])
    cka = {la: {lb: cka_of(moments[la, lb]) for lb in b.layers} for la in a.layers}
    matches = {layer: channel_match(moments[layer, layer], threshold) for layer in layers}
    debiased = {layer: debiased_cka_of(moments[layer, layer]) for layer in layers}
    shuffled = {layer: chance_cka_of(moments[layer, layer]) for layer in layers}
    return Comparison(a, b, layers, threshold, stat, cka, matches, debiased, shuffled)


def most_similar(c: Comparison) -> dict:
    """{A's layer: (B's layer with the highest linear CKA to it, that CKA)}: where each layer of A is
    found in B, whatever the two architectures (Kornblith et al. 2019 read their CKA matrices so)."""
    out = {}
    for la, row in c.cka.items():
        found = [(v, lb) for lb, v in row.items() if np.isfinite(v)]
        out[la] = (max(found)[1], max(found)[0]) if found else (None, float("nan"))
    return out


def json_number(value: float, digits: int = 6):
    """value rounded for JSON; None for NaN (a constant side's CKA)."""
    return None if not np.isfinite(value) else round(float(value), digits)


def _side_json(side: Side) -> dict:
    return {"revision": side.name, "commit": side.commit, "family": side.family, "layers": side.layers,
            "activation": side.activation,
            "model": side.model["config"], "val_accuracy": side.metrics.get("val_accuracy"),
            "feature_visualizations": side.visualizations is not None}


def _match_json(layer: str, c: Comparison) -> dict:
    m: ChannelMatch = c.matches[layer]
    return {
        "cka": json_number(c.cka[layer][layer]),
        "cka_debiased": json_number(c.debiased[layer]),
        "cka_shuffled": json_number(c.shuffled[layer]),
        "mean_matched_correlation": json_number(m.mean_correlation),
        "pairs": [{"a": a, "b": b, "correlation": json_number(r)} for a, b, r in m.pairs],
        "no_good_match": {"a": m.no_good_match("a"), "b": m.no_good_match("b")},
        "dead": {"a": m.dead_a, "b": m.dead_b},
        "correlation": [[json_number(v, 4) for v in row] for row in m.correlation],
    }


def flat_params(d: dict, prefix: str = "") -> dict:
    """{dotted key: value} of a nested params.yaml."""
    out = {}
    for k, v in (d or {}).items():
        out.update(flat_params(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def changed_params(a: dict, b: dict) -> list:
    """[(key, A's value, B's value)] of every params.yaml key (dotted) whose value differs."""
    fa, fb = flat_params(a), flat_params(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def comparison_json(c: Comparison) -> dict:
    return {
        "a": _side_json(c.a), "b": _side_json(c.b),
        "dataset": c.a.meta["dataset"], "images": c.a.n_images,
        "representation": f"per image and channel, {REPRESENTATIONS[c.stat]}", "by": c.stat, "threshold": c.threshold,
        "changed_params": [{"key": k, "a": va, "b": vb} for k, va, vb in changed_params(c.a.params, c.b.params)],
        "cka": {la: {lb: json_number(v) for lb, v in row.items()} for la, row in c.cka.items()},
        "most_similar_in_b": {la: {"layer": lb, "cka": json_number(v)} for la, (lb, v) in most_similar(c).items()},
        "layers": {layer: _match_json(layer, c) for layer in c.layers},
    }


def summary_lines(c: Comparison) -> list:
    """The terminal's table: a line per compared layer, then each layer's weakest pairs."""
    lines = [f"{'layer':<8}{'CKA':>7}{'debiased':>9}{'chance':>8}{'matched':>9}{'mean r':>8}   no good match (r < {c.threshold:g})"]
    for layer in c.layers:
        m = c.matches[layer]
        no_good = [f"{side.upper()}: {', '.join(map(str, m.no_good_match(side)))}" for side in ("a", "b")
                   if m.no_good_match(side)]
        cka = c.cka[layer][layer]
        lines.append(f"{layer:<8}{cka:>7.3f}{c.debiased[layer]:>9.3f}{c.shuffled[layer]:>8.4f}{f'{len(m.pairs)}/{len(m.correlation)}':>9}"
                     f"{m.mean_correlation:>8.3f}   {'; '.join(no_good) or '-'}")
    for layer in c.layers:
        pairs = " ".join(f"{a}>{b}" for a, b, _ in c.matches[layer].pairs)
        lines.append(f"{layer} pairs (A>B): {pairs}")
    lines.append("most similar layer of B (linear CKA): " + "; ".join(
        f"{la} > {lb} {v:.3f}" if lb is not None else f"{la} > -" for la, (lb, v) in most_similar(c).items()))
    return lines
