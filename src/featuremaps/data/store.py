"""The stored dataset: data/dataset/{train,val}.npz and meta.json, written and read back.

The Dataset record is both splits in memory, as a source delivers them.

train.npz and val.npz hold `images` uint8, [N,H,W] for grey or [N,H,W,C] for colour (as Pillow
and matplotlib take images), and `labels` uint8 [N] (uint16 for more than 256 classes); meta.json holds the dataset, the source used,
class names, counts, image_shape [H, W], channels, a sha256 per split and the train split's
per-channel pixel mean/std in [0, 1] units (the normalisation the model takes on in training).
"""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from featuremaps import paths
from featuremaps.data.layout import channels, planes
from featuremaps.errors import ArtifactError
from featuremaps.files import read_artifact, read_json, require, write_json, write_npz

SPLITS = ("train", "val")
META = "meta.json"
STAGE = paths.WRITER[paths.DATASET]
# What the later stages read from meta.json.
META_KEYS = ("dataset", "source", "classes", "image_shape", "channels", "counts", "mean", "std")


@dataclass
class Dataset:
    """Both splits in memory plus what meta.json records about where they came from."""
    name: str
    classes: list
    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    source: str
    val_origin: str
    notes: list = field(default_factory=list)


def label_dtype(n_classes: int):
    """The stored labels' type: uint8 up to 256 classes, uint16 beyond (up to MAX_CLASSES)."""
    return np.uint8 if n_classes <= 256 else np.uint16


MAX_CLASSES = 65536


def split_file(data_dir: str | Path, split: str) -> Path:
    return Path(data_dir) / f"{split}.npz"


def split_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """Content hash of one split: shape, then image bytes, then label bytes."""
    digest = hashlib.sha256(repr(images.shape).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def pixel_mean_std(images: np.ndarray) -> tuple[list, list]:
    """Per channel, the mean and std of its pixels in [0, 1] units (a std of 0 counts as 1)."""
    stats = [_plane_mean_std(plane) for plane in planes(images)]
    return [m for m, _ in stats], [s if s > 0 else 1.0 for _, s in stats]


def _plane_mean_std(images: np.ndarray) -> tuple[float, float]:
    """Mean and std of all pixels in [0, 1] units, accumulated in float64 chunk by chunk."""
    total = total_sq = 0.0
    for start in range(0, len(images), 8192):
        chunk = images[start:start + 8192].astype(np.float64) / 255.0
        total += chunk.sum()
        total_sq += np.square(chunk).sum()
    n = images.size
    mean = total / n
    return mean, float(np.sqrt(max(total_sq / n - mean * mean, 0.0)))


def write_dataset(ds: Dataset, out_dir: Path, requested_source: str) -> dict:
    """Write a Dataset as train.npz, val.npz and meta.json; return the meta."""
    mean, std = pixel_mean_std(ds.train_images)
    splits = {"train": (ds.train_images, ds.train_labels), "val": (ds.val_images, ds.val_labels)}
    meta = {
        "dataset": ds.name,
        "source": ds.source,
        "requested_source": requested_source,
        "notes": ds.notes,
        "val_split": ds.val_origin,
        "classes": ds.classes,
        "image_shape": list(ds.train_images.shape[1:3]),
        "channels": channels(ds.train_images),
        "counts": {s: int(len(y)) for s, (_, y) in splits.items()},
        "class_counts": {s: np.bincount(y, minlength=len(ds.classes)).tolist() for s, (_, y) in splits.items()},
        "sha256": {s: split_sha256(x, y) for s, (x, y) in splits.items()},
        "mean": mean,
        "std": std,
    }
    for split, (images, labels) in splits.items():
        write_npz(split_file(out_dir, split), images=images, labels=labels)
    write_json(Path(out_dir) / META, meta)
    return meta


def read_meta(data_dir: str | Path) -> dict:
    path = Path(data_dir) / META
    meta = read_json(path, STAGE)
    require(path, meta, list(META_KEYS), "key", STAGE)
    return meta


def _load_split(path: Path):
    with np.load(path, allow_pickle=False) as npz:
        return npz["images"], npz["labels"]


def read_split(data_dir: str | Path, split: str):
    """(images uint8 [N,H,W] or [N,H,W,C], labels uint8 or uint16 [N]) of one stored split."""
    path = split_file(data_dir, split)
    images, labels = read_artifact(path, _load_split, what="a dataset split with images and labels", stage=STAGE,
                                   errors=(OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile))
    if images.dtype != np.uint8 or labels.dtype not in (np.uint8, np.uint16) or labels.ndim != 1 \
            or len(images) != len(labels) \
            or not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] in (1, 3))):
        raise ArtifactError(f"{path}: images {images.dtype} {list(images.shape)} and labels {labels.dtype} "
                            f"{list(labels.shape)}; expected uint8 [N,H,W] or [N,H,W,C] (C = 1 or 3) and "
                            f"uint8 or uint16 [N]; rerun the {STAGE} stage")
    return images, labels
