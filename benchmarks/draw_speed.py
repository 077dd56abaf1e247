"""The explorer's draw view: how long one update takes in headless Chromium (read the pad, prepare
the drawing, forward pass, Grad-CAM, repaint every map), for the default run's network and for a
3-block 5x5 one, on a quiet machine and beside one busy process.

    python benchmarks/draw_speed.py [--updates 300]

Reads reports/index.html and reports/explorer.js (the default run: `make run`) and copies them to a
temporary folder (with the figures); the 3-block page is the same page with D.network replaced by a freshly initialised
ModelParams(conv_channels=(6, 16, 32), kernel_size=5) network (the weights' values do not change the
work). In each page a 7 is drawn with the mouse, then window.featuremapsNet.draw.update() is timed
--updates times (after 20 warm-up updates) with performance.now(). Target: median <= 16 ms.
"""
import argparse
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402
from browser import offline_page  # noqa: E402  (tests/, on the path through common)

SPIN = "while True: pass"
TIMED = """n => { const u = window.featuremapsNet.draw.update, t = [];
  for (let i = 0; i < 20; i++) u();
  for (let i = 0; i < n; i++) { const s = performance.now(); u(); t.push(performance.now() - s); }
  return t; }"""


def three_block_page(folder: Path) -> Path:
    """A copy of the explorer whose network is a 3-block 5x5 one."""
    import torch
    from featuremaps.model.export import network_arrays
    from featuremaps.model.network import build_model, model_config
    from featuremaps.params import ModelParams
    text = (folder / "explorer.js").read_text()
    data = json.loads(text[text.index("{"):text.rindex("}") + 1])
    torch.manual_seed(0)
    meta = {"image_shape": data["image_shape"], "classes": data["classes"], "channels": data["channels"]}
    model = build_model(model_config(ModelParams(conv_channels=(6, 16, 32), kernel_size=5), meta), [0.13], [0.31])
    arrays = network_arrays(model, data["image_shape"])
    data["network"] = {"config": str(arrays.pop("config")), "margin": data["network"]["margin"],
                       "tensors": {k: base64.b64encode(np.ascontiguousarray(v, "<f4").tobytes()).decode() for k, v in arrays.items()}}
    out = folder / "deep"
    out.mkdir()
    shutil.copy(folder / "index.html", out / "index.html")
    (out / "figures").symlink_to(folder / "figures")
    (out / "explorer.js").write_text("window.FEATUREMAPS = " + json.dumps(data) + ";\n")
    return out / "index.html"


def update_times(page: Path, updates: int) -> list:
    with offline_page(1200, 1000) as (p, seen):
        p.goto(page.resolve().as_uri() + "#draw")
        p.wait_for_function("document.getElementById('draw-out') && document.getElementById('draw-out').dataset.shown === '0'")
        box = p.locator("#pad").bounding_box()
        p.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
        p.mouse.down()
        for x, y in ((0.7, 0.2), (0.45, 0.85)):
            p.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        p.mouse.up()
        p.wait_for_function("document.getElementById('draw-out').dataset.shown === '1'")
        times = p.evaluate(TIMED, updates)
        assert not seen["console_errors"], seen["console_errors"]
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reports"
        shutil.copytree(ROOT / "reports", folder)
        pages = {"default (conv 6, 16; 3x3)": folder / "index.html", "3 blocks (conv 6, 16, 32; 5x5)": three_block_page(folder)}
        for condition in ("quiet", "one busy process"):
            for name, page in pages.items():
                spin = subprocess.Popen([sys.executable, "-c", SPIN]) if condition != "quiet" else None
                try:
                    t = update_times(page, args.updates)
                finally:
                    if spin:
                        spin.kill()
                print(f"{condition:17s} {name:32s} median {statistics.median(t):.2f} ms, p95 {np.percentile(t, 95):.2f} ms, "
                      f"max {max(t):.2f} ms ({len(t)} updates)")


if __name__ == "__main__":
    main()
