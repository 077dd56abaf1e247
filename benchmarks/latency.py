"""The wait after changing a setting: `dvc exp run -S train.lr=...` and `dvc exp run -S
render.cmap=...` on the default pipeline, each from the command to a refreshed report.

    .venv/bin/python benchmarks/latency.py                       # this checkout, 3 of each
    .venv/bin/python benchmarks/latency.py --checkout /tmp/old   # and another checkout, interleaved

Each checkout is cloned into a temporary folder with this checkout's DVC cache (so its committed
outputs are there and `dvc status` is clean), then the two commands run in turn, each with a value
not used before (the run cache never answers). Prints every run's time split by DVC's own lines:
before the first stage starts, each stage (its process and DVC's hashing after it, with the
process's own start and run seconds from its log), and after the last; then the medians.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT

TIMES = re.compile(r"; ([\d.]+) s to start, ([\d.]+) s to run")
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1",  # the stages' `python` is the project's
       "PATH": f"{ROOT / '.venv/bin'}{os.pathsep}{os.environ['PATH']}"}


def dvc(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv/bin/dvc"), *args], cwd=folder, env=ENV, check=True,
                          capture_output=True, text=True)


def project_copy(checkout: Path, into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(checkout), str(into)], check=True)
    shutil.copytree(ROOT / ".dvc/cache", into / ".dvc/cache")
    if (checkout / ".dvc/plots").exists():
        shutil.copytree(checkout / ".dvc/plots", into / ".dvc/plots")
    dvc(into, "checkout", "-q")
    status = dvc(into, "status").stdout
    if "changed" in status or "modified" in status:
        raise SystemExit(f"{checkout}: dvc status is not clean after checkout:\n{status}")
    return into


def timed_run(folder: Path, setting: str) -> tuple[float, dict, dict]:
    """(seconds, {part: seconds}, {stage: (start, run)}) of `dvc exp run -S setting`, parts split at
    DVC's 'Running stage' lines, each stage's start and run seconds from its own log."""
    process = {}
    start = time.perf_counter()
    proc = subprocess.Popen([str(ROOT / ".venv/bin/dvc"), "exp", "run", "-S", setting], cwd=folder, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    parts, part, mark = {}, "dvc start", start
    for line in proc.stdout:
        found = TIMES.search(line)
        if found:  # the stage's own account: Python and imports, then its work; the rest is DVC's
            process[part] = tuple(map(float, found.groups()))
        if line.startswith("Running stage '"):
            now = time.perf_counter()
            parts[part] = now - mark
            part, mark = line.split("'")[1], now
        elif line.startswith("Ran experiment") or line.startswith("Reproduced experiment"):
            now = time.perf_counter()
            parts[part] = now - mark
            part, mark = "dvc end", now
    if proc.wait():
        raise SystemExit(f"dvc exp run -S {setting} failed in {folder}")
    end = time.perf_counter()
    parts[part] = end - mark
    return end - start, parts, process


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout", action="append", default=[], help="another checkout to measure beside this one")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    checkouts = [ROOT, *map(Path, args.checkout)]
    with tempfile.TemporaryDirectory() as tmp:
        copies = [project_copy(c, Path(tmp) / f"p{i}") for i, c in enumerate(checkouts)]
        results = {(c, kind): [] for c in checkouts for kind in ("train", "render")}
        for rep in range(args.repeats):
            for checkout, folder in zip(checkouts, copies):
                for kind, setting in (("train", f"train.lr={0.0011 + rep / 10000:.4f}"),
                                      ("render", f"render.cmap={('magma', 'plasma', 'inferno', 'cividis')[rep % 4]}")):
                    seconds, parts, process = timed_run(folder, setting)
                    results[checkout, kind].append(seconds)
                    split = ", ".join(f"{k} {v:.1f}" + (f" [start {process[k][0]:.1f}, run {process[k][1]:.1f}]"
                                                          if k in process else "") for k, v in parts.items())
                    starts = sum(p[0] for p in process.values())
                    print(f"{checkout}: -S {setting}: {seconds:.1f} s ({split}); Python and imports "
                          f"{starts:.1f} s in all, the stages' work {sum(p[1] for p in process.values()):.1f} s",
                          flush=True)
        for (checkout, kind), times in results.items():
            print(f"{checkout}: {kind} param to report: median {statistics.median(times):.1f} s "
                  f"({', '.join(f'{t:.1f}' for t in times)})")


if __name__ == "__main__":
    main()
