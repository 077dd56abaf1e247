"""Draw the example images for `featuremaps image`: digits stroked with Pillow's drawing functions,
as a person would give them (on paper and on a dark slate, photographed or scanned at various
sizes), never taken from a dataset.

    python docs/examples/draw_examples.py      (writes them beside this script)
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent


def strokes(size, lines=(), arcs=(), width=0.09, background=0, ink=255, noise=0.0, seed=0) -> Image.Image:
    """Polylines and arcs given in 0..1 coordinates of the image, stroked `width` of its smaller side."""
    w, h = size
    image = Image.new("L", size, background)
    draw = ImageDraw.Draw(image)
    px = max(1, round(width * min(w, h)))
    for line in lines:
        points = [(x * w, y * h) for x, y in line]
        draw.line(points, fill=ink, width=px, joint="curve")
        for x, y in points:  # round ends, like a pen
            draw.ellipse([x - px / 2, y - px / 2, x + px / 2, y + px / 2], fill=ink)
    for (cx, cy, rx, ry, start, end) in arcs:
        draw.arc([(cx - rx) * w, (cy - ry) * h, (cx + rx) * w, (cy + ry) * h], start, end, fill=ink, width=px)
    image = image.filter(ImageFilter.GaussianBlur(px / 6))
    if noise:
        pixels = np.asarray(image, dtype=np.float64)
        rng = np.random.default_rng(seed)
        shade = np.linspace(-12, 12, w)[None, :]  # uneven light across the page
        pixels = pixels + shade + rng.normal(0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image


def main():
    seven = strokes((240, 320), lines=[[(0.22, 0.22), (0.78, 0.2), (0.42, 0.84)], [(0.4, 0.52), (0.68, 0.5)]],
                    background=232, ink=35, noise=6, seed=1)
    seven.save(HERE / "seven_on_paper.png")
    three = strokes((200, 200), arcs=[(0.5, 0.33, 0.2, 0.15, 180, 90), (0.5, 0.64, 0.22, 0.18, 270, 160)],
                    background=25, ink=240, noise=3, seed=2)
    three.save(HERE / "three_on_slate.png")
    zero = strokes((320, 200), arcs=[(0.5, 0.5, 0.16, 0.36, 0, 360)], background=225, ink=50, noise=5, seed=3)
    zero.convert("RGB").save(HERE / "zero_photo.jpg", quality=85)
    two = strokes((180, 240), lines=[[(0.3, 0.78), (0.78, 0.8)], [(0.72, 0.38), (0.3, 0.78)]],
                  arcs=[(0.5, 0.32, 0.22, 0.14, 190, 30)], background=240, ink=20, noise=4, seed=4)
    two.save(HERE / "two_on_paper.png")
    four = strokes((28, 28), lines=[[(0.62, 0.15), (0.28, 0.6), (0.78, 0.6)], [(0.62, 0.3), (0.62, 0.88)]],
                   width=0.1)
    four.save(HERE / "four_28px.png")


if __name__ == "__main__":
    main()
