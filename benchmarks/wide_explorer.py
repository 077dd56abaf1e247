"""The report of a wide model: a torchvision ResNet-18 with every one of its 20 conv layers
extracted (4,800 channels), its reports/ size and the explorer's first paint in headless Chromium.

    .venv/bin/python benchmarks/wide_explorer.py [--keep FOLDER] [--busy]

Runs the real stage scripts on generated 28x28 grey images (1 epoch, visualize at 8 steps and one
seed, no snapshots: the size of what the explorer holds depends on the channels, not on the steps),
then opens reports/index.html from file:// and times (median of 3 page loads): the overview until
every feature's tile is drawn, and a feature view of the widest layer until it is drawn (its
layer script loaded). --busy: the same beside a process spinning one core, as on a user's busy machine.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, time_stage, write_idx_folder  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from browser import offline_page  # noqa: E402

STAGES = ("check", "download", "train", "extract", "visualize", "attribute", "timelapse", "render")
N_TRAIN, N_TEST = 1000, 100


def build(folder: Path) -> None:
    import shutil
    shutil.copytree(ROOT / "stages", folder / "stages")
    (folder / "models").mkdir()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(source="idx", idx_dir=str(write_idx_folder(folder / "idx", N_TRAIN, N_TEST)))
    params["model"].update(source="torchvision", name="resnet18")
    params["train"].update(epochs=1, snapshot_every=0)
    params["visualize"].update(steps=8, seeds=1)
    params["attribute"].update(ig_steps=4)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for stage in STAGES:
        times, _ = time_stage(folder, env, stage, 1)
        print(f"  {stage}: {times[0]:.1f} s", flush=True)


def sizes(folder: Path) -> None:
    reports = folder / "reports"
    total = sum(p.stat().st_size for p in reports.rglob("*") if p.is_file())
    layer_scripts = sorted((reports / "explorer/layer").iterdir(), key=lambda p: p.stat().st_size)
    figures = list((reports / "figures").glob("*.png"))
    mib = lambda p: p.stat().st_size / 2**20  # noqa: E731
    print(f"reports/: {total / 2**20:.1f} MiB; explorer.js {mib(reports / 'explorer.js'):.1f} MiB (the first paint's); "
          f"{len(layer_scripts)} layer scripts, {mib(layer_scripts[0]):.2f} to {mib(layer_scripts[-1]):.2f} MiB "
          f"({layer_scripts[-1].name}); the draw view's weights {mib(reports / 'explorer/network.js'):.1f} MiB; "
          f"{len(figures)} figures, {sum(p.stat().st_size for p in figures) / 2**20:.1f} MiB")


def paint_times(folder: Path, repeats: int = 3) -> None:
    page_uri = (folder / "reports/index.html").resolve().as_uri()
    overview, view = [], []
    with offline_page(1280) as (page, seen):
        for _ in range(repeats):
            page.goto("about:blank")
            page.goto(page_uri)
            n = page.evaluate("Object.values(window.FEATUREMAPS.features).reduce((a, f) => a + f.length, 0)")
            page.wait_for_function(f"document.querySelectorAll('#features canvas').length === {n}", timeout=300_000)
            overview.append(page.evaluate("performance.now()") / 1000)
            widest = page.evaluate("Object.entries(window.FEATUREMAPS.features).sort((a, b) => b[1].length - a[1].length)[0][0]")
            start = page.evaluate("performance.now()")
            page.evaluate(f"location.hash = '#{widest}/1'")
            page.wait_for_function("t => document.querySelector('#view h2')?.textContent === t",
                                   arg=f"{widest} \u00b7 feature 1", timeout=300_000)
            view.append((page.evaluate("performance.now()") - start) / 1000)
        assert not seen["console_errors"] and not seen["failed"] and not seen["external"], seen
    print(f"{n:,} features; overview drawn {statistics.median(overview):.2f} s after navigation "
          f"({', '.join(f'{t:.2f}' for t in overview)}); a feature view of {widest} "
          f"{statistics.median(view):.2f} s ({', '.join(f'{t:.2f}' for t in view)})")


def spin():
    while True:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, help="build in (or reuse) this folder")
    ap.add_argument("--busy", action="store_true", help="time the page beside a process spinning one core")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        if not (folder / "reports/index.html").exists():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
        sizes(folder)
        paint_times(folder)
        if args.busy:
            busy = multiprocessing.Process(target=spin, daemon=True)
            busy.start()
            try:
                print("beside one spinning process:")
                paint_times(folder)
            finally:
                busy.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
