"""Generated MNIST-like datasets for tests and benchmarks: learnable, any size, no download,
written as the standard IDX files the `idx` source reads.

Each class is a fixed set of bright strokes at class-specific places; every image adds
a random shift and noise, so a small CNN learns it quickly but not trivially.
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from featuremaps.data.idx import UBYTE


def write_idx(path: str | Path, array: np.ndarray, compress: bool = False) -> None:
    """Write a uint8 array as an IDX file, gzipped when `compress`."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(">2sBB", b"\x00\x00", UBYTE, array.ndim)
    data += struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(data)


def synthetic_images(n: int, size: int = 28, n_classes: int = 10, seed: int = 0):
    """(images uint8 [n,size,size], labels uint8 [n]) with every class present when n >= n_classes."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % n_classes).astype(np.uint8)
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:size, 0:size] / size
    templates = []
    proto = np.random.default_rng(1234)
    for _ in range(n_classes):
        t = np.zeros((size, size))
        for _ in range(3):
            cy, cx = proto.uniform(0.2, 0.8, 2)
            angle = proto.uniform(0, np.pi)
            d = np.abs((yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle))
            along = np.hypot(yy - cy, xx - cx)
            t = np.maximum(t, np.exp(-(d / 0.05) ** 2) * (along < 0.3))
        templates.append(t)
    templates = np.stack(templates)
    images = np.empty((n, size, size), dtype=np.uint8)
    for start in range(0, n, 4096):
        lab = labels[start:start + 4096]
        batch = templates[lab]
        shifts = rng.integers(-2, 3, size=(len(lab), 2))
        for i, (dy, dx) in enumerate(shifts):
            batch[i] = np.roll(batch[i], (dy, dx), axis=(0, 1))
        batch = batch * rng.uniform(0.6, 1.0, (len(lab), 1, 1)) + rng.normal(0, 0.08, batch.shape)
        images[start:start + 4096] = np.clip(batch * 255, 0, 255).astype(np.uint8)
    return images, labels


def write_idx_folder(folder: str | Path, n_train: int, n_test: int = 0, size: int = 28,
                     n_classes: int = 10, compress: bool = False, seed: int = 0) -> Path:
    """A folder of standard IDX files (train-*, and t10k-* when n_test > 0)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    splits = [("train", n_train, seed)] + ([("t10k", n_test, seed + 1)] if n_test else [])
    for prefix, n, s in splits:
        images, labels = synthetic_images(n, size, n_classes, s)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels, compress)
    return folder


def grey_model(params=None, shape=(28, 28), n_classes: int = 10, mean: float = 0.13, std: float = 0.3,
               channels: int = 1):
    """A freshly initialised network (from the torch seed as it stands) for images of `shape`, its
    input normalisation `mean`/`std` on every channel."""
    from featuremaps.model.network import build_model, model_config
    from featuremaps.params import ModelParams
    return build_model(model_config(params or ModelParams(), meta_for(shape, n_classes, channels)),
                       [mean] * channels, [std] * channels)


def meta_for(shape=(28, 28), n_classes: int = 10, channels: int = 1) -> dict:
    """What model_config reads of a dataset's meta.json."""
    return {"image_shape": list(shape), "classes": [str(c) for c in range(n_classes)], "channels": channels}


SHAPE_CLASSES = ("disc", "bar", "cross")
SHAPE_COLOURS = ((230, 40, 40), (40, 200, 60), (50, 80, 230))  # one colour per class: colour is evidence


def write_shape_folder(folder: str | Path, n_per_class: int, sizes=((24, 24), (32, 28)), split: bool = False,
                       grey: bool = False, seed: int = 0) -> Path:
    """An ImageFolder-style folder of coloured shapes on black, PNG: class folders disc/, bar/, cross/
    (or train/ and val/ holding them, a quarter of each class in val), the images' sizes taken in turn
    from `sizes` (width, height)."""
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    for c, (name, colour) in enumerate(zip(SHAPE_CLASSES, SHAPE_COLOURS)):
        for i in range(n_per_class):
            w, h = sizes[i % len(sizes)]
            image = Image.new("RGB", (w, h))
            draw = ImageDraw.Draw(image)
            cx, cy, r = w / 2 + rng.uniform(-3, 3), h / 2 + rng.uniform(-3, 3), min(w, h) * rng.uniform(0.25, 0.4)
            tint = tuple(int(v) for v in np.clip(np.array(colour) * rng.uniform(0.8, 1.1), 0, 255))
            tint = (sum(tint) // 3,) * 3 if grey else tint
            if name == "disc":
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tint)
            elif name == "bar":
                draw.rectangle([cx - r, cy - r / 3, cx + r, cy + r / 3], fill=tint)
            else:
                draw.line([cx - r, cy - r, cx + r, cy + r], fill=tint, width=3)
                draw.line([cx - r, cy + r, cx + r, cy - r], fill=tint, width=3)
            part = ("val" if i % 4 == 3 else "train") if split else ""
            path = folder / part / name / f"{i:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
    return folder


BAD_FOLDERS = ("empty-class", "not-an-image", "sizes-differ", "grey-as-colour", "one-class", "non-utf8-class")


def bad_shape_folder(folder: str | Path, case: str) -> tuple[Path, dict]:
    """(folder, data params) of a small shape folder with one fault (BAD_FOLDERS): a class folder
    emptied, a text file named .png, one image of another size with no image_size, grey images
    asked for as colour, one class folder left, a class folder named with a byte that is not UTF-8."""
    from PIL import Image
    folder = write_shape_folder(folder, 3, sizes=((16, 16),), grey=case == "grey-as-colour")
    data = {"source": "folder", "folder": str(folder), "image_size": [16, 16]}
    if case == "empty-class":
        for f in (folder / "bar").iterdir():
            f.unlink()
    elif case == "not-an-image":
        (folder / "cross/notes.png").write_text("a note, not a picture")
    elif case == "sizes-differ":
        Image.new("RGB", (20, 16)).save(folder / "disc/odd.png")
        data["image_size"] = "auto"
    elif case == "grey-as-colour":
        data["channels"] = 3
    elif case == "one-class":
        import shutil
        shutil.rmtree(folder / "bar")
        shutil.rmtree(folder / "cross")
    elif case == "non-utf8-class":
        import os
        os.rename(folder / "bar", os.path.join(os.fsencode(folder), b"bad\xff"))
    return folder, data


def stored_dataset(params, download_dir: str | Path):
    """The dataset `params` (DataParams) name, through load_dataset and write_dataset (into
    download_dir/stored), read back whole: the Dataset's fields and meta, and train_images,
    train_labels, val_images, val_labels as arrays."""
    from types import SimpleNamespace
    from featuremaps.data.sources import load_dataset
    from featuremaps.data.store import read_split, write_dataset
    ds = load_dataset(params, Path(download_dir))
    out = Path(download_dir) / "stored"
    meta = write_dataset(ds, out, params.source)
    arrays = {}
    for split in ("train", "val"):
        images, labels = read_split(out, split)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[:], labels
    return SimpleNamespace(name=ds.name, classes=ds.classes, source=ds.source, val_origin=ds.val_origin,
                           notes=ds.notes, meta=meta, **arrays)
