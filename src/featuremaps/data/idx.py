"""Reader for the IDX format of MNIST-like datasets, plain or gzipped.

The header (magic number, dimensions) is checked against the file's length before
any array is allocated, so a corrupt or hostile file costs no memory and ends in one
DatasetError naming it. idx_chunks reads the array a chunk of rows at a time, so a file larger
than memory streams.
"""
from __future__ import annotations

import contextlib
import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from featuremaps.errors import DatasetError

UBYTE = 0x08
# Larger than any MNIST-like file, small enough that a hostile header cannot exhaust memory.
MAX_BYTES = 4 << 30


def _open(path: Path):
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb"), gzipped


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """The uint8 array stored in IDX file `path`, which must have `ndim` dimensions."""
    shape = idx_shape(path, ndim)
    chunks = list(idx_chunks(path, ndim))
    return np.concatenate(chunks) if chunks else np.zeros(shape, dtype=np.uint8)


def idx_shape(path: str | Path, ndim: int) -> tuple:
    """The shape in IDX file `path`'s header, checked (and against the file's length when not gzipped)."""
    with _opened(Path(path)) as (fh, path, file_size):
        return _header(fh, path, ndim, file_size)


def idx_chunks(path: str | Path, ndim: int, rows: int = 8192):
    """The array in IDX file `path`, `rows` rows at a time, read as they are yielded; a file whose data
    is shorter or longer than its header says ends in a DatasetError."""
    with _opened(Path(path)) as (fh, path, file_size):
        shape = _header(fh, path, ndim, file_size)
        row_bytes = math.prod(shape[1:])
        header, expected, done = 4 + 4 * ndim, math.prod(shape), 0
        while done < expected:
            want = min(rows * row_bytes, expected - done) if row_bytes else expected - done
            body = fh.read(want)
            if len(body) != want:
                raise DatasetError(f"{path}: IDX header says shape {shape} = {header + expected} bytes "
                                   f"but the data has {header + done + len(body)}")
            done += want
            yield np.frombuffer(body, dtype=np.uint8).reshape(-1, *shape[1:]).copy()
        if file_size is None and fh.read(1):
            raise DatasetError(f"{path}: IDX header says shape {shape} = {header + expected} bytes "
                               f"but the data has {header + expected + 1} or more")


@contextlib.contextmanager
def _opened(path: Path):
    """(file object, path, its size or None when gzipped); an unreadable file ends in a DatasetError."""
    try:
        fh, gzipped = _open(path)
        with fh:
            yield fh, path, None if gzipped else path.stat().st_size
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise DatasetError(f"{path}: file not found") from None
        raise DatasetError(f"{path}: unreadable ({exc.__class__.__name__}: {exc})") from None


def _header(fh, path: Path, ndim: int, file_size: int | None) -> tuple:
    magic = fh.read(4)
    if len(magic) < 4:
        raise DatasetError(f"{path}: truncated IDX file ({len(magic)} bytes, no header)")
    zero, dtype, dims = magic[:2], magic[2], magic[3]
    if zero != b"\x00\x00" or dtype != UBYTE or dims != ndim:
        raise DatasetError(
            f"{path}: bad IDX magic number 0x{magic.hex()}; expected 0x0000080{ndim} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
    raw_shape = fh.read(4 * ndim)
    if len(raw_shape) < 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header ({4 + len(raw_shape)} of {4 + 4 * ndim} bytes)")
    shape = struct.unpack(f">{ndim}I", raw_shape)
    header = 4 + 4 * ndim
    expected = math.prod(shape)  # Python ints: a hostile header cannot overflow it
    if expected > MAX_BYTES:
        raise DatasetError(f"{path}: IDX header claims shape {shape} ({expected} bytes); "
                           f"at most {MAX_BYTES} bytes are allowed")
    # numpy refuses a shape whose nonzero dimensions multiply past its limit, even with a zero among them
    if math.prod(d for d in shape if d) > MAX_BYTES:
        raise DatasetError(f"{path}: IDX header claims shape {shape}, dimensions of more than {MAX_BYTES} "
                           f"bytes together")
    if file_size is not None and file_size != header + expected:
        raise DatasetError(f"{path}: IDX header says shape {shape} = {header + expected} bytes "
                           f"but the file has {file_size}")
    return shape
