"""A user's image prepared as the training data looks: grey, light on dark, the model's size.

    grey, notes = prepared_input(opened_image(path), (28, 28), margin=4)

- Opened with Pillow (PNG, JPEG, GIF, BMP, TIFF, WebP, ...), its size checked from the header
  before any pixel is decoded (at most MAX_SIDE a side and MAX_PIXELS in all); 16-bit grey scaled
  to 8 bits (65535 to 255), not clipped; an image larger
  than WORK_SIDE is reduced to it (box average) before anything else, so what it costs beyond
  its decoding does not grow with its size; EXIF rotation applied; transparency laid over
  white paper.
- Light on dark like MNIST: where the border is mostly light (a dark digit on paper) the image
  is inverted, and the notes say so.
- An image already at the model's input size is then used as it is. Any other is fitted as
  MNIST's own images were (LeCun et al.): the paper's grey level and its noise (from the
  border) subtracted and the contrast stretched, cropped to the ink, scaled keeping its aspect ratio so that its longer side fills
  the input less a margin on each side (4 of 28 pixels for MNIST, 0 for Fashion-MNIST, whose
  items fill the frame), and placed on black, centred by its centre of mass (by its box when
  the margin is 0). Padded, never stretched.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

from featuremaps.data.decode import ORIGINAL_SIZE, flattened, resized

INK = 0.25                # of the stretched range: what counts as ink when cropping
NO_INK = "no ink found: the input is blank"


def prepared_colour(image: Image.Image, size: tuple) -> tuple[np.ndarray, list]:
    """(uint8 [H, W, 3], notes): a colour model's input, the image as RGB over white paper where
    transparent, resized to `size` (height, width) with Pillow's bilinear filter, as the folder
    source resizes its images."""
    rgb = flattened(ImageOps.exif_transpose(image)).convert("RGB")
    notes = [] if rgb.size == (size[1], size[0]) else [f"resized from {rgb.width}x{rgb.height} to {size[1]}x{size[0]}"]
    return np.asarray(resized(rgb, size), dtype=np.uint8), notes


def grey_pixels(image: Image.Image) -> np.ndarray:
    """uint8 [H, W]: upright (EXIF), transparency over white, luminance."""
    return np.array(flattened(ImageOps.exif_transpose(image)).convert("L"), dtype=np.uint8)  # a writable copy


def _border(grey: np.ndarray) -> np.ndarray:
    return np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).astype(np.float64)


def border_level(grey: np.ndarray) -> float:
    """The median of the outermost rows and columns: the background's grey level."""
    return float(np.median(_border(grey)))


def background_level(grey: np.ndarray) -> float:
    """The border's median plus three times its median absolute deviation: the paper and its
    uneven light and noise, below which everything goes black; ink touching the border does not move it."""
    edge = _border(grey)
    median = np.median(edge)
    return float(median + 3 * np.median(np.abs(edge - median)))


def _span(flags: np.ndarray) -> tuple[int, int]:
    where = np.flatnonzero(flags)
    return int(where[0]), int(where[-1]) + 1


def fitted(grey: np.ndarray, size: tuple, margin: int) -> np.ndarray:
    """A light-on-dark image of any size fitted into `size` as MNIST's were (see the module's docstring)."""
    level = grey.astype(np.float64) - background_level(grey)
    top = level.max()
    level = np.clip(level / top, 0, 1) if top > 0 else np.zeros_like(level)
    ink = level >= INK
    if ink.any():
        (y0, y1), (x0, x1) = _span(ink.any(1)), _span(ink.any(0))
        level = level[y0:y1, x0:x1]
    h, w = size
    box_h, box_w = max(h - 2 * margin, 1), max(w - 2 * margin, 1)
    scale = min(box_h / level.shape[0], box_w / level.shape[1])
    new_h, new_w = max(1, round(level.shape[0] * scale)), max(1, round(level.shape[1] * scale))
    patch = Image.fromarray(np.round(level * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    patch = np.asarray(patch, dtype=np.float64)
    if margin > 0 and patch.sum() > 0:  # centre of mass at the centre, as MNIST
        ys, xs = np.indices(patch.shape)
        cy, cx = (ys * patch).sum() / patch.sum(), (xs * patch).sum() / patch.sum()
        top_left = (round(h / 2 - 0.5 - cy), round(w / 2 - 0.5 - cx))
    else:
        top_left = ((h - new_h) // 2, (w - new_w) // 2)
    row, col = int(np.clip(top_left[0], 0, h - new_h)), int(np.clip(top_left[1], 0, w - new_w))
    out = np.zeros(size, dtype=np.uint8)
    out[row:row + new_h, col:col + new_w] = np.clip(np.round(patch), 0, 255).astype(np.uint8)
    return out


def prepared_input(image: Image.Image, size: tuple, margin: int) -> tuple[np.ndarray, list]:
    """(uint8 [H, W] light on dark at the model's input size, notes on what was done)."""
    grey = grey_pixels(image)
    width, height = image.info.get(ORIGINAL_SIZE, (grey.shape[1], grey.shape[0]))
    notes = [f"{width}x{height}"] + ([f"reduced to {grey.shape[1]}x{grey.shape[0]}"]
                                     if (width, height) != (grey.shape[1], grey.shape[0]) else [])
    if border_level(grey) > 127:
        grey = 255 - grey
        notes.append("inverted (dark on light)")
    if grey.max() <= background_level(grey):
        notes.append(NO_INK)
    if grey.shape == tuple(size):
        notes.append("used as it is")
        return grey, notes
    notes.append(f"ink fitted to {size[1] - 2 * margin}x{size[0] - 2 * margin} in {size[1]}x{size[0]}")
    return fitted(grey, tuple(size), margin), notes
