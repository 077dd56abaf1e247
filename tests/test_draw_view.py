"""The draw view of the committed explorer (reports/, the default run's trained network): drawings
made with a scripted pointer are prepared as featuremaps image prepares the same drawing saved as a
PNG, predicted as PyTorch predicts them with the page's own weights, and a clear 1 and 0 are read as
such; the view works at a phone's width with touch and from the keyboard."""
import base64
import json
import math
from pathlib import Path

import numpy as np
import torch

from browser import offline_page
from featuremaps.image.report import prepared_images
from featuremaps.model.network import ConvNet, normalised_images

REPORTS = Path(__file__).resolve().parents[1] / "reports"
SHOWN = "n => document.getElementById('draw-out') && document.getElementById('draw-out').dataset.shown === String(n)"


def page_data() -> dict:
    """explorer.js's data, with the network's tensors from the script the draw view loads them from."""
    text = (REPORTS / "explorer.js").read_text()
    data = json.loads(text[text.index("{"):text.rindex("}") + 1])
    weights = (REPORTS / data["network"]["script"]).read_text()
    data["network"]["tensors"] = json.loads(weights[weights.index("{"):weights.rindex("}") + 1])
    return data


def page_model(data: dict) -> ConvNet:
    """The network the page runs, rebuilt in PyTorch from the page's own config and tensors."""
    cfg = json.loads(data["network"]["config"])
    model = ConvNet(tuple(cfg["image_shape"]), len(data["classes"]), cfg["in_channels"], tuple(cfg["conv_channels"]),
                    cfg["kernel_size"], cfg["batch_norm"], tuple(cfg["fc_units"]))
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    tensors = {k: torch.from_numpy(np.frombuffer(base64.b64decode(v), "<f4").copy().reshape(shapes[k]))
               for k, v in data["network"]["tensors"].items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert unexpected == [] and all(k.endswith("num_batches_tracked") for k in missing)
    return model.eval()


def page_errors(seen: dict) -> list:
    """The page's console errors, but a figure of reports/figures that this clone lacks: the figures are in DVC's
    cache, not in git (`dvc pull` fetches them), and the draw view does not need them."""
    from urllib.parse import unquote, urlparse
    errors = list(seen["console_errors"])
    for url in seen["failed"]:
        path = Path(unquote(urlparse(url).path))
        if path.parent == REPORTS / "figures" and not path.exists() and NOT_FOUND in errors:
            errors.remove(NOT_FOUND)
    return errors


NOT_FOUND = "Failed to load resource: net::ERR_FILE_NOT_FOUND"


def strokes(p, paths) -> None:
    """Each path (points as fractions of the pad) drawn with the mouse, button down along it."""
    box = p.locator("#pad").bounding_box()
    for path in paths:
        p.mouse.move(box["x"] + path[0][0] * box["width"], box["y"] + path[0][1] * box["height"])
        p.mouse.down()
        for x, y in path[1:]:
            p.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=5)
        p.mouse.up()


def seven(x, y, size):
    return [[(x, y), (x + 0.7 * size, y), (x + 0.3 * size, y + size)]]


def zero(x, y, size):
    return [[(x + 0.35 * size * (1 + math.cos(t * math.pi / 12)), y + 0.5 * size * (1 + math.sin(t * math.pi / 12))) for t in range(25)]]


DRAWINGS = {  # name: (paths, the class it must be read as, or None: only as PyTorch reads it)
    "clear 1": ([[(0.5, 0.15), (0.5, 0.85)]], 1),
    "clear 0": (zero(0.25, 0.15, 0.55), 0),
    "small 7, top left": (seven(0.08, 0.08, 0.3), None),
    "7, middle": (seven(0.3, 0.2, 0.55), None),
    "large 7, low right": (seven(0.25, 0.12, 0.8), None),
    "small 0, low right": (zero(0.55, 0.5, 0.35), None),
    "large 0": (zero(0.1, 0.05, 0.9), None),
}


def test_drawings_are_prepared_and_read_as_featuremaps_image_and_pytorch_do(tmp_path):
    data = page_data()
    model, classes = page_model(data), data["classes"]
    size, margin = tuple(data["image_shape"]), data["network"]["margin"]
    diffs = {}
    with offline_page(1100, 1200) as (p, seen):
        p.goto((REPORTS / "index.html").resolve().as_uri() + "#draw")
        p.wait_for_function(SHOWN, arg=0)
        for name, (paths, want) in DRAWINGS.items():
            p.click("#clear")
            p.wait_for_function(SHOWN, arg=0)
            strokes(p, paths)
            p.wait_for_function(SHOWN, arg=len(paths))
            png = tmp_path / f"{name}.png"  # the pad as the browser drew it, saved as a PNG
            png.write_bytes(base64.b64decode(p.evaluate("document.getElementById('pad').toDataURL('image/png')").split(",", 1)[1]))
            shown = p.evaluate("() => { const r = window.featuremapsNet.draw.update(); return {input: Array.from(r.input), pred: r.pred}; }")
            (prepared,), errors = prepared_images([png], size, margin)
            assert errors == []
            got = np.array(shown["input"], dtype=np.uint8).reshape(size)
            diffs[name] = np.abs(got.astype(int) - prepared.pixels.astype(int))
            with torch.no_grad():
                torch_pred = int(model(normalised_images(model, prepared.pixels[None])).argmax())
            assert shown["pred"] == torch_pred, name
            if want is not None:
                assert shown["pred"] == want, f"{name} read as {classes[shown['pred']]}"
            assert p.inner_text("#prediction").startswith(f"predicted: {classes[torch_pred]} (")
    print({k: (int(d.max()), round(float(d.mean()), 4)) for k, d in diffs.items()})
    assert max(int(d.max()) for d in diffs.values()) <= 1
    assert page_errors(seen) == []


def test_the_draw_view_at_a_phone_width_with_touch_and_from_the_keyboard():
    with offline_page(390, 844, touch=True) as (p, seen):
        p.goto((REPORTS / "index.html").resolve().as_uri() + "#draw")
        p.wait_for_function(SHOWN, arg=0)
        assert p.evaluate("document.documentElement.scrollWidth <= innerWidth")  # nothing wider than the phone
        box = p.locator("#pad").bounding_box()
        assert box["width"] <= 390 and abs(box["width"] - box["height"]) < 1
        touch = p.context.new_cdp_session(p)
        points = [(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.15 + 0.07 * i)) for i in range(11)]
        touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
        for x, y in points[1:]:
            touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        p.wait_for_function(SHOWN, arg=1)
        assert p.inner_text("#prediction").startswith("predicted: 1 ")  # a finger's vertical stroke is a 1
        # The keyboard: Tab reaches every control, each shows where the focus is, Enter and Space work them.
        p.click("h2")
        reached, outlines = [], {}
        for _ in range(12):
            p.keyboard.press("Tab")
            who = p.evaluate("document.activeElement.id")
            reached.append(who)
            outlines[who] = p.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        for control in ("pad", "stroke", "erase", "undo", "clear", "cam-class"):
            assert control in reached and outlines[control] != "none", control
        while p.evaluate("document.activeElement.id") != "undo":
            p.keyboard.press("Shift+Tab")
        p.keyboard.press("Enter")
        p.wait_for_function(SHOWN, arg=0)
        p.focus("#erase")
        p.keyboard.press("Space")
        assert p.get_attribute("#erase", "aria-pressed") == "true"
    assert page_errors(seen) == []
