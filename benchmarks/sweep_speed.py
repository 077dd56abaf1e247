"""Sweep speed: make a grid of experiments of the default run with DVC's queue, then time
`featuremaps sweep` reading and drawing them.

    python benchmarks/sweep_speed.py --dir /tmp/sweep-bench        # make (once), then read
    python benchmarks/sweep_speed.py --dir /tmp/sweep-bench --repeats 3
    python benchmarks/sweep_speed.py --dir /tmp/sweep-bench --forty    # up to 40: render-only copies, saved

Makes DIR/repo (a git + DVC repository holding the project with its default params, its own
cache), runs the baseline with `dvc repro`, commits, queues the grid
`seed=range(0,5)` x `model.conv_channels=choice([6,16],[6,32])` x `train.lr=choice(0.001,0.003)`
(20 experiments) and runs the queue with one worker (`dvc queue start -j 1`), timing it all.
A DIR that already holds the experiments is reused. Then times `featuremaps sweep` of this
checkout (the whole command, median of repeats) and the time it reports for reading and for
relating and drawing, on a quiet machine and beside one busy process.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, copy_project  # noqa: E402

SPIN = "while True: pass"
GRID = ["seed=range(0,5)", "model.conv_channels=choice([6,16],[6,32])", "train.lr=choice(0.001,0.003)"]


def run(cmd, cwd, env) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def environment(repo: Path) -> dict:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(repo / "src"), "FEATUREMAPS_THREADS": "2",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}


def wait_for_queue(repo: Path, env: dict) -> str:
    while True:
        status = run(["dvc", "queue", "status"], repo, env)
        if "Queued" not in status and "Running" not in status:
            return status
        time.sleep(10)


def make(repo: Path, env: dict) -> None:
    copy_project(repo)
    if (ROOT / "data/downloads").is_dir():  # the offline MNIST copy, not fetched again
        shutil.copytree(ROOT / "data/downloads", repo / "data/downloads")
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "project"], repo, env)
    start = time.perf_counter()
    run(["dvc", "repro"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "baseline"], repo, env)
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    run(["dvc", "exp", "run", "--queue", *(a for s in GRID for a in ("-S", s))], repo, env)
    run(["dvc", "queue", "start", "-j", "1"], repo, env)
    status = wait_for_queue(repo, env)
    made = time.perf_counter() - start
    print(status.strip())
    print(f"baseline: dvc repro in {baseline:.0f} s; the grid {' x '.join(GRID)} "
          f"({status.count('Success')} succeeded, {status.count('Failed')} failed) in {made / 60:.1f} min "
          f"with one queue worker")


def add_saved(repo: Path, env: dict, wanted: int) -> None:
    """Experiments up to `wanted`: the grid's again with render.cmap=magma, saved with `dvc exp save`
    from each one applied (nothing rerun: a render-only change leaves every file the sweep reads as
    it was; queued instead, each would retrain, as DVC's run cache skips persist outputs)."""
    names = run(["dvc", "exp", "list", "--name-only"], repo, env).split()
    start, made = time.perf_counter(), 0
    for name in names:
        if len(names) + made >= wanted:
            break
        run(["dvc", "exp", "apply", name], repo, env)
        params = yaml.safe_load((repo / "params.yaml").read_text())
        if params["render"]["cmap"] == "magma":
            continue
        params["render"]["cmap"] = "magma"
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(["dvc", "exp", "save", "-n", f"{name}-magma"], repo, env)
        made += 1
    run(["git", "checkout", "--", "."], repo, env)
    run(["dvc", "checkout", "--force"], repo, env)
    print(f"{made} experiments saved in {time.perf_counter() - start:.0f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--forty", action="store_true",
                    help="up to 40 experiments: the grid's again with render.cmap=magma, saved with dvc exp save")
    args = ap.parse_args()
    repo = args.dir / "repo"
    env = environment(repo)
    if not repo.exists():
        make(repo, env)
    if args.forty:
        add_saved(repo, env, 40)
    # the sweep as this checkout has it (the repository's own src/ is the project as it was made)
    env = {**env, "PYTHONPATH": str(ROOT / "src")}
    for condition in ("quiet", "one busy process"):
        spin = subprocess.Popen([sys.executable, "-c", SPIN]) if condition != "quiet" else None
        try:
            whole, read, drew = [], [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                out = run(["featuremaps", "sweep"], repo, env)
                whole.append(time.perf_counter() - start)
                found = re.search(r"read (\d+) runs through DVC in ([\d.]+) s, related and drew them in ([\d.]+) s", out)
                n = int(found.group(1))
                read.append(float(found.group(2)))
                drew.append(float(found.group(3)))
        finally:
            if spin is not None:
                spin.kill()
        if condition == "quiet":
            print(out.strip())
        print(f"{condition}: featuremaps sweep over {n} runs: whole command median {statistics.median(whole):.1f} s "
              f"({', '.join(f'{t:.1f}' for t in whole)}); reading median {statistics.median(read):.1f} s "
              f"({statistics.median(read) / n:.2f} s a run); relating and drawing median {statistics.median(drew):.1f} s")

if __name__ == "__main__":
    main()
