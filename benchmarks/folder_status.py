"""How quickly DVC notices a change in a folder dataset (data.folder, a dependency of download): `dvc status`
on a folder of N small PNGs, after a run, with nothing changed and after one image is edited, one added and
one removed; quiet and beside one busy background process. Each cell is the median of --repeats runs.

    .venv/bin/python benchmarks/folder_status.py                 # 10,000 images
    .venv/bin/python benchmarks/folder_status.py --images 20000
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from common import copy_project

SPIN = "while True: pass"


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["dvc", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)


def timed(repo: Path, repeats: int, busy: bool) -> tuple[float, str]:
    spin = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        times, out = [], ""
        for _ in range(repeats):
            start = time.perf_counter()
            out = dvc(repo, "status").stdout
            times.append(time.perf_counter() - start)
        return statistics.median(times), out
    finally:
        if spin:
            spin.kill()
            spin.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, repo = tmp / "images", tmp / "repo"
        rng = np.random.default_rng(0)
        for i in range(args.images):
            path = folder / f"c{i % 10}" / f"{i:06d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(path)
        copy_project(repo)
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["data"].update(source="folder", folder=str(folder))
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        start = time.perf_counter()
        dvc(repo, "repro", "download")
        print(f"{args.images:,} images of 16x16 in {folder}: dvc repro download {time.perf_counter() - start:.1f} s")
        rows = []
        for busy in (False, True):
            rows.append(("nothing changed", busy, *timed(repo, args.repeats, busy)))
        Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(folder / "c0/000000.png")  # edited
        Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(folder / "c1/new.png")     # added
        (folder / "c2/000002.png").unlink()                                                # removed
        for busy in (False, True):
            rows.append(("one edited, one added, one removed", busy, *timed(repo, args.repeats, busy)))
        for what, busy, seconds, out in rows:
            seen = "download: changed deps" if "download" in out and "modified" in out else "download up to date"
            print(f"dvc status, {what}, {'one busy process' if busy else 'quiet'}: {seconds:.2f} s "
                  f"(median of {args.repeats}; {seen})")


if __name__ == "__main__":
    main()
