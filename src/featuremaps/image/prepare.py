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

import errno
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from featuremaps.errors import FeaturemapsError, first_line

MAX_SIDE = 10_000         # pixels a side; a larger image is refused from its header
MAX_PIXELS = 100_000_000  # in all (10,000 x 10,000): decoded, at most 400 MB (4 bytes a pixel)
WORK_SIDE = 2_048         # a larger image is reduced to this before it is prepared
INK = 0.25                # of the stretched range: what counts as ink when cropping
NO_INK = "no ink found: the input is blank"
ORIGINAL_SIZE = "featuremaps.original_size"  # set in a reduced image's info


class ImageError(FeaturemapsError):
    """An image file that cannot be used: missing, empty, not an image, too large, damaged."""


DIGITS_MARGIN = 4  # of 28 pixels: MNIST's digits fit a 20x20 box; Fashion-MNIST's items fill the frame


def default_margin(classes: list, size: tuple) -> int:
    """For digits (classes named from their digit, as MNIST's "0 - zero"), MNIST's margin scaled to
    the input size; for anything else, such as Fashion-MNIST's items, none."""
    digits = all(str(name)[:1].isdigit() for name in classes)
    return round(DIGITS_MARGIN * min(size) / 28) if digits else 0


def shown_name(path) -> str:
    """`path` as text to print, draw and write: bytes that are not UTF-8 shown as U+FFFD."""
    return os.fsencode(str(path)).decode("utf-8", "replace")


def _too_large(width: int, height: int) -> bool:
    return max(width, height) > MAX_SIDE or width * height > MAX_PIXELS


def _size_refusal(shown: str, width: int, height: int) -> ImageError:
    return ImageError(f"{shown}: {width:,} x {height:,} pixels, larger than allowed ({MAX_SIDE:,} a side, "
                      f"{MAX_PIXELS // 1_000_000} megapixels in all); refused before decoding")


def opened_image(path: str | Path) -> Image.Image:
    """The decoded image, reduced to WORK_SIDE a side at most; ImageError with one line for anything else."""
    path, shown = Path(path), shown_name(path)
    if path.is_symlink() and not path.exists():
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ImageError(f"{shown}: a symbolic link that loops back on itself") from None
        raise ImageError(f"{shown}: a symbolic link to {shown_name(os.readlink(path))}, which does not exist")
    if path.is_dir():
        raise ImageError(f"{shown}: a folder, not an image file")
    if not path.exists():
        raise ImageError(f"{shown}: not found")
    if path.stat().st_size == 0:
        raise ImageError(f"{shown}: empty file")
    with warnings.catch_warnings():
        # Our own size limit, below Pillow's, is checked from the header just after.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)  # reads the header only
        except UnidentifiedImageError:
            raise ImageError(f"{shown}: not an image Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)") from None
        except Image.DecompressionBombError:  # Pillow's own limit, far above ours
            raise ImageError(f"{shown}: larger than allowed ({MAX_SIDE:,} a side, {MAX_PIXELS // 1_000_000} "
                             f"megapixels in all); refused before decoding") from None
        except OSError as exc:
            raise ImageError(f"{shown}: cannot be read ({first_line(exc)})") from None
    width, height = image.size
    if _too_large(width, height):
        image.close()
        raise _size_refusal(shown, width, height)
    try:
        if max(width, height) > WORK_SIDE:
            image.draft(image.mode, (WORK_SIDE, WORK_SIDE))  # JPEG: decoded at a reduced scale
        image.load()
        small = _reduced(eight_bit(image))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{shown}: cannot be decoded ({first_line(exc)}); is it truncated or damaged?") from None
    if small.size != (width, height):
        small.info[ORIGINAL_SIZE] = (width, height)
    return small


WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # Pillow's 16- and 32-bit integer grey


def eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit grey image (PNG, TIFF) scaled to 8 bits, 65535 to 255 (Pillow's own conversion clips
    everything above 255 to white); any other image as it is. A 32-bit integer image is taken as 16-bit
    when its values fit, else scaled from its own largest value."""
    if image.mode not in WIDE_MODES:
        return image
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if values.max(initial=0) <= 65535 else values.max()
    grey = Image.fromarray(np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8), "L")
    grey.info.update(image.info)
    if "exif" not in grey.info and image.getexif():
        grey.info["exif"] = image.getexif().tobytes()
    return grey


def _reduced(image: Image.Image) -> Image.Image:
    """`image` box-averaged by a whole factor to WORK_SIDE a side at most (EXIF kept for rotation)."""
    factor = -(-max(image.size) // WORK_SIDE)
    if factor < 2:
        return image
    exif = image.getexif()
    if image.mode in ("P", "PA", "1"):
        image = flattened(image)
        image = image if image.mode != "P" else image.convert("RGB")
        image = image if image.mode != "1" else image.convert("L")
    try:
        small = image.reduce(factor)
    except ValueError:  # a mode reduce does not take (16-bit, CMYK, ...)
        small = image.convert("RGB").reduce(factor)
    if exif:
        small.info["exif"] = exif.tobytes()
    return small


def prepared_colour(image: Image.Image, size: tuple) -> tuple[np.ndarray, list]:
    """(uint8 [H, W, 3], notes): a colour model's input, the image as RGB over white paper where
    transparent, resized to `size` (height, width) with Pillow's bilinear filter, as the folder
    source resizes its images."""
    rgb = flattened(ImageOps.exif_transpose(image)).convert("RGB")
    notes = [] if rgb.size == (size[1], size[0]) else [f"resized from {rgb.width}x{rgb.height} to {size[1]}x{size[0]}"]
    return np.asarray(resized(rgb, size), dtype=np.uint8), notes


def resized(image: Image.Image, size: tuple) -> Image.Image:
    """`image` at (height, width) `size`; Pillow's bilinear filter, which averages when it shrinks."""
    return image if image.size == (size[1], size[0]) else image.resize((size[1], size[0]), Image.BILINEAR)


def flattened(image: Image.Image) -> Image.Image:
    """`image` with any transparency laid over white paper (then opaque RGBA); as it is otherwise."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's advice on palette transparency: this is it
            rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba)
    return image


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
