"""What reading the dataset from disk costs a run that fits in memory: each stage's own time to run
(its log line) at two revisions, taken in turn, median of several rounds, and whether their
outputs are the same bytes.

    .venv/bin/python benchmarks/streaming_overhead.py --before ca766df              # the default run
    .venv/bin/python benchmarks/streaming_overhead.py --before ca766df --fashion    # Fashion-MNIST 60k
    .venv/bin/python benchmarks/streaming_overhead.py --before ca766df --busy       # beside a busy process

Each revision is a clone of this repository run with its own code (PYTHONPATH=<clone>/src) and this
checkout's .venv; its stages run as `python stages/<stage>.py`, without DVC, so the times are the
stages' work alone. --fashion reads /usr/share/datasets/fashion-mnist (apt-get install
dataset-fashion-mnist) through data.source: idx; --stages picks the stages timed; --busy keeps one
pure-Python spin loop running beside the stages the whole time (a user's busy machine).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

ALL = ["train", "extract", "visualize", "attribute", "timelapse", "render"]
FASHION = "/usr/share/datasets/fashion-mnist"


def clone(rev: str, folder: Path, fashion: bool) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=folder, check=True)
    if fashion:
        params = yaml.safe_load((folder / "params.yaml").read_text())
        params["data"].update(source="idx", idx_dir=FASHION)
        (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("check", "download"):
        stage_seconds(folder, stage)
    return folder


def stage_seconds(folder: Path, stage: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(folder / "src"), "FEATUREMAPS_THREADS": "2"}
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), f"stages/{stage}.py"], cwd=folder, env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{folder.name} {stage}: {proc.stderr[-2000:]}")
    return float(re.findall(r"([\d.]+) s to run", proc.stderr)[-1])


def output_hashes(folder: Path) -> dict:
    skip = {"reports/metrics.json", "reports/index.html"}  # they record the run's times
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for top in ("data/activations", "data/visualizations", "data/attributions", "data/timelapse", "reports")
            for p in sorted((folder / top).rglob("*")) if p.is_file() and str(p.relative_to(folder)) not in skip}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fashion", action="store_true")
    parser.add_argument("--stages", default=",".join(ALL))
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args()
    stages = args.stages.split(",")
    work = Path(tempfile.mkdtemp(prefix="featuremaps-overhead-"))
    folders = {rev: clone(rev, work / name, args.fashion) for name, rev in (("before", args.before), ("after", args.after))}
    times = {rev: {stage: [] for stage in stages} for rev in folders}
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        for _ in range(args.rounds):
            for rev, folder in folders.items():  # in turn, so a busy spell falls on both
                for stage in stages:
                    times[rev][stage].append(stage_seconds(folder, stage))
    finally:
        if spin:
            spin.kill()
    print(f"{'Fashion-MNIST 60k' if args.fashion else 'the default run'}{', one busy process beside' if args.busy else ''}: "
          f"median of {args.rounds}, {args.before} -> {args.after}")
    print("| stage | before | after | after / before |")
    print("|---|---|---|---|")
    for stage in stages:
        a, b = median(times[args.before][stage]), median(times[args.after][stage])
        print(f"| {stage} | {a:.2f} s | {b:.2f} s | {b / a:.3f} |")
    total_a = sum(median(times[args.before][s]) for s in stages)
    total_b = sum(median(times[args.after][s]) for s in stages)
    print(f"| all | {total_a:.2f} s | {total_b:.2f} s | {total_b / total_a:.3f} |")
    if set(stages) >= {"train", "extract"}:
        before, after = (output_hashes(f) for f in folders.values())
        same = [k for k in before if after.get(k) == before[k]]
        print(f"outputs: {len(same)} of {len(before)} files the same bytes"
              + ("" if len(same) == len(before) else f"; differ: {sorted(set(before) - set(same))}"))


if __name__ == "__main__":
    main()
