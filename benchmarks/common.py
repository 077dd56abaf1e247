"""Shared by the benchmarks: a 60k + 10k dataset (Fashion-MNIST when installed, else generated)."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the generated datasets

from featuremaps.data.sources import FASHION_MNIST_IDX_DIR, idx_splits  # noqa: E402
from synthetic import synthetic_images  # noqa: E402


def dataset_60k():
    """(train_x, train_y, val_x, val_y, description), uint8 arrays."""
    if (Path(FASHION_MNIST_IDX_DIR) / "train-images-idx3-ubyte.gz").exists():
        tr_x, tr_y, va_x, va_y = idx_splits(FASHION_MNIST_IDX_DIR)
        return tr_x, tr_y, va_x, va_y, f"Fashion-MNIST from {FASHION_MNIST_IDX_DIR}"
    tr_x, tr_y = synthetic_images(60000, seed=0)
    va_x, va_y = synthetic_images(10000, seed=1)
    return tr_x, tr_y, va_x, va_y, "generated 60k+10k 28x28 images"


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
