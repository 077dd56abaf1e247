"""A folder of images as a dataset, in the layout torchvision's ImageFolder reads:

    FOLDER/train/<class>/*.png|jpg|...   and   FOLDER/val/<class>/*      (the val split given)
    FOLDER/<class>/*                                                     (val held out, stratified)

Class names are the folder names, sorted (ImageFolder's order). Every file in a class folder must
be an image Pillow reads (hidden files aside); each is opened with its size checked from the header
(featuremaps.image.prepare.opened_image), laid over white where transparent, made grey or RGB
(data.channels: auto takes RGB when any image has colour) and resized to data.image_size (auto: the
first image's size; then images of another size are refused, naming one).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from featuremaps.errors import DatasetError
from featuremaps.image.prepare import ImageError, flattened, opened_image, resized, shown_name


def _classes(root: Path) -> tuple[list, list]:
    """(class names, [(file, class index)]) of an ImageFolder-style folder, through torchvision."""
    from torchvision.datasets import ImageFolder
    empty = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
             and not any(f.is_file() and not f.name.startswith(".") for f in d.rglob("*"))]
    if empty:
        raise DatasetError(f"{shown_name(empty[0])}: an empty class folder; every class needs at least one image")
    try:
        found = ImageFolder(str(root), loader=lambda p: p, is_valid_file=lambda p: not Path(p).name.startswith("."))
    except FileNotFoundError as exc:
        raise DatasetError(f"{shown_name(root)}: no class folders ({exc}); expected <class>/<image> inside") from None
    return list(found.classes), [(Path(p), int(c)) for p, c in found.samples]


def _is_grey(rgb: np.ndarray) -> bool:
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


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


def folder_images(folder: str | Path, image_size, channels) -> tuple[list, dict]:
    """(class names, {split: (images uint8 [N, H, W] or [N, H, W, 3], labels uint8 [N])}); the splits
    are train and val when the folder has both, else all under "all". Images are decoded one at a
    time and kept at the dataset's size, so memory is the dataset's, whatever the files' sizes."""
    classes, listed = listed_files(folder)
    if image_size == "auto":  # one size for all, read from the headers before anything is decoded
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
        size = (sizes[first][1], sizes[first][0])
    else:
        size = tuple(image_size)
    out, grey = {}, True
    for split, files in listed.items():
        pixels = np.empty((len(files), *size, 3), dtype=np.uint8)
        for i, (path, _) in enumerate(files):
            pixels[i] = np.asarray(resized(_opened(path).convert("RGB"), size))
            grey = grey and _is_grey(pixels[i])
        out[split] = (pixels, np.array([c for _, c in files], dtype=np.uint8))
    if channels == 3 and grey:
        raise DatasetError(f"data.channels = 3 but every image in {shown_name(folder)} is grey; set data.channels: 1 "
                           f"(or auto)")
    if channels == 1 or (channels == "auto" and grey):
        # grey images: any channel; colour ones: ITU-R 601 luma, as Pillow's convert("L")
        out = {split: (np.stack([np.asarray(Image.fromarray(x).convert("L")) for x in pixels]) if not grey
                       else np.ascontiguousarray(pixels[..., 0]), labels)
               for split, (pixels, labels) in out.items()}
    return classes, out

