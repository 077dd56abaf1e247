"""A user's image prepared as the training data looks: grey, light on dark, the model's size.

    grey, notes = prepared_input(opened_image(path), (28, 28), margin=4)

- Opened with Pillow (PNG, JPEG, GIF, BMP, TIFF, WebP, ...), its size checked from the header
  before any pixel is decoded; EXIF rotation applied; transparency laid over white paper.
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

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from featuremaps.errors import FeaturemapsError, first_line

MAX_SIDE = 10_000  # pixels; a larger image is refused from its header (Pillow's decompression-bomb guard)
INK = 0.25          # of the stretched range: what counts as ink when cropping


class ImageError(FeaturemapsError):
    """An image file that cannot be used: missing, empty, not an image, too large, damaged."""


def opened_image(path: str | Path) -> Image.Image:
    """The decoded image; ImageError with one line for anything else."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: a folder, not an image file")
    if not path.exists():
        raise ImageError(f"{path}: not found")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)  # reads the header only
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not an image Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"{path}: refused before decoding: {first_line(exc)}") from None
        except OSError as exc:
            raise ImageError(f"{path}: cannot be read ({first_line(exc)})") from None
    width, height = image.size
    if max(width, height) > MAX_SIDE:
        image.close()
        raise ImageError(f"{path}: {width} x {height} pixels, larger than {MAX_SIDE:,} x {MAX_SIDE:,}; "
                         f"refused before decoding")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot be decoded ({first_line(exc)}); is it truncated or damaged?") from None
    return image


def grey_pixels(image: Image.Image) -> np.ndarray:
    """uint8 [H, W]: upright (EXIF), transparency over white, luminance."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.array(image.convert("L"), dtype=np.uint8)  # a writable copy


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


def fitted(grey: np.ndarray, size: tuple, margin: int) -> np.ndarray:
    """A light-on-dark image of any size fitted into `size` as MNIST's were (see the module's docstring)."""
    level = grey.astype(np.float64) - background_level(grey)
    top = level.max()
    level = np.clip(level / top, 0, 1) if top > 0 else np.zeros_like(level)
    ink = np.argwhere(level >= INK)
    if len(ink):
        (y0, x0), (y1, x1) = ink.min(0), ink.max(0) + 1
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
    notes = [f"{grey.shape[1]}x{grey.shape[0]}"]
    if border_level(grey) > 127:
        grey = 255 - grey
        notes.append("inverted (dark on light)")
    if grey.shape == tuple(size):
        notes.append("used as it is")
        return grey, notes
    notes.append(f"ink fitted to {size[1] - 2 * margin}x{size[0] - 2 * margin} in {size[1]}x{size[0]}")
    return fitted(grey, tuple(size), margin), notes
