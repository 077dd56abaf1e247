"""Two architectures under the real dvc, compared: the builtin network and a torchvision ResNet-18 as
two experiments of one project, then `featuremaps compare` between them (the CKA matrix of every
layer of one against every layer of the other, and each layer's most similar), and how often feature
visualisation reached the best dataset image on the ResNet's channels.

    .venv/bin/python benchmarks/cross_architecture.py [--keep FOLDER]

On generated 28x28 grey images (2,000 train, 300 val), 3 epochs, no snapshots; the ResNet's stem
and its first three stages' outputs (conv1, layer1..layer3: 512 channels) are extracted; visualize at its default 256 steps, one
seed. Prints each experiment's time and val accuracy, compare's terminal output and the share of the
ResNet's channels whose optimised input scores at least its best image.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_idx_folder  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from conftest import new_project  # noqa: E402

from featuremaps.analysis.feature_vis_store import layer_visualization, read_visualizations  # noqa: E402

RESNET_LAYERS = ["conv1", "layer1", "layer2", "layer3"]  # layer4 too would take visualize past the 30 min a stage the check allows here


def reached(folder: Path, layers: list) -> dict:
    """{layer: (channels whose best seed's objective >= its best dataset image's, channels with a best image > 0)}."""
    stored = read_visualizations(folder / "data/visualizations", layers)
    out = {}
    for layer in layers:
        record = layer_visualization(stored, layer)
        live = record.dataset_value > 0
        best = record.values.max(1)
        out[layer] = (int((best[live] >= record.dataset_value[live]).sum()), int(live.sum()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, help="build the project in this (new) folder and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        proj = new_project(base, write_idx_folder(base / "idx", 2000, 300),
                           train={"epochs": 3, "snapshot_every": 0}, visualize={"steps": 256, "seeds": 1})
        for name, settings in (("builtin", []), ("resnet18", ["-S", "model.source=torchvision", "-S", "model.name=resnet18",
                                                              "-S", f"extract.layers=[{','.join(RESNET_LAYERS)}]"])):
            start = time.perf_counter()
            proj.dvc("exp", "run", "-n", name, *settings, timeout=7200)
            accuracy = json.loads((proj.path / "reports/metrics.json").read_text())["val_accuracy"]  # the run's, in the workspace
            print(f"{name}: dvc exp run {time.perf_counter() - start:.0f} s, val accuracy {accuracy:.3f}", flush=True)
        counts = reached(proj.path, RESNET_LAYERS)
        hit, total = sum(h for h, _ in counts.values()), sum(n for _, n in counts.values())
        print("resnet18 feature visualisation at or above the best val image: " + ", ".join(
            f"{layer} {h}/{n}" for layer, (h, n) in counts.items()) + f"; all {hit}/{total} ({hit / max(total, 1):.1%})")
        out = base / "compare"
        proc = proj.run("featuremaps", "compare", "builtin", "resnet18", "--out", str(out), timeout=1800)
        print(proc.stdout.strip())
        print(f"figure: {out / 'similarity.png'}" if (out / "similarity.png").exists() else f"outputs: {sorted(p.name for p in out.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
