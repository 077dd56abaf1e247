"""A folder of images as a dataset, in the layout torchvision's ImageFolder reads:

    FOLDER/train/<class>/*.png|jpg|...   and   FOLDER/val/<class>/*      (the val split given)
    FOLDER/<class>/*                                                     (val held out, stratified)

Class names are the folder names, sorted (ImageFolder's order), at least two, valid UTF-8. Hidden
files and folders (a name starting with ".": .git, .ipynb_checkpoints, .thumbnails) are skipped at
every depth. Every other file in a class folder must be an image Pillow reads; each is opened with
its size checked from the header (featuremaps.data.decode.opened_image, 16-bit scaled to 8),
laid over white where transparent, made grey or RGB (data.channels: auto takes RGB when some
pixel's channels differ by more than COLOUR_TOLERANCE grey levels) and resized to data.image_size
(auto: the first image's size; then images of another size are refused, naming one).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from featuremaps.errors import DatasetError
from featuremaps.data.decode import ImageError, flattened, opened_image, resized, shown_name


MIN_CLASSES = 2
# A pixel whose channels differ by more than this many grey levels is colour: lossy formats (JPEG,
# WebP) add a level or two of colour noise to grey images, which must not make a grey dataset colour.
COLOUR_TOLERANCE = 8


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _class_files(folder: Path) -> list:
    """The files under a class folder, hidden files and folders skipped at every depth, in ImageFolder's
    order (walked folders sorted by path, their files by name)."""
    walked = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        walked.append((dirpath, [f for f in filenames if _visible(f)]))
    return [Path(dirpath, name) for dirpath, names in sorted(walked) for name in sorted(names)]


def not_utf8_name(folder: str | Path) -> Path | None:
    """The first file or folder under `folder` (hidden ones too: DVC hashes the whole folder) whose name is
    not valid UTF-8, or None."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames) + sorted(filenames):
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return Path(dirpath, name)
    return None


def check_names(folder: str | Path) -> None:
    """DatasetError with one line for a name under `folder` that is not valid UTF-8: DVC cannot hash it, and
    class names are written to CSV, JSON and the report."""
    bad = not_utf8_name(folder)
    if bad is not None:
        kind = "class folder" if bad.parent == Path(folder) and bad.is_dir() else "file or folder"
        raise DatasetError(f"{shown_name(bad)}: a {kind} whose name is not valid UTF-8; rename it (DVC, which "
                           f"watches data.folder, and the report need UTF-8 names)")


def _classes(root: Path) -> tuple[list, list]:
    """(class names, [(file, class index)]) of an ImageFolder-style folder: its visible subfolders, sorted."""
    check_names(root)
    folders = sorted((d for d in root.iterdir() if d.is_dir() and _visible(d.name)), key=lambda d: d.name)
    if len(folders) < MIN_CLASSES:
        found = f"only one class folder, {folders[0].name}" if folders else "no class folders"
        raise DatasetError(f"{shown_name(root)}: {found}; expected at least {MIN_CLASSES} (<class>/<image> inside)")
    samples = []
    for c, d in enumerate(folders):
        files = _class_files(d)
        if not files:
            raise DatasetError(f"{shown_name(d)}: an empty class folder; every class needs at least one image")
        samples += [(f, c) for f in files]
    return [d.name for d in folders], samples


def _colour_spread(rgb: np.ndarray) -> int:
    """The largest difference between a pixel's channels, in grey levels (0 for an exactly grey image)."""
    return int((rgb.max(-1).astype(np.int16) - rgb.min(-1)).max())


def _opened(path: Path) -> Image.Image:
    try:
        return flattened(opened_image(path))
    except ImageError as exc:
        raise DatasetError(str(exc)) from None


def header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header; a file Pillow cannot open gets opened_image's one line."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001: opened_image says what is wrong with it, in one line
        opened_image(path)
        raise


def listed_files(folder: str | Path) -> tuple[list, dict]:
    """(class names, {split: [(file, class index)]}): train and val when the folder has both, else "all"."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"data.folder = {str(folder)!r} is not a folder; set it to a folder of class folders "
                           f"(<class>/<image>) or of train/ and val/ holding them")
    names = {d.name for d in root.iterdir() if d.is_dir()}
    parts = {"train": root / "train", "val": root / "val"} if {"train", "val"} <= names else {"all": root}
    listed = {split: _classes(path) for split, path in parts.items()}
    classes = listed.get("train", listed.get("all"))[0]
    if "val" in listed and listed["val"][0] != classes:
        raise DatasetError(f"{shown_name(parts['val'])}: classes {', '.join(listed['val'][0])}; expected those of "
                           f"train/: {', '.join(classes)}")
    return classes, {split: files for split, (_, files) in listed.items()}


def image_size_of(listed: dict, image_size) -> tuple:
    """(height, width) of the dataset: data.image_size, or with auto the first image's, every other
    image's header checked to match it before anything is decoded."""
    if image_size != "auto":
        return tuple(image_size)
    every = [p for files in listed.values() for p, _ in files]
    try:
        sizes = {p: header_size(p) for p in every}
    except ImageError as exc:
        raise DatasetError(str(exc)) from None
    first = every[0]
    other = next((p for p in every if sizes[p] != sizes[first]), None)
    if other is not None:
        raise DatasetError(f"{shown_name(other)}: {sizes[other][0]}x{sizes[other][1]} pixels, but {shown_name(first)} "
                           f"is {sizes[first][0]}x{sizes[first][1]}; set data.image_size: [height, width] to "
                           f"resize them all")
    return sizes[first][1], sizes[first][0]


def luma(pixels: np.ndarray) -> np.ndarray:
    """RGB images [N, H, W, 3] -> grey [N, H, W]: ITU-R 601 luma as Pillow's convert("L") (which
    gives an exactly grey pixel its own value)."""
    return np.stack([np.asarray(Image.fromarray(x).convert("L")) for x in pixels]) if len(pixels) \
        else np.zeros(pixels.shape[:3], dtype=np.uint8)


class FolderImages:
    """A folder's images decoded one at a time, in chunks, at the dataset's size (memory is a chunk's,
    whatever the number or size of the files), as RGB while data.channels is auto or 3 and grey for 1;
    `spread` is the largest colour spread of any image decoded so far (COLOUR_TOLERANCE decides)."""

    def __init__(self, size: tuple, channels, rows: int = 1024):
        self.size, self.channels, self.rows, self.spread = size, channels, rows, 0

    def shape(self, n: int) -> tuple:
        return (n, *self.size) if self.channels == 1 else (n, *self.size, 3)

    def chunks(self, files: list):
        for start in range(0, len(files), self.rows):
            pixels = np.empty((len(files[start:start + self.rows]), *self.size, 3), dtype=np.uint8)
            for i, path in enumerate(files[start:start + self.rows]):
                pixels[i] = np.asarray(resized(_opened(path).convert("RGB"), self.size))
                self.spread = max(self.spread, _colour_spread(pixels[i]))
            yield luma(pixels) if self.channels == 1 else pixels

    def grey_rewrite(self, folder):
        """After every image was decoded as RGB: None to keep them, or luma to rewrite them grey
        (data.channels auto and every image grey); data.channels 3 on grey images is refused."""
        grey = self.spread <= COLOUR_TOLERANCE
        if self.channels == 3 and grey:
            raise DatasetError(f"data.channels = 3 but every image in {shown_name(folder)} is grey (channels within "
                               f"{COLOUR_TOLERANCE} grey levels); set data.channels: 1 (or auto)")
        return luma if self.channels == "auto" and grey else None
