"""The page's digit preparation (report/prepare.js) against featuremaps.image.prepare, in headless Chromium."""
import base64
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from browser import offline_page
from featuremaps.image.prepare import prepared_input

SCRIPT = (Path(__file__).resolve().parents[1] / "src/featuremaps/report/prepare.js").read_text()


def drawing(kind: str, size: tuple, offset: tuple, scale: float, width: int, paper: bool) -> np.ndarray:
    """A 7 or a 0 drawn with strokes of `width` on a canvas of `size` (w, h)."""
    image = Image.new("L", size, 255 if paper else 0)
    pen = ImageDraw.Draw(image)
    ink = 0 if paper else 255
    ox, oy = offset
    if kind == "7":
        pts = [(ox, oy), (ox + 60 * scale, oy), (ox + 25 * scale, oy + 100 * scale)]
        pen.line(pts, fill=ink, width=width, joint="curve")
    else:
        pen.ellipse([ox, oy, ox + 55 * scale, oy + 95 * scale], outline=ink, width=width)
    return np.asarray(image)


def test_the_page_prepares_a_drawing_as_featuremaps_image_does(tmp_path):
    cases = [(k, size, off, s, wd, paper) for k in ("7", "0")
             for size, off, s, wd in (((280, 280), (90, 80), 1.2, 18), ((200, 150), (20, 15), 0.9, 9),
                                      ((400, 300), (250, 120), 1.5, 30), ((64, 64), (10, 5), 0.45, 4))
             for paper in (False, True)]
    grey = [drawing(*c) for c in cases]
    want = [prepared_input(Image.fromarray(g), (28, 28), 4)[0] for g in grey]
    page = tmp_path / "prep.html"
    page.write_text("<!doctype html><script>\n" + SCRIPT + "\nwindow.Prep = Prep;</script>")
    with offline_page() as (p, seen):
        p.goto(page.resolve().as_uri())
        got = p.evaluate("""cases => cases.map(([s, h, w]) => Array.from(Prep.digit(Uint8Array.from(atob(s), c => c.charCodeAt(0)), h, w, [28, 28], 4)))""",
                         [[base64.b64encode(g.tobytes()).decode(), g.shape[0], g.shape[1]] for g in grey])
    diffs = [np.abs(np.array(g, dtype=int).reshape(28, 28) - w.astype(int)) for g, w in zip(got, want)]
    print("max", max(d.max() for d in diffs), "mean", np.mean([d.mean() for d in diffs]))
    assert all(d.max() == 0 for d in diffs)
    assert seen["console_errors"] == []


def test_an_edited_image_comes_back_as_the_mean_of_each_block(tmp_path):
    """Prep.blocks: a grey or colour image drawn 10x by nearest neighbour comes back unchanged; any
    pad comes back as the mean of each 10x10 block (grey by Pillow's luma, as convert("L"))."""
    rng = np.random.default_rng(3)
    image = {1: rng.integers(0, 256, (28, 28), dtype=np.uint8), 3: rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)}
    page = tmp_path / "prep.html"
    page.write_text("<!doctype html><script>\n" + SCRIPT + "\nwindow.Prep = Prep;</script>")
    with offline_page() as (p, seen):
        p.goto(page.resolve().as_uri())
        for channels, im in image.items():
            h, w = im.shape[:2]
            rgb = np.repeat(np.repeat(np.dstack([im] * 3) if channels == 1 else im, 10, 0), 10, 1)
            pads = {"nearest": rgb, "random": rng.integers(0, 256, rgb.shape, dtype=np.uint8)}
            for name, pad in pads.items():
                rgba = np.dstack([pad, np.full(pad.shape[:2], 255, np.uint8)])
                got = np.array(p.evaluate("([s, h, w, c]) => Array.from(Prep.blocks(Uint8Array.from(atob(s), ch => ch.charCodeAt(0)), h, w, 10, c))",
                                          [base64.b64encode(rgba.tobytes()).decode(), h, w, channels]), dtype=np.uint8)
                source = np.asarray(Image.fromarray(pad).convert("L")) if channels == 1 else pad
                blocks = source.reshape(h, 10, w, 10, -1).astype(float).mean(axis=(1, 3))
                want = np.floor(blocks + 0.5).astype(np.uint8).reshape(im.shape)
                assert np.array_equal(got.reshape(im.shape), want), (channels, name)
                if name == "nearest":
                    assert np.array_equal(got.reshape(im.shape), im)
    assert seen["console_errors"] == []
