"""Render speed: the whole render stage on the outputs of a 60k-image run.

    python benchmarks/render_speed.py [--repeats 3]

Builds the outputs in a temporary folder by running the real download, train (1 epoch)
and extract stage scripts on Fashion-MNIST (idx source) or, where it is not installed,
a generated 60k+10k IDX dataset; then times `python stages/render.py` end to end
(interpreter start, imports, reading, 14 figures, the HTML report), median of repeats.
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
sys.path.insert(0, str(ROOT / "benchmarks"))


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
        for stage in ("download", "train", "extract", "visualize"):
            subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=tmp, env=env, check=True,
                           capture_output=True)
        print(f"outputs of a run on {idx}: 60,000 train + 10,000 val images")
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "stages/render.py"], cwd=tmp, env=env, check=True,
                                  capture_output=True, text=True)
            times.append(time.perf_counter() - start)
        print(proc.stderr.strip().splitlines()[-1])
        print(f"render stage, whole process: median {statistics.median(times):.2f} s over {args.repeats} "
              f"runs ({', '.join(f'{t:.2f}' for t in times)}); target <= 5 s")
        print(f"figures: {len(list((tmp / 'reports/figures').glob('*.png')))} PNGs")


if __name__ == "__main__":
    main()
