"""An image file opened as a dataset or a command reads it, with one line for anything wrong:

    image = opened_image(path)   # ImageError naming the file: missing, empty, not an image, too large, damaged

Its size is checked from the header before any pixel is decoded (at most MAX_SIDE a side and
MAX_PIXELS in all); 16-bit grey is scaled to 8 bits (65535 to 255), not clipped; an image larger
than WORK_SIDE is reduced to it (box average) before anything else, so what it costs beyond its
decoding does not grow with its size. `flattened` lays transparency over white paper, `resized`
takes it to a size with Pillow's bilinear filter (as the folder source and `featuremaps image` do).
"""
from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from featuremaps.errors import FeaturemapsError, first_line

MAX_SIDE = 10_000         # pixels a side; a larger image is refused from its header
MAX_PIXELS = 100_000_000  # in all (10,000 x 10,000): decoded, at most 400 MB (4 bytes a pixel)
WORK_SIDE = 2_048         # a larger image is reduced to this before it is prepared
ORIGINAL_SIZE = "featuremaps.original_size"  # set in a reduced image's info


class ImageError(FeaturemapsError):
    """An image file that cannot be used: missing, empty, not an image, too large, damaged."""


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
