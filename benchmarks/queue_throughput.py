"""Two queued experiments run by `dvc queue start -j 1` and by `-j 2`, each timed from the start of
the queue to both experiments done, in a temporary copy of the project on a generated dataset.

    .venv/bin/python benchmarks/queue_throughput.py            # 20,000 + 4,000 images, 3 epochs
    .venv/bin/python benchmarks/queue_throughput.py --images 60000

Throughput of -j 2 relative to -j 1 is (time with -j 1) / (time with -j 2): above 1.0, two
workers finish sooner than one after the other.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))

from conftest import new_project  # noqa: E402
from synthetic import write_idx_folder  # noqa: E402


def run_queue(project, jobs: int, lrs: list) -> float:
    for lr in lrs:
        project.dvc("exp", "run", "--queue", "-S", f"train.lr={lr}")
    start = time.perf_counter()
    project.dvc("queue", "start", "-j", str(jobs))
    while True:
        status = project.dvc("queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(0.5)
    seconds = time.perf_counter() - start
    assert status.count("Success") >= len(lrs) and "Failed" not in status, status
    project.dvc("queue", "stop", check=False)
    project.dvc("queue", "remove", "--all", check=False)
    return seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        idx = write_idx_folder(tmp / "idx", args.images, args.images // 5)
        project = new_project(tmp, idx, train={"epochs": args.epochs, "batch_size": 256, "eval_batch_size": 1024},
                              extract={"batch_size": 256, "top_k": 8}, visualize={"steps": 64},
                              attribute={"ig_steps": 8}, render={"dpi": 40, "n_samples": 8})
        project.dvc("repro")
        project.commit("baseline")
        one = run_queue(project, 1, [0.0011, 0.0012])
        two = run_queue(project, 2, [0.0013, 0.0014])
        print(f"two experiments ({args.images:,} + {args.images // 5:,} images, {args.epochs} epochs, the whole "
              f"pipeline): -j 1 {one:.1f} s, -j 2 {two:.1f} s: -j 2 throughput {one / two:.2f}x that of -j 1")


if __name__ == "__main__":
    main()
