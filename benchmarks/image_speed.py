"""Image speed: the whole `featuremaps image` command, start-up included, on 1 and on 10 images.

    python benchmarks/image_speed.py [--repeats 3] [--model data/model/model.pt]

Uses the drawn examples of docs/examples (copied under ten names for the second case) and the
pipeline's model (run `make run` first). Median of repeats; targets: 1 image <= 4 s, 10 images <= 6 s.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs/examples").glob("*.png")) + sorted((ROOT / "docs/examples").glob("*.jpg"))


def timed(args: list, repeats: int) -> list:
    command = [str(Path(sys.executable).parent / "featuremaps"), "image", *map(str, args)]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        times.append(time.perf_counter() - start)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=str(ROOT / "data/model/model.pt"))
    args = ap.parse_args()
    if not Path(args.model).exists():
        sys.exit(f"{args.model}: not found; run `make run` first or give --model")
    with tempfile.TemporaryDirectory() as tmp:
        ten = []
        for i in range(10):
            source = EXAMPLES[i % len(EXAMPLES)]
            ten.append(Path(tmp) / f"{i:02d}-{source.name}")
            shutil.copy(source, ten[-1])
        for label, images, target in (("1 image", ten[:1], 4), ("10 images", ten, 6)):
            times = timed([*images, "--model", args.model, "--out", Path(tmp) / "out"], args.repeats)
            print(f"featuremaps image, {label}, whole command: median {statistics.median(times):.2f} s over "
                  f"{args.repeats} runs ({', '.join(f'{t:.2f}' for t in times)}); target <= {target} s")


if __name__ == "__main__":
    main()
