"""What the largest images `featuremaps image` accepts cost to prepare: peak resident memory and
time of opening and preparing 10,000 x 10,000 PNGs (grey, RGB, RGBA) and a JPEG, each in a
process of its own.

    .venv/bin/python benchmarks/image_memory.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT

MEASURE = """
import resource, sys, time
from featuremaps.data.decode import opened_image
from featuremaps.image.prepare import prepared_input
start = time.perf_counter()
grey, notes = prepared_input(opened_image(sys.argv[1]), (28, 28), 4)
print(f"{', '.join(notes)}: {time.perf_counter() - start:.1f} s, "
      f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
"""


MAKE = """
import sys
import numpy as np
from PIL import Image
side, folder = 10_000, sys.argv[1]
paper = np.full((side, side), 230, np.uint8)
paper[2000:8000, 4500:5500] = 20  # a dark stroke on light paper
Image.fromarray(paper).save(f"{folder}/grey.png")
Image.fromarray(np.stack([paper] * 3, -1)).save(f"{folder}/rgb.png")
Image.fromarray(np.stack([paper] * 3, -1)).save(f"{folder}/rgb.jpg")
Image.fromarray(np.stack([paper] * 3 + [np.full_like(paper, 255)], -1)).save(f"{folder}/rgba.png")
"""


def main():
    env = {"PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as tmp:
        # Made in a process of its own: a child's peak memory counts its parent's at the fork.
        subprocess.run([sys.executable, "-c", MAKE, tmp], check=True, env=env)
        for what, name in (("grey PNG", "grey.png"), ("RGB PNG", "rgb.png"), ("RGBA PNG", "rgba.png"),
                           ("RGB JPEG", "rgb.jpg")):
            proc = subprocess.run([sys.executable, "-c", MEASURE, str(Path(tmp) / name)], capture_output=True,
                                  text=True, env=env, check=True)
            print(f"{what:9s} 10,000 x 10,000: {proc.stdout.strip()}")


if __name__ == "__main__":
    main()
