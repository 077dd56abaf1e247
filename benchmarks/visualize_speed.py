"""Visualize speed: the whole visualize stage, default params, on the outputs of a 60k-image run.

    python benchmarks/visualize_speed.py [--repeats 3]

Builds the outputs in a temporary folder by running the real download, train (1 epoch) and
extract stage scripts on Fashion-MNIST (idx source) or, where it is not installed, a generated
60k+10k IDX dataset; then times `python stages/visualize.py` end to end (interpreter start,
importing torch, loading the model and the train split, optimising every feature of conv1
and conv2 with 4 seeds, scoring the 60,000 train images), median of repeats. Target: <= 10 s.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from featuremaps.data.sources import FASHION_MNIST_IDX_DIR
    sys.path.insert(0, str(ROOT / "tests"))
    from synthetic import write_idx_folder
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(ROOT / "stages", tmp / "stages")
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        idx = Path(FASHION_MNIST_IDX_DIR)
        if not (idx / "train-images-idx3-ubyte.gz").exists():
            idx = write_idx_folder(tmp / "idx", 60000, 10000)
        params["data"].update(source="idx", idx_dir=str(idx))
        params["train"]["epochs"] = 1
        (tmp / "params.yaml").write_text(yaml.safe_dump(params))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        for stage in ("download", "train", "extract"):
            subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=tmp, env=env, check=True,
                           capture_output=True)
        print(f"outputs of a run on {idx}: 60,000 train + 10,000 val images; visualize params {params['visualize']}")
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "stages/visualize.py"], cwd=tmp, env=env, check=True,
                                  capture_output=True, text=True)
            times.append(time.perf_counter() - start)
        print("\n".join(proc.stderr.strip().splitlines()[-2:]))
        print(f"visualize stage, whole process: median {statistics.median(times):.2f} s over {args.repeats} "
              f"runs ({', '.join(f'{t:.2f}' for t in times)}); target <= 10 s")


if __name__ == "__main__":
    main()
