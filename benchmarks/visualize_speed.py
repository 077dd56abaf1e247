"""Visualize speed: the whole visualize stage, default params, on the outputs of a 60k-image run.

    python benchmarks/visualize_speed.py [--repeats 3]

Builds the outputs in a temporary folder by running the real download, train (1 epoch) and
extract stage scripts on Fashion-MNIST (idx source) or, where it is not installed, a generated
60k+10k IDX dataset; then times `python stages/visualize.py` end to end (interpreter start,
importing torch, loading the model and the train split, optimising every feature of conv1
and conv2 with 4 seeds, scoring the 60,000 train images), median of repeats. Target: <= 10 s.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import benchmark_stage  # noqa: E402

if __name__ == "__main__":
    benchmark_stage("visualize", ["download", "train", "extract"], 10, tail_lines=2)
