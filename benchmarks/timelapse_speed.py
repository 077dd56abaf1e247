"""Timelapse speed and size: the whole timelapse stage on the default run and on Fashion-MNIST 60k
trained 15 epochs, training with and without snapshots, and the report's size at 15 and 60 epochs.

    python benchmarks/timelapse_speed.py [--repeats 3] [--skip-60]

1. The default run: `python stages/timelapse.py` in the project root (its outputs must be there,
   `make run`); the stage rewrites the same bytes.
2. Fashion-MNIST (or a generated 60k+10k IDX set) in a temporary folder: download, then train for
   15 epochs with train.snapshot_every 1 and 0 alternately (--repeats times each, the whole stage
   process), then the timelapse stage --repeats times. Target: <= 15 s a run.
3. The default params at 60 epochs in a temporary folder (the offline copy of MNIST from the
   project's data/downloads): the whole pipeline, then the size of reports/ and of the snapshots.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, folder_60k, time_stage  # noqa: E402

STAGES = ["check", "download", "train", "extract", "visualize", "attribute", "timelapse", "render"]


def summary(name: str, times: list) -> str:
    return f"{name}: median {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})"


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def set_params(folder: Path, **sections) -> None:
    params = yaml.safe_load((folder / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-60", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    times, log = time_stage(ROOT, env, "timelapse", args.repeats)
    print("default run:", log.strip().splitlines()[-2])
    print(summary("default run, timelapse stage", times), "; target <= 15 s")
    print(f"default run: snapshots {size_mb(ROOT / 'data/model/snapshots.pt'):.2f} MB, "
          f"reports/ {size_mb(ROOT / 'reports'):.2f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env60 = folder_60k(folder, train={"epochs": 15})
        subprocess.run([sys.executable, "stages/download.py"], cwd=folder, env=env60, check=True, capture_output=True)
        with_snaps, without = [], []
        for _ in range(args.repeats):
            for every, into in ((1, with_snaps), (0, without)):
                set_params(folder, train={"snapshot_every": every})
                into += time_stage(folder, env60, "train", 1)[0]
        print(summary("60k, 15 epochs, train with snapshots", with_snaps))
        print(summary("60k, 15 epochs, train without", without),
              f"; with / without: {statistics.median(with_snaps) / statistics.median(without):.3f}")
        set_params(folder, train={"snapshot_every": 1})
        time_stage(folder, env60, "train", 1)
        print(f"60k: snapshots {size_mb(folder / 'data/model/snapshots.pt'):.2f} MB")
        times, log = time_stage(folder, env60, "timelapse", args.repeats)
        print("60k:", log.strip().splitlines()[-2])
        print(summary("60k, 15 epochs, timelapse stage", times), "; target <= 15 s")

    if args.skip_60:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "stages", folder / "stages")
        shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
        if (ROOT / "data/downloads").exists():
            shutil.copytree(ROOT / "data/downloads", folder / "data/downloads")
        set_params(folder, train={"epochs": 60})
        for stage in STAGES:
            subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=folder, env=env, check=True, capture_output=True)
        print(f"default params, 60 epochs: snapshots {size_mb(folder / 'data/model/snapshots.pt'):.2f} MB, "
              f"reports/ {size_mb(folder / 'reports'):.2f} MB (explorer.js {size_mb(folder / 'reports/explorer.js'):.2f} MB)")


if __name__ == "__main__":
    main()
