"""Datasets larger than memory through the whole pipeline under the real dvc: every stage's peak
memory (its own `peak memory` line) and time, and the images/s of train and extract.

    .venv/bin/python benchmarks/large_datasets.py grey 100000 1000000     # IDX files, 28x28, one epoch
    .venv/bin/python benchmarks/large_datasets.py colour 200000 --limit-gib 2   # a folder of 64x64 PNGs

`grey` writes generated MNIST-like IDX files (written a chunk at a time: the benchmark itself never
holds them); `colour` writes a folder of PNG files, class folders of coloured bars on a noisy ground.
Each size runs `dvc repro` in a fresh copy of the project with train.epochs 1. With --limit-gib, the
`dvc repro` and every stage it starts run in a cgroup (v1 memory controller) limited to that much
memory: a stage over it is killed, and the run fails. WORK (default: a temporary folder) holds the data.
"""
from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from conftest import copied_project  # noqa: E402
from synthetic import synthetic_images  # noqa: E402
from torchvision_models import stage_lines  # noqa: E402

CHUNK = 50_000


def write_grey_idx(folder: Path, n: int) -> None:
    """train-{images,labels} IDX files of n generated 28x28 images, a chunk at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train-images-idx3-ubyte", "wb") as images, open(folder / "train-labels-idx1-ubyte", "wb") as labels:
        images.write(struct.pack(">2sBB3I", b"\x00\x00", 8, 3, n, 28, 28))
        labels.write(struct.pack(">2sBBI", b"\x00\x00", 8, 1, n))
        for k, start in enumerate(range(0, n, CHUNK)):
            x, y = synthetic_images(min(CHUNK, n - start), seed=k)
            images.write(x.tobytes())
            labels.write(y.tobytes())


def _colour_files(args) -> None:
    folder, start, stop, size = args
    rng = np.random.default_rng(start)
    for i in range(start, stop):
        c = i % 10
        image = rng.integers(0, 60, (size, size, 3))
        colour = np.array([255 * (c & 1), 255 * ((c >> 1) & 1), 128 + 127 * ((c >> 2) & 1)])
        y = size // 8 + (size // 16) * c + rng.integers(-2, 3)
        image[y:y + size // 6, size // 8 + rng.integers(0, 8):3 * size // 4 + rng.integers(0, 4)] = colour
        Image.fromarray(image.astype(np.uint8)).save(folder / f"class{c}" / f"{i:07d}.png")


def write_colour_folder(folder: Path, n: int, size: int = 64) -> None:
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_colour_files, [(folder, s, min(s + 10_000, n), size) for s in range(0, n, 10_000)]))


def memory_cgroup(limit_gib: float) -> Path:
    """A cgroup (v1 memory controller) under this process's own, limited to limit_gib."""
    own = next(line.split(":")[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
               if line.split(":")[1] == "memory")
    group = Path("/sys/fs/cgroup/memory") / own.lstrip("/") / f"featuremaps-{os.getpid()}"
    group.mkdir()
    (group / "memory.limit_in_bytes").write_text(str(int(limit_gib * (1 << 30))))
    if (group / "memory.memsw.limit_in_bytes").exists():  # no swapping past the limit either
        (group / "memory.memsw.limit_in_bytes").write_text(str(int(limit_gib * (1 << 30))))
    return group


def run(kind: str, n: int, work: Path, limit_gib: float | None) -> dict:
    data = work / f"{kind}-{n}"
    if not data.exists():
        start = time.perf_counter()
        write_grey_idx(data, n) if kind == "grey" else write_colour_folder(data, n)
        print(f"{kind} {n:,}: data written in {time.perf_counter() - start:.0f} s", flush=True)
    proj = copied_project(work / f"project-{kind}-{n}")
    source = {"source": "idx", "idx_dir": str(data)} if kind == "grey" else {"source": "folder", "folder": str(data)}
    proj.set_params(data=source, train={"epochs": 1})
    proj.commit("project")
    command = ["dvc", "repro"]
    if limit_gib:
        group = memory_cgroup(limit_gib)
        command = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec dvc repro']
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=proj.path, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"})
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "returncode": proc.returncode, "stages": stage_lines(proc.stdout, proc.stderr)}
    if limit_gib:
        out["cgroup_peak_mib"] = int((group / "memory.max_usage_in_bytes").read_text()) >> 20
        out["cgroup_oom_kills"] = (group / "memory.failcnt").read_text().strip()
        group.rmdir()
    train = re.findall(r"([\d.]+) images/s on", proc.stderr)
    extract = re.findall(r"in [\d.]+ s \(([\d.]+) images/s\)", proc.stderr)
    out["train_images_per_s"] = float(train[-1]) if train else None
    out["extract_images_per_s"] = float(extract[-1]) if extract else None
    if proc.returncode:
        out["error"] = proc.stderr[-3000:]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["grey", "colour"])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--limit-gib", type=float)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="featuremaps-large-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {n: run(args.kind, n, work, args.limit_gib) for n in args.sizes}
    stages = list(dict.fromkeys(s for r in results.values() for s in r["stages"]))
    print("| stage | " + " | ".join(f"{n:,} images" for n in results) + " |")
    print("|---|" + "---|" * len(results))
    for stage in stages:
        cells = [f"{r['stages'][stage][1]} MiB, {r['stages'][stage][0]:.1f} s" if stage in r["stages"] else "-"
                 for r in results.values()]
        print(f"| {stage} | " + " | ".join(cells) + " |")
    for n, r in results.items():
        print(f"{n:,}: dvc repro {r['seconds']:.0f} s, exit {r['returncode']}; train {r['train_images_per_s']} images/s, "
              f"extract {r['extract_images_per_s']} images/s"
              + (f"; cgroup peak {r['cgroup_peak_mib']} MiB (page cache included), limit hit {r['cgroup_oom_kills']} "
                 f"times" if "cgroup_peak_mib" in r else ""))
        if "error" in r:
            print(r["error"])


if __name__ == "__main__":
    main()
