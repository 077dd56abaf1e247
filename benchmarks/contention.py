"""Speed on a busy machine: the train stage (2 epochs) and the extract stage (70,000 images) on the
60k + 10k dataset, each as a whole `python stages/<stage>.py` process, side by side in one run:

- quiet;
- with one busy background process (a pure-Python spin loop, started and stopped here);
- two runs of the same stage at once (two experiments of a `dvc queue start -j 2`).

    .venv/bin/python benchmarks/contention.py                         # this checkout's code
    .venv/bin/python benchmarks/contention.py --checkout OTHER        # also another checkout's, side by side

Each cell is the median of --repeats runs, taken in turn (every condition and checkout once, then again); the stage's own timing (from its log) and the whole process.
"""
from __future__ import annotations

import os

# As the user's shell has it: importing featuremaps (below) sets the policy in this process's environment.
USER_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from common import ROOT, folder_60k  # noqa: E402

SPIN = "while True: pass"


def stage_seconds(stage: str, log: str) -> float | None:
    """The stage's own time from its log: train's training seconds, extract's extraction seconds."""
    pattern = {"train": r"; ([\d.]+) s, [\d.]+ images/s", "extract": r"in ([\d.]+) s"}[stage]
    found = re.findall(pattern, log)
    return float(found[-1]) if found else None


def run(folders: list, stage: str, checkout: Path, env: dict) -> list:
    """Run `checkout`'s `stage` in every folder at once; [(own seconds, whole seconds)] per folder."""
    env = {**env, "PYTHONPATH": str(checkout / "src")}
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(checkout / "stages" / f"{stage}.py")], cwd=f, env=env,
                              stderr=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, text=True) for f in folders]
    out = []
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"{stage} failed:\n{err[-2000:]}")
        out.append((stage_seconds(stage, err), time.perf_counter() - start))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout", action="append", default=[], help="another checkout of the project to compare")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sources = [("this checkout", ROOT)] + [(str(c), Path(c)) for c in args.checkout]
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "a"
        env = folder_60k(first, train={"epochs": 2})
        env.pop("OMP_WAIT_POLICY", None)
        if USER_WAIT_POLICY is not None:
            env["OMP_WAIT_POLICY"] = USER_WAIT_POLICY
        for stage in ("download", "train"):
            subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=first, env=env, check=True,
                           capture_output=True)
        second = Path(tmp) / "b"
        shutil.copytree(first, second, ignore=shutil.ignore_patterns("idx"))
        conditions = ("quiet", "one busy process", "two at once")
        own = {(st, n, c): [] for st in ("train", "extract") for n, _ in sources for c in conditions}
        whole = {key: [] for key in own}
        for stage in ("train", "extract"):
            for _ in range(args.repeats):  # interleaved, so a slow spell of the machine hits every cell alike
                for condition in conditions:
                    for name, src in sources:
                        spin = subprocess.Popen([sys.executable, "-c", SPIN]) if condition == "one busy process" \
                            else None
                        try:
                            time.sleep(0.5 if spin else 0)  # the spinner has started
                            results = run([first, second] if condition == "two at once" else [first], stage, src, env)
                        finally:
                            if spin:
                                spin.kill()
                                spin.wait()
                        own[stage, name, condition] += [r[0] for r in results]
                        whole[stage, name, condition] += [r[1] for r in results]
                        print(f"{stage:8s} {name:24s} {condition:18s} own "
                              f"{', '.join(f'{r[0]:.2f}' for r in results)} s", flush=True)
        rows = [(*key, statistics.median(own[key]), statistics.median(whole[key])) for key in own]
        print()
        for stage, name, condition, seconds, process in rows:
            quiet = next(r[3] for r in rows if r[:2] == (stage, name) and r[2] == "quiet")
            print(f"{stage:8s} {name:24s} {condition:18s} {seconds:6.2f} s ({seconds / quiet:4.2f}x quiet), "
                  f"whole process {process:6.2f} s")


if __name__ == "__main__":
    main()
