"""The cost check's estimates (featuremaps.cost) against what the stages really use: each torch
stage run whole on generated data at several model sizes, its peak resident memory (the stage's
own log line) and its time beside the estimate. Every measured peak must stay under its estimate.

    .venv/bin/python benchmarks/cost_calibration.py            # a few sizes, minutes
    .venv/bin/python benchmarks/cost_calibration.py --quick    # two sizes
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from common import ROOT, time_stage
from featuremaps.cost import GiB, stage_costs
from featuremaps.data.shape import data_shape
from featuremaps.params import load_params
from synthetic import write_idx_folder

STAGES = ("train", "extract", "visualize", "attribute")
CASES = [  # (name, n_train, n_test, params)
    ("default", 2000, 500, {}),
    ("wide conv", 2000, 500, {"model": {"conv1_channels": 64, "conv2_channels": 128}}),
    ("wide fc", 2000, 500, {"model": {"fc1_units": 4096, "fc2_units": 4096}}),
    ("big batches", 2000, 500, {"model": {"conv1_channels": 32, "conv2_channels": 64},
                                "train": {"batch_size": 2048, "eval_batch_size": 4096},
                                "extract": {"batch_size": 4096}, "attribute": {"batch_size": 2048}}),
    ("20k images", 20000, 5000, {"model": {"conv1_channels": 32, "conv2_channels": 64}}),
]
SMALL = {"train": {"epochs": 1}, "visualize": {"steps": 16}, "attribute": {"ig_steps": 8}}


def run_case(folder: Path, n_train: int, n_test: int, sections: dict) -> list:
    """[(stage, estimated bytes, measured bytes, estimated s, measured s)]."""
    import shutil
    shutil.copytree(ROOT / "stages", folder / "stages")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(source="idx", idx_dir=str(write_idx_folder(folder / "idx", n_train, n_test)))
    for section, values in [*SMALL.items(), *sections.items()]:
        params[section].update(values)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "stages/download.py"], cwd=folder, env=env, check=True, capture_output=True)
    from featuremaps.data.store import read_meta
    costs = {c.stage: c for c in stage_costs(load_params(folder / "params.yaml"), data_shape(read_meta(folder / "data/dataset")))}
    rows = []
    for stage in STAGES:
        times, log = time_stage(folder, env, stage, 1)
        seconds = times[0]
        peak = float(re.findall(r"peak memory (\d+) MiB", log)[-1]) * (1 << 20)
        rows.append((stage, costs[stage].bytes, peak, costs[stage].seconds, seconds))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    worst = 0.0
    for name, n_train, n_test, sections in CASES[:2] if args.quick else CASES:
        with tempfile.TemporaryDirectory() as tmp:
            for stage, est, peak, est_s, s in run_case(Path(tmp), n_train, n_test, sections):
                worst = max(worst, peak / est)
                print(f"{name:12s} {stage:9s} memory: estimate {est / GiB:6.2f} GiB, peak {peak / GiB:6.2f} GiB "
                      f"({peak / est:4.0%}); time: estimate {est_s:7.1f} s, whole process {s:6.1f} s")
    print(f"largest peak / estimate: {worst:.0%} (must stay under 100%)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    main()
