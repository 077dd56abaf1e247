"""Many runs read as one study: the params that differ among them, each run's metrics and
interpretability metrics, each layer's linear CKA to a reference run, and the seed-to-seed floor
(the CKA between runs whose settings differ only in `seed`), which says how much of a difference
to the reference is more than a change of seed."""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from featuremaps.compare.comparison import flat_params, json_number
from featuremaps.analysis.cka import cka_of
from featuremaps.compare.representations import paired_moments
from featuremaps.sweep.runs import Run

SEED = "seed"
CKA = "cka"  # a metric name per layer, <layer>.cka: the layer's CKA to the reference run


def changed_keys(runs: list) -> list:
    """The params.yaml keys (dotted) whose value is not the same in every run, sorted."""
    keys = sorted(set().union(*(run.flat for run in runs)))
    return [k for k in keys if any(run.flat.get(k) != runs[0].flat.get(k) for run in runs[1:])]


def setting(run: Run, keys: list, but: str) -> str:
    """The run's values of `keys` but `but`, as one comparable string."""
    return json.dumps([[k, run.flat.get(k)] for k in keys if k != but])


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numbers(values: dict) -> dict:
    """{dotted key: number} of a metrics file's numbers (nested per layer), booleans and strings left out."""
    return {k: v for k, v in flat_params(values).items() if is_number(v)}


def number_text(value) -> str:
    """A metric as the table shows it: '-' when missing, 4 decimals (1 from 100 on), whole numbers as they are."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4f}"
    return str(value)


@dataclass
class SeedGroup:
    setting: dict               # the changed params but seed, as in every run of the group
    runs: list                  # names, two or more, of different seeds
    cka: dict                   # layer -> [CKA of each pair of runs]


@dataclass
class Study:
    runs: list                  # Run, the reference first
    ref: Run
    changed: list               # dotted params keys that differ among the runs
    layers: list                # the reference's layers
    cka: dict                   # run name -> layer -> CKA to the reference (NaN where the run lacks the layer)
    groups: list                # SeedGroup

    numbers: dict               # run name -> every number of the run: metrics.json's, interpretability's as
                                # <layer>.<metric>, and <layer>.cka

    def metric_names(self) -> list:
        """Every metric some run has, metrics.json's first."""
        return list(dict.fromkeys(name for run in self.runs for name in self.numbers[run.name]))

    def floor(self, layer: str) -> tuple:
        """(lowest, mean) CKA between seeds over every group, NaN when no group has two seeds."""
        values = [v for g in self.groups for v in g.cka[layer]]
        return (min(values), float(np.mean(values))) if values else (float("nan"), float("nan"))


def seed_groups(runs: list, changed: list, layers: list) -> list:
    """The runs grouped by their settings but seed; for each group of two seeds or more, each layer's
    CKA between every pair of its runs of different seeds."""
    if SEED not in changed:
        return []
    by_setting = {}
    for run in runs:
        by_setting.setdefault(setting(run, changed, SEED), []).append(run)
    groups = []
    for key, members in by_setting.items():
        pairs = [(a, b) for a, b in combinations(members, 2) if a.params.get(SEED) != b.params.get(SEED)]
        if not pairs:
            continue
        by_pair = [layer_cka(a, b, layers) for a, b in pairs]
        cka = {layer: [found[layer] for found in by_pair if layer in found] for layer in layers}
        groups.append(SeedGroup(dict(json.loads(key)), [r.name for r in members], cka))
    return groups


def layer_cka(a: Run, b: Run, layers: list) -> dict:
    """{layer: linear CKA of a's and b's representation} for each of `layers` both runs have, from one
    streamed pass over their per_image files (two: the means, then the products)."""
    shared = [layer for layer in layers if layer in a.layers and layer in b.layers]
    if not shared:
        return {}
    moments = paired_moments(a.representation, b.representation, [(layer, layer) for layer in shared])
    return {layer: cka_of(moments[layer, layer]) for layer in shared}


def sort_key(run: Run, changed: list):
    """Runs ordered by their changed params (numbers as numbers), then name."""
    return tuple((0, v, "") if is_number(v) else (1, 0, json.dumps(v))
                 for v in (run.flat.get(k) for k in changed)) + ((2, 0, run.name),)


def default_metrics(s: Study) -> list:
    """val accuracy, then per layer its CKA to the reference and its mean class selectivity."""
    return ["val_accuracy"] + [f"{layer}.{m}" for m in (CKA, "mean_selectivity") for layer in s.layers]


def study_of(runs: list, ref: Run) -> Study:
    changed = changed_keys(runs)
    others = sorted((r for r in runs if r is not ref), key=lambda r: sort_key(r, changed))
    runs = [ref] + others
    cka = {run.name: {layer: found.get(layer, float("nan")) for layer in ref.layers}
           for run, found in ((run, layer_cka(ref, run, ref.layers)) for run in runs)}
    values = {run.name: {**numbers(run.metrics), **numbers(run.interpretability),
                         **{f"{layer}.{CKA}": v for layer, v in cka[run.name].items()}} for run in runs}
    return Study(runs, ref, changed, ref.layers, cka, seed_groups(runs, changed, ref.layers), values)


def study_json(s: Study) -> dict:
    def number(v):
        return json_number(v) if isinstance(v, float) else v

    return {
        "reference": s.ref.name, "dataset": s.ref.meta.get("dataset"), "images": s.ref.representation.n_images,
        "representation": "per image and channel, its strongest unit (the map's maximum)",
        "changed_params": s.changed, "layers": s.layers,
        "runs": [{"name": r.name, "commit": r.commit,
                  "params": {k: r.flat.get(k) for k in s.changed},
                  "metrics": r.metrics, "interpretability": r.interpretability,
                  "cka_to_reference": {layer: number(v) for layer, v in s.cka[r.name].items()}} for r in s.runs],
        "seed_floor": [{"setting": g.setting, "runs": g.runs,
                        "cka": {layer: [number(v) for v in values] for layer, values in g.cka.items()}}
                       for g in s.groups],
    }


def summary_lines(s: Study, metrics: list) -> list:
    """The terminal's table: a row per run (the changed params, `metrics`, CKA per layer), then the floor."""
    width = max(len(r.name) for r in s.runs) + 2
    changed = s.changed
    head = f"{'run':<{width}}" + "".join(f"{k:>{max(len(k), 8) + 2}}" for k in changed) \
        + "".join(f"{m:>{max(len(m), 8) + 2}}" for m in metrics)
    lines = [head]
    for run in s.runs:
        values = s.numbers[run.name]
        cells = [f"{json.dumps(run.flat.get(k)):>{max(len(k), 8) + 2}}" for k in changed]
        cells += [f"{number_text(values.get(m)):>{max(len(m), 8) + 2}}" for m in metrics]
        lines.append(f"{run.name + (' *' if run is s.ref else ''):<{width}}" + "".join(cells))
    lines.append(f"* the reference: {', '.join(f'{layer}.{CKA}' for layer in s.layers)} is each run's linear CKA to it")
    for layer in s.layers:
        low, mean = s.floor(layer)
        lines.append(f"{layer}: seed-to-seed CKA (same settings, other seed) " +
                     (f"mean {mean:.3f}, lowest {low:.3f}" if np.isfinite(mean) else "- (no two seeds of one setting)"))
    return lines

