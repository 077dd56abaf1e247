"""The whole pipeline's speed: every stage script, one after the other, on the 60k dataset.

    python benchmarks/pipeline_speed.py [--epochs 10] [--device auto]

Runs download, train, extract, visualize, attribute and render (the stage scripts, without
DVC) on Fashion-MNIST (idx source) or a generated 60k+10k set, with the project's params but
--epochs and every stage's device set to --device; prints each stage's whole-process time, the
stage's own timing line, and the val accuracy. On a CUDA machine the targets are: 10 epochs of
training in at most 5 s of stage time, extraction of 70k images in at most 1 s.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import folder_60k  # noqa: E402

STAGES = ("download", "train", "extract", "visualize", "attribute", "render")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        devices = {s: {"device": args.device} for s in ("extract", "visualize", "attribute")}
        env = folder_60k(folder, train={"epochs": args.epochs, "device": args.device, "precision": args.precision},
                         **devices)
        for stage in STAGES:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=folder, env=env, capture_output=True,
                                  text=True)
            seconds = time.perf_counter() - start
            if proc.returncode:
                sys.exit(f"stage {stage} failed:\n{proc.stderr[-3000:]}")
            lines = [line for line in proc.stderr.splitlines() if line.startswith("featuremaps")]
            print(f"{stage:<10} {seconds:6.2f} s whole process | {lines[-1] if lines else ''}", flush=True)
        metrics = json.loads((folder / "reports/metrics.json").read_text())
        print(f"val accuracy {metrics['val_accuracy']:.4f} at epoch {metrics['best_epoch']} of {metrics['epochs']}; "
              f"training {metrics['train_seconds']:.2f} s on {metrics['device']} "
              f"({metrics['images_per_second']:,.0f} images/s)")


if __name__ == "__main__":
    main()
