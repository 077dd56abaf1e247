"""`featuremaps compare`'s and `sweep`'s memory and time on large per-image tables: streamed a chunk of
images at a time (compare_sides, layer_cka) against the table read whole as arrays (what they did
before), each in a fresh process, peak RSS from the kernel.

    .venv/bin/python benchmarks/compare_memory.py /tmp/large/cmp-grey-100000/repo /tmp/large/cmp-grey-1000000/repo

Each folder is a finished pipeline (benchmarks/large_datasets.py leaves them); its run is compared
with itself, both sides reading the same data/activations/per_image.parquet.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

PER_IMAGE = "data/activations/per_image.parquet"


def streamed(folder: Path) -> dict:
    import numpy as np
    from featuremaps.analysis.store import per_image_table
    from featuremaps.compare.comparison import compare_sides
    from featuremaps.compare.representations import image_keys
    from featuremaps.compare.sides import Side
    from featuremaps.sweep.runs import read_representation, Run
    from featuremaps.sweep.study import layer_cka

    table = per_image_table(folder / PER_IMAGE)
    layers = sorted({c.split("_f")[0] for c in table.columns if c.endswith("_max")})
    side = Side(name="a", commit="0" * 40, fs=None, folder=folder, meta={}, per_image=table.path,
                columns=table.columns, image_keys=image_keys(table.path),
                class_means={"layers": np.array(layers), "activation": np.array("relu")}, top_k=None,
                visualizations=None, model={}, metrics={}, params={})
    start = time.perf_counter()
    c = compare_sides(side, side, layers, 0.5, "max")
    compare_s = time.perf_counter() - start
    run = Run("a", "0" * 40, {}, {}, {}, {}, read_representation(table.path))
    start = time.perf_counter()
    sweep = layer_cka(run, run, layers)
    return {"images": side.n_images, "compare_s": compare_s, "sweep_pair_s": time.perf_counter() - start,
            "cka": {la: c.cka[la][la] for la in layers}, "sweep_cka": sweep}


def whole(folder: Path) -> dict:
    import numpy as np
    import pandas as pd
    from featuremaps.analysis.cka import chance_cka, debiased_cka, linear_cka
    from featuremaps.analysis.store import layer_columns
    from featuremaps.compare.similarity import match_channels

    start = time.perf_counter()
    frames = [pd.read_parquet(folder / PER_IMAGE).sort_values(["split", "index"], kind="stable") for _ in range(2)]
    layers = sorted({c.split("_f")[0] for c in frames[0].columns if c.endswith("_max")})
    a, b = ({layer: f[layer_columns(f.columns, layer, "max")].to_numpy(np.float64) for layer in layers} for f in frames)
    cka = {la: {lb: linear_cka(a[la], b[lb]) for lb in layers} for la in layers}
    for layer in layers:
        match_channels(a[layer], b[layer], 0.5), debiased_cka(a[layer], b[layer]), chance_cka(a[layer], b[layer])
    return {"images": len(frames[0]), "compare_s": time.perf_counter() - start,
            "cka": {la: cka[la][la] for la in layers}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--one", choices=["streamed", "whole"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        out = (streamed if args.one == "streamed" else whole)(args.folders[0])
        out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
        print(json.dumps(out))
        return
    print("| images | streamed: peak, compare, sweep pair | whole table: peak, compare |")
    print("|---|---|---|")
    for folder in args.folders:
        found = {}
        for how in ("streamed", "whole"):
            proc = subprocess.run([sys.executable, __file__, str(folder), "--one", how], capture_output=True,
                                  text=True, cwd=ROOT, check=True)
            found[how] = json.loads(proc.stdout.strip().splitlines()[-1])
        s, w = found["streamed"], found["whole"]
        assert s["cka"] == w["cka"] == s["sweep_cka"], (s, w)
        print(f"| {s['images']:,} | {s['peak_mib']} MiB, {s['compare_s']:.1f} s, {s['sweep_pair_s']:.1f} s | "
              f"{w['peak_mib']} MiB, {w['compare_s']:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
