"""A stored split's images, read a batch at a time: the uint8 .npy file behind an array-like reader.

    images = StoredImages("data/dataset/train_images.npy")
    images.shape, len(images), images[0], images[256:512], images[[7, 3, 7]]

Indexing reads only the rows asked for, with positioned reads (os.pread): a slice is one read, a list
of rows one read per run of consecutive rows, returned in the order asked. Not a memory map: the
pages of a mapped file count in the process's resident memory (its peak would grow with every image
a stage has passed over) and in its address space (`ulimit -v`). Turning the whole split into one
array (np.asarray) is refused: read it in batches.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


class StoredImages:
    """The images of a .npy file of uint8 [N, H, W] or [N, H, W, C], read as they are indexed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(fh)
            self.offset = fh.tell()
        if fortran_order or dtype != np.uint8:
            raise ValueError(f"{'Fortran-ordered ' if fortran_order else ''}{dtype} array; expected C-ordered uint8")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(np.uint8)
        self.row_bytes = math.prod(self.shape[1:])
        size = os.path.getsize(self.path)
        if size != self.offset + len(self) * self.row_bytes:
            raise ValueError(f"{size} bytes, but its header says {self.offset + len(self) * self.row_bytes}")
        self._fd = os.open(self.path, os.O_RDONLY)

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __getstate__(self):  # a copy in another process opens the file itself
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return len(self) * self.row_bytes

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self.path}: a stored split is read in batches (images[start:stop] or images[indices]), "
                        f"not as one array")

    def __iter__(self):
        raise TypeError(f"{self.path}: a stored split is read in batches, not image by image")

    def __repr__(self) -> str:
        return f"StoredImages({str(self.path)!r}, shape={self.shape})"

    def _read(self, start: int, count: int) -> np.ndarray:
        """Rows start .. start + count as [count, ...]."""
        want = count * self.row_bytes
        buf = bytearray(want)
        view, done = memoryview(buf), 0
        while done < want:  # pread may return less than asked
            got = os.preadv(self._fd, [view[done:]], self.offset + start * self.row_bytes + done)
            if got == 0:
                raise ValueError(f"{self.path}: ended {want - done} bytes early; rerun the download stage")
            done += got
        return np.frombuffer(buf, dtype=np.uint8).reshape(count, *self.shape[1:])

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, (int, np.integer)):
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"index {int(key)} is out of bounds for {n} images")
            return self._read(i, 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return self._read(start, max(stop - start, 0))
            key = np.arange(start, stop, step)
        rows = np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (n,):
                raise IndexError(f"a boolean index of shape {rows.shape} for {n} images")
            rows = np.flatnonzero(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise IndexError(f"index {key!r}: expected an int, a slice or a 1-d array of rows")
        rows = np.where(rows < 0, rows + n, rows).astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"rows out of bounds for {n} images")
        wanted, where = np.unique(rows, return_inverse=True)
        if not len(wanted):
            return np.empty((0, *self.shape[1:]), dtype=np.uint8)
        out = np.empty((len(wanted), *self.shape[1:]), dtype=np.uint8)
        # one read per run of consecutive rows
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        for first, last in zip(np.r_[0, breaks], np.r_[breaks, len(wanted)]):
            out[first:last] = self._read(int(wanted[first]), int(last - first))
        return out if len(wanted) == len(rows) and np.array_equal(wanted, rows) else out[where.reshape(-1)]
