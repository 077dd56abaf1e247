"""Reader for the IDX format of MNIST-like datasets, plain or gzipped.

The header (magic number, dimensions) is checked against the file's length before
any array is allocated, so a corrupt or hostile file costs no memory and ends in one
DatasetError naming it.
"""
from __future__ import annotations

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
    path = Path(path)
    try:
        fh, gzipped = _open(path)
        with fh:
            return _read(fh, path, ndim, None if gzipped else path.stat().st_size)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise DatasetError(f"{path}: file not found") from None
        raise DatasetError(f"{path}: unreadable ({exc.__class__.__name__}: {exc})") from None


def _read(fh, path: Path, ndim: int, file_size: int | None) -> np.ndarray:
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
    body = fh.read(expected + 1) if file_size is None else fh.read(expected)
    if len(body) != expected:
        raise DatasetError(f"{path}: IDX header says shape {shape} = {header + expected} bytes "
                           f"but the data has {header + len(body)}{' or more' if len(body) > expected else ''}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape).copy()

