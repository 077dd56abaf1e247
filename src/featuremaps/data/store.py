"""The stored dataset: data/dataset/{train,val}_{images,labels}.npy and meta.json, written as a
source delivers its images and read back a batch at a time.

{split}_images.npy holds uint8 [N,H,W] for grey or [N,H,W,C] for colour (as Pillow and matplotlib
take images), {split}_labels.npy uint8 [N] (uint16 for more than 256 classes). read_split gives the
labels as an array and the images as a StoredImages reader (featuremaps.data.stored_images), so no
stage holds a split in memory. meta.json holds the dataset, the source used, class names, counts,
image_shape [H, W], channels, a sha256 per split (of repr(shape), the image bytes, the label bytes;
computed while writing) and the train split's per-channel pixel mean/std in [0, 1] units (the
normalisation the model takes on in training).

A source delivers each split as a SourceSplit: its labels, the images' shape and an iterator of
chunks of images in order. write_dataset writes everything into a temporary folder that replaces
data/dataset only when complete (featuremaps.files.atomic_folder): a killed download leaves no
split a later stage could read as whole.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from featuremaps import paths
from featuremaps import memory
from featuremaps.data.layout import planes
from featuremaps.data.stored_images import StoredImages
from featuremaps.errors import ArtifactError
from featuremaps.files import atomic_folder, read_artifact, read_json, require, write_json

SPLITS = ("train", "val")
META = "meta.json"
STAGE = paths.WRITER[paths.DATASET]
# What the later stages read from meta.json.
META_KEYS = ("dataset", "source", "classes", "image_shape", "channels", "counts", "mean", "std")
MAX_CLASSES = 65536
MEAN_STD_CHUNK = 8192  # images per chunk of the float64 mean/std


@dataclass
class SourceSplit:
    """One split as a source delivers it: labels in memory, images as chunks in order."""
    labels: np.ndarray
    shape: tuple                                  # the images' [N, H, W] or [N, H, W, C]
    chunks: Callable[[], Iterator[np.ndarray]]    # uint8 arrays of that shape's rows, in order

    def __post_init__(self):
        self.shape = tuple(int(d) for d in self.shape)


def in_memory(images: np.ndarray, labels: np.ndarray, rows: int = 8192) -> SourceSplit:
    """A split a source already holds as arrays."""
    return SourceSplit(labels, images.shape,
                       lambda: (images[start:start + rows] for start in range(0, len(images), rows)))


@dataclass
class Dataset:
    """Both splits as a source delivers them, plus what meta.json records about where they came from.
    `finish()`, when given, is called once every image is written, before meta.json; it may return
    a function that rewrites each split's images chunk by chunk (a folder's grey images, known to be
    grey only once every image was seen)."""
    name: str
    classes: list
    train: SourceSplit
    val: SourceSplit
    source: str
    val_origin: str
    notes: list = field(default_factory=list)
    finish: Callable | None = None


def label_dtype(n_classes: int):
    """The stored labels' type: uint8 up to 256 classes, uint16 beyond (up to MAX_CLASSES)."""
    return np.uint8 if n_classes <= 256 else np.uint16


def split_files(data_dir: str | Path, split: str) -> tuple[Path, Path]:
    """(images file, labels file) of one stored split."""
    return Path(data_dir) / f"{split}_images.npy", Path(data_dir) / f"{split}_labels.npy"


def _write_images(path: Path, shape: tuple, chunks, convert=None):
    """Write the chunks (each converted, when `convert` is given) as one uint8 .npy of `shape` as they
    come; the split's sha256 so far (repr(shape), then the image bytes)."""
    digest = hashlib.sha256(repr(shape).encode())
    written = 0
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": shape})
        for chunk in chunks:
            chunk = np.ascontiguousarray(convert(chunk) if convert else chunk)
            if chunk.dtype != np.uint8 or chunk.shape[1:] != shape[1:] or written + len(chunk) > shape[0]:
                raise ValueError(f"a chunk of {chunk.dtype} {chunk.shape} after {written} images of {shape}")
            digest.update(chunk.data)
            fh.write(chunk.data)
            written += len(chunk)
        if written != shape[0]:
            raise ValueError(f"{written} images written of {shape}")
    return digest


def _write_split(folder: Path, split: str, shape: tuple, chunks, labels: np.ndarray, convert=None) -> str:
    """Write one split's images and labels into `folder`; its sha256."""
    images_file, labels_file = split_files(folder, split)
    digest = _write_images(images_file, shape, chunks, convert)
    digest.update(np.ascontiguousarray(labels).data)
    np.save(labels_file, labels)
    return digest.hexdigest()


def _stored_chunks(images: StoredImages, rows: int = MEAN_STD_CHUNK):
    return (images[start:start + rows] for start in range(0, len(images), rows))


def pixel_mean_std(images) -> tuple[list, list]:
    """Per channel, the mean and std of its pixels in [0, 1] units (a std of 0 counts as 1), of images
    [N, H, W] or [N, H, W, C] (an array or a StoredImages), read MEAN_STD_CHUNK images at a time."""
    sums = None
    for start in range(0, len(images), MEAN_STD_CHUNK):
        chunk = planes(images[start:start + MEAN_STD_CHUNK])
        if sums is None:
            sums = [[0.0, 0.0] for _ in chunk]
        for total, plane in zip(sums, chunk):  # accumulated in float64, chunk by chunk
            values = plane.astype(np.float64) / 255.0
            total[0] += values.sum()
            total[1] += np.square(values).sum()
    n = len(images) * int(np.prod(images.shape[1:3]))
    mean = [total / n for total, _ in sums]
    std = [float(np.sqrt(max(sq / n - m * m, 0.0))) for m, (_, sq) in zip(mean, sums)]
    return mean, [s if s > 0 else 1.0 for s in std]


def write_dataset(ds: Dataset, out_dir: Path, requested_source: str) -> dict:
    """Write a Dataset's splits as they are read from its source, then meta.json, into a folder that
    replaces `out_dir` when all is written; return the meta."""
    splits = {"train": ds.train, "val": ds.val}
    with atomic_folder(out_dir) as folder:
        digests = {split: _write_split(folder, split, s.shape, s.chunks(), s.labels) for split, s in splits.items()}
        stored = {split: StoredImages(split_files(folder, split)[0]) for split in splits}
        rewrite = ds.finish() if ds.finish else None
        if rewrite is not None:  # each split rewritten beside itself, then renamed over it
            for split, s in splits.items():
                final, aside = split_files(folder, split)[0], folder / f".{split}.tmp"
                shape = rewrite(stored[split][:1]).shape[1:]
                os.replace(final, aside)
                source = StoredImages(aside)
                digests[split] = _write_split(folder, split, (len(source), *shape), _stored_chunks(source), s.labels,
                                              rewrite)
                del source
                os.unlink(aside)
            stored = {split: StoredImages(split_files(folder, split)[0]) for split in splits}
        train = stored["train"]
        mean, std = pixel_mean_std(train)
        meta = {
            "dataset": ds.name,
            "source": ds.source,
            "requested_source": requested_source,
            "notes": ds.notes,
            "val_split": ds.val_origin,
            "classes": ds.classes,
            "image_shape": list(train.shape[1:3]),
            "channels": 1 if train.ndim == 3 else int(train.shape[3]),
            "counts": {split: int(len(s.labels)) for split, s in splits.items()},
            "class_counts": {split: np.bincount(s.labels, minlength=len(ds.classes)).tolist()
                             for split, s in splits.items()},
            "sha256": digests,
            "mean": mean,
            "std": std,
        }
        write_json(folder / META, meta)
    return meta


def read_meta(data_dir: str | Path) -> dict:
    path = Path(data_dir) / META
    meta = read_json(path, STAGE)
    require(path, meta, list(META_KEYS), "key", STAGE)
    return meta


def _load_labels(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def read_split(data_dir: str | Path, split: str):
    """(images, labels) of one stored split: images uint8 [N,H,W] or [N,H,W,C], an array when the split
    takes at most featuremaps.memory.IN_MEMORY_BYTES, else a StoredImages reader (read a batch at a time); labels uint8 or
    uint16 [N], in memory."""
    images_file, labels_file = split_files(data_dir, split)
    images = read_artifact(images_file, StoredImages, what="a dataset split's images (uint8 .npy)", stage=STAGE)
    labels = read_artifact(labels_file, _load_labels, what="a dataset split's labels (.npy)", stage=STAGE,
                           errors=(OSError, ValueError, EOFError))
    if labels.dtype not in (np.uint8, np.uint16) or labels.ndim != 1 or len(images) != len(labels) \
            or not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] in (1, 3))):
        raise ArtifactError(f"{images_file}: images {images.dtype} {list(images.shape)} and labels {labels.dtype} "
                            f"{list(labels.shape)}; expected uint8 [N,H,W] or [N,H,W,C] (C = 1 or 3) and "
                            f"uint8 or uint16 [N]; rerun the {STAGE} stage")
    return (images[:] if images.nbytes <= memory.IN_MEMORY_BYTES else images), labels
