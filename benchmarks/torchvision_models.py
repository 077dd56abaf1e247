"""torchvision models through the whole pipeline under the real dvc: ResNet-18, VGG-11-BN and
MobileNetV2 on a few hundred generated 32x32 colour images (a folder source), one epoch, two
dotted layers each; every stage's time and peak memory (its own log line), then the explorer in
headless Chromium: a feature of a dotted layer with every picture drawn, and the draw view.

    .venv/bin/python benchmarks/torchvision_models.py [--keep FOLDER] [--models resnet18,...]

The same as a user would run it: `dvc exp run -S model.source=torchvision -S model.name=...`.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from browser import offline_page  # noqa: E402
from conftest import Project, copied_project  # noqa: E402

LAYERS = {"resnet18": ["layer1.0.conv1", "layer2"], "vgg11_bn": ["features.4", "features.12"],
          "mobilenet_v2": ["features.1.conv.0.0", "features.4"]}
N_PER_CLASS, SIZE = 40, 32
DRAWN = ("() => Array.from(document.querySelectorAll('#view canvas')).map(c => c.getContext('2d')"
         ".getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v > 0))")


def colour_folder(folder: Path) -> None:
    """10 classes of 32x32 colour images: a bar of the class's colour and place on a noisy ground."""
    rng = np.random.default_rng(0)
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True)
        colour = np.array([255 * (c & 1), 255 * ((c >> 1) & 1), 128 + 127 * ((c >> 2) & 1)])
        for i in range(N_PER_CLASS):
            image = rng.integers(0, 60, (SIZE, SIZE, 3))
            y = 4 + 2 * c + rng.integers(-2, 3)
            image[y:y + 5, 4 + rng.integers(0, 8):24 + rng.integers(0, 4)] = colour
            Image.fromarray(image.astype(np.uint8)).save(folder / f"class{c}" / f"{i}.png")


def project(base: Path) -> Project:
    proj = copied_project(base)
    colour_folder(proj.path / "images")
    proj.set_params(data={"source": "folder", "folder": "images"}, train={"epochs": 1, "batch_size": 64},
                    visualize={"steps": 64, "seeds": 2}, attribute={"ig_steps": 8},
                    timelapse={"probe_size": 100, "vis_epochs": [0, "last"]}, render={"dpi": 60})
    proj.commit("project")
    return proj


def stage_lines(stdout: str, stderr: str) -> dict:
    """{stage: (seconds to run, peak MiB)}: dvc names each stage it runs on stdout, and each stage's
    last log line (featuremaps.stage) on stderr says its peak memory and time, in the same order."""
    ran = re.findall(r"Running stage '(\w+)'", stdout)
    lines = re.findall(r"peak memory (\d+) MiB; [\d.]+ s to start, ([\d.]+) s to run", stderr)
    return {stage: (float(seconds), int(mib)) for stage, (mib, seconds) in zip(ran, lines)}


def explorer_check(page_path: Path, layer: str) -> str:
    with offline_page(1280) as (page, seen):
        page.goto(page_path.as_uri() + f"#{layer}/1")
        page.wait_for_function("t => document.querySelector('#view h2')?.textContent === t",
                               arg=f"{layer} \u00b7 feature 1", timeout=300_000)
        drawn = page.evaluate(DRAWN)
        page.evaluate("location.hash = '#draw'")
        page.wait_for_function("document.getElementById('draw-out') || document.querySelector('.route-note')",
                               timeout=300_000)
        draw = page.locator("#draw-speed").inner_text() if page.locator("#draw-speed").count() else \
            page.locator("#draw-link").inner_text()
        errors = seen["console_errors"] + seen["failed"] + seen["external"]
    return (f"{layer} feature 1: {sum(drawn)}/{len(drawn)} canvases drawn, "
            f"{'no console error' if not errors else errors}; draw view: {draw}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--models", default=",".join(LAYERS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        proj = project(base)
        print(f"{10 * N_PER_CLASS} generated {SIZE}x{SIZE} colour images (folder source), 1 epoch; seconds to run "
              f"and peak MiB per stage")
        for name in args.models.split(","):
            start = time.perf_counter()
            proc = proj.dvc("exp", "run", "-n", name, "-S", "model.source=torchvision", "-S", f"model.name={name}",
                            "-S", f"extract.layers=[{','.join(LAYERS[name])}]", timeout=7200)
            stages = stage_lines(proc.stdout, proc.stderr)
            print(f"{name}: dvc exp run {time.perf_counter() - start:.0f} s; " + "; ".join(
                f"{s} {t:.1f} s {m} MiB" for s, (t, m) in stages.items()), flush=True)
            print("  " + explorer_check((proj.path / "reports/index.html").resolve(), LAYERS[name][0]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
