"""The cost check's estimates for models other than the builtin network (sizes measured from the
model: featuremaps.model.sizes) against what the train and extract stages really use: each run whole
on generated 32x32 grey images, its peak resident memory (the stage's own log line) and its time
beside the estimate.

    .venv/bin/python benchmarks/own_model_cost.py
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from common import ROOT, time_stage
from featuremaps.cost import GiB, stage_costs
from featuremaps.data.shape import data_shape
from featuremaps.data.store import read_meta
from featuremaps.model.sizes import planned_sizes
from featuremaps.params import load_params
from synthetic import write_idx_folder

CASES = [("builtin", {}),
         ("resnet18", {"source": "torchvision", "name": "resnet18"}),
         ("mobilenet_v2", {"source": "torchvision", "name": "mobilenet_v2"}),
         ("vgg11_bn", {"source": "torchvision", "name": "vgg11_bn"})]
N_TRAIN, N_TEST = 2000, 500


def run_case(folder: Path, model: dict) -> list:
    shutil.copytree(ROOT / "stages", folder / "stages")
    (folder / "models").mkdir()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(source="idx", idx_dir=str(write_idx_folder(folder / "idx", N_TRAIN, N_TEST, size=32)))
    params["train"].update(epochs=1)
    params["model"].update(model)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    time_stage(folder, env, "download", 1)
    p = load_params(folder / "params.yaml")
    shape = data_shape(read_meta(folder / "data/dataset"))
    costs = {c.stage: c for c in stage_costs(p, shape, planned_sizes(p, shape))}
    rows = []
    for stage in ("train", "extract"):
        try:
            times, log = time_stage(folder, env, stage, 1)
        except subprocess.CalledProcessError as failed:
            print(f"  {stage}: {failed.stderr.strip().splitlines()[-1]}")
            break
        peak = float(re.findall(r"peak memory (\d+) MiB", log)[-1]) * (1 << 20)
        rows.append((stage, costs[stage].bytes, peak, costs[stage].seconds, times[0]))
    return rows


def main():
    print(f"{N_TRAIN} + {N_TEST} generated 32x32 grey images, 1 epoch, batch 256; memory in GiB, time in s")
    print(f"{'model':<14} {'stage':<8} {'est. GiB':>8} {'peak GiB':>8} {'est/peak':>8} {'est. s':>7} {'real s':>7}")
    for name, model in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            for stage, est, peak, est_s, real_s in run_case(Path(tmp), model):
                print(f"{name:<14} {stage:<8} {est / GiB:8.2f} {peak / GiB:8.2f} {est / peak:8.2f} {est_s:7.1f} "
                      f"{real_s:7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
