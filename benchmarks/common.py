"""Shared by the benchmarks: a 60k + 10k dataset (Fashion-MNIST when installed, else generated),
and a folder where the real stage scripts ran on it, for timing a later stage end to end."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the generated datasets

from featuremaps.data.idx import read_idx  # noqa: E402
from featuremaps.data.sources import FASHION_MNIST_IDX_DIR  # noqa: E402
from synthetic import synthetic_images, write_idx_folder  # noqa: E402


def dataset_60k():
    """(train_x, train_y, val_x, val_y, description), uint8 arrays."""
    if (Path(FASHION_MNIST_IDX_DIR) / "train-images-idx3-ubyte.gz").exists():
        tr_x, tr_y, va_x, va_y = (read_idx(Path(FASHION_MNIST_IDX_DIR) / f"{prefix}-{what}-idx{ndim}-ubyte.gz", ndim)
                                  for prefix in ("train", "t10k") for what, ndim in (("images", 3), ("labels", 1)))
        return tr_x, tr_y, va_x, va_y, f"Fashion-MNIST from {FASHION_MNIST_IDX_DIR}"
    tr_x, tr_y = synthetic_images(60000, seed=0)
    va_x, va_y = synthetic_images(10000, seed=1)
    return tr_x, tr_y, va_x, va_y, "generated 60k+10k 28x28 images"


PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "src", "images", "models", ".dvc/config", ".dvc/plots", ".dvcignore", ".gitignore",
                 "plots"]


def copy_project(repo: Path) -> None:
    """The project's files (pipeline, params, code, DVC config) into the new folder `repo`."""
    repo.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def folder_60k(folder: Path, **sections) -> dict:
    """`folder` holding the stage scripts and the project's params on the 60k dataset, with `sections`
    ({"train": {"epochs": 1}}) changed; returns the environment to run the stages with."""
    shutil.copytree(ROOT / "stages", folder / "stages")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    idx = Path(FASHION_MNIST_IDX_DIR)
    if not (idx / "train-images-idx3-ubyte.gz").exists():
        idx = write_idx_folder(folder / "idx", 60000, 10000)
    params["data"].update(source="idx", idx_dir=str(idx))
    for section, values in sections.items():
        params[section].update(values)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    print(f"the pipeline's stages on {idx}: 60,000 train + 10,000 val images")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def stage_outputs_60k(folder: Path, stages: list) -> dict:
    """Run `stages` (stage script names, in order) in `folder` on the 60k dataset with the project's
    params but one epoch; returns the environment to run further stages with."""
    env = folder_60k(folder, train={"epochs": 1})
    for stage in stages:
        subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=folder, env=env, check=True, capture_output=True)
    return env


def time_stage(folder: Path, env: dict, stage: str, repeats: int) -> tuple[list, str]:
    """(seconds of each whole `python stages/<stage>.py` process, the last run's log)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=folder, env=env, check=True,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    return times, proc.stderr


def benchmark_stage(stage: str, before: list, target_s: float, tail_lines: int = 1, report=None) -> None:
    """The command line of a stage benchmark: run `before` on the 60k dataset, then time the whole
    `stage` process --repeats times and print the median against `target_s`; report(folder) adds lines."""
    import argparse
    import tempfile
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = stage_outputs_60k(folder, before)
        times, log = time_stage(folder, env, stage, args.repeats)
        print("\n".join(log.strip().splitlines()[-tail_lines:]))
        print(f"{stage} stage, whole process: median {statistics.median(times):.2f} s over {args.repeats} runs "
              f"({', '.join(f'{t:.2f}' for t in times)}); target <= {target_s:g} s")
        if report:
            report(folder)
