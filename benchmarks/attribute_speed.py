"""Attribute speed: the whole attribute stage, default params, on the outputs of a 60k-image run.

    python benchmarks/attribute_speed.py [--repeats 3]

Builds the outputs in a temporary folder by running the real download and train (1 epoch) stage
scripts on Fashion-MNIST (idx source) or, where it is not installed, a generated 60k+10k IDX
dataset; then times `python stages/attribute.py` end to end: Grad-CAM of conv1 and conv2 over
the 10,000 val images (per-class means), the per-image Grad-CAM and Integrated Gradients, the
ablation of every channel (22 passes over the val split) and the metrics. Target: <= 20 s.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import benchmark_stage  # noqa: E402

if __name__ == "__main__":
    benchmark_stage("attribute", ["download", "train"], 20)
