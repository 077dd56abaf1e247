"""Compare speed: `featuremaps compare` on two 60k-image runs made by the real DVC.

    python benchmarks/compare_speed.py [--repeats 3] [--epochs 2]

Makes a temporary git + DVC repository holding the project, runs `dvc repro` on Fashion-MNIST
(idx source; a generated 60k+10k IDX dataset where it is not installed), commits, runs an
experiment with another seed (`dvc exp run -S seed=1`), then times the whole command
`featuremaps compare HEAD seed1` (median of repeats) and the part of it after DVC's reading, as
the command prints it. Target: at most 10 s besides DVC's reading. Prints the comparison's table.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import copy_project  # noqa: E402

from featuremaps.data.sources import FASHION_MNIST_IDX_DIR  # noqa: E402
from synthetic import write_idx_folder  # noqa: E402



def run(cmd, cwd, env) -> str:
    return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        copy_project(repo)
        idx = Path(FASHION_MNIST_IDX_DIR)
        if not (idx / "train-images-idx3-ubyte.gz").exists():
            idx = write_idx_folder(Path(tmp) / "idx", 60000, 10000)
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["data"].update(source="idx", idx_dir=str(idx))
        params["train"]["epochs"] = args.epochs
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(repo / "src"),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
        run(["git", "init", "-q", "-b", "main"], repo, env)
        start = time.perf_counter()
        run(["dvc", "repro"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "baseline"], repo, env)
        run(["dvc", "exp", "run", "-S", "seed=1", "-n", "seed1"], repo, env)
        print(f"two runs of the pipeline on {idx} ({args.epochs} epochs each) in {time.perf_counter() - start:.0f} s")
        whole, after_reading = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = run(["featuremaps", "compare", "HEAD", "seed1"], repo, env)
            whole.append(time.perf_counter() - start)
            after_reading.append(float(re.search(r"compared and drew in ([\d.]+) s", out).group(1)))
        print(out.strip())
        print(f"featuremaps compare, whole command: median {statistics.median(whole):.2f} s over {args.repeats} runs "
              f"({', '.join(f'{t:.2f}' for t in whole)}); besides DVC's reading: median "
              f"{statistics.median(after_reading):.2f} s; target <= 10 s")
        shutil.copytree(repo / "reports/compare/HEAD-vs-seed1", Path(tempfile.gettempdir()) / "HEAD-vs-seed1",
                        dirs_exist_ok=True)
        print(f"the comparison's folder is copied to {Path(tempfile.gettempdir()) / 'HEAD-vs-seed1'}")


if __name__ == "__main__":
    main()
