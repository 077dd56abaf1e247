"""Render speed: the whole render stage on the outputs of a 60k-image run.

    python benchmarks/render_speed.py [--repeats 3]

Builds the outputs in a temporary folder by running the real download, train (1 epoch),
extract, visualize and attribute stage scripts on Fashion-MNIST (idx source) or, where it is not installed,
a generated 60k+10k IDX dataset; then times `python stages/render.py` end to end
(interpreter start, imports, reading, every figure, the explorer), median of repeats.
Target on 60k: <= 8 s (on the default 10k offline copy, <= 5 s).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import benchmark_stage  # noqa: E402

if __name__ == "__main__":
    benchmark_stage("render", ["download", "train", "extract", "visualize", "attribute"], 8,
                    report=lambda folder: print(f"figures: {len(list((folder / 'reports/figures').glob('*.png')))} PNGs"))
