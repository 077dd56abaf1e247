import gzip
import math
import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from featuremaps.errors import DatasetError
from featuremaps.data.idx import MAX_BYTES, read_idx
from synthetic import write_idx


@pytest.fixture
def images():
    return np.arange(5 * 7 * 6, dtype=np.uint8).reshape(5, 7, 6)


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path, images, compress):
    path = tmp_path / ("x.gz" if compress else "x")
    write_idx(path, images, compress)
    out = read_idx(path, 3)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 6)
    np.testing.assert_array_equal(out, images)


def test_labels_are_one_dimensional(tmp_path):
    write_idx(tmp_path / "l", np.array([3, 1, 4, 1, 5], dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(tmp_path / "l", 1), [3, 1, 4, 1, 5])
    with pytest.raises(DatasetError, match="magic number 0x00000801; expected 0x00000803"):
        read_idx(tmp_path / "l", 3)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated(tmp_path, images, compress):
    full = tmp_path / "full"
    write_idx(full, images)
    data = full.read_bytes()[:-10]
    path = tmp_path / "cut"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DatasetError, match=r"cut: IDX header says shape \(5, 7, 6\) = 226 bytes but the (file|data) has 216"):
        read_idx(path, 3)


def test_trailing_bytes_are_refused(tmp_path, images):
    path = tmp_path / "long"
    write_idx(path, images)
    path.write_bytes(path.read_bytes() + b"xx")
    with pytest.raises(DatasetError, match="the file has 228"):
        read_idx(path, 3)


def test_wrong_magic(tmp_path, images):
    path = tmp_path / "bad"
    write_idx(path, images)
    data = bytearray(path.read_bytes())
    data[2] = 0x0D  # float32 instead of unsigned bytes
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"bad: bad IDX magic number 0x00000d03; expected 0x00000803"):
        read_idx(path, 3)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape, claimed", [((4_000_000_000, 28, 28), "3136000000000"),
                                            # 2**64 bytes: overflows a 64-bit product to a small number
                                            ((2**32 - 1, 2**16, 2**16), "18446744069414584320")])
def test_oversized_header_allocates_nothing(tmp_path, compress, shape, claimed):
    # The header claims billions of images; the reader must refuse before allocating anything.
    data = struct.pack(">2sBBIII", b"\0\0", 8, 3, *shape) + b"\0" * 100
    path = tmp_path / "huge"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DatasetError, match=rf"huge: IDX header claims shape \({', '.join(map(str, shape))}\) "
                                           rf"\({claimed} bytes\); at most 4294967296 bytes are allowed"):
        read_idx(path, 3)


def test_header_larger_than_file(tmp_path):
    data = struct.pack(">2sBBIII", b"\0\0", 8, 3, 1000, 28, 28) + b"\0" * 784
    path = tmp_path / "short"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match="784016 bytes but the file has 800"):
        read_idx(path, 3)


def test_missing_and_empty(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        read_idx(tmp_path / "nope", 3)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DatasetError, match="no header"):
        read_idx(tmp_path / "empty", 3)


def test_corrupt_gzip(tmp_path, images):
    path = tmp_path / "x.gz"
    write_idx(path, images, compress=True)
    data = bytearray(path.read_bytes())
    data[20:40] = b"\xff" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="x.gz"):
        read_idx(path, 3)


def expected_array(data: bytes, ndim: int):
    """What a correct reader returns for these (uncompressed) bytes: the array, or None where the
    file is invalid. An independent reading of the format, for the fuzzers' oracle."""
    header = 4 + 4 * ndim
    if len(data) < header or data[:4] != bytes([0, 0, 8, ndim]):
        return None
    shape = struct.unpack(f">{ndim}I", data[4:header])
    size = math.prod(shape)
    if size > MAX_BYTES or size != len(data) - header:
        return None
    if math.prod(d for d in shape if d) > MAX_BYTES:  # an empty array of a shape numpy cannot hold
        return None
    return np.frombuffer(data[header:], dtype=np.uint8).reshape(shape)


def check_against_oracle(path, data: bytes, ndim: int) -> None:
    expected = expected_array(data, ndim)
    if expected is None:
        with pytest.raises(DatasetError, match=re.escape(str(path))):
            read_idx(path, ndim)
    else:
        out = read_idx(path, ndim)
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, expected)


def write_maybe_gzipped(folder, data: bytes, compress: bool):
    path = folder / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | st.builds(lambda n, b: struct.pack(">2sBBI", b"\0\0", 8, 1, n) + b,
                                                   st.integers(0, 8), st.binary(max_size=8)),
       ndim=st.sampled_from([1, 3]), compress=st.booleans())
def test_fuzz_random_bytes(tmp_path_factory, data, ndim, compress):
    check_against_oracle(write_maybe_gzipped(tmp_path_factory.mktemp("fuzz"), data, compress), data, ndim)


@settings(max_examples=300, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       cut=st.integers(0, 400), compress=st.booleans())
def test_fuzz_mutated_valid_file(tmp_path_factory, flips, cut, compress):
    images = np.random.default_rng(0).integers(0, 256, (4, 9, 9), dtype=np.uint8)
    folder = tmp_path_factory.mktemp("mut")
    write_idx(folder / "ok", images)
    data = bytearray((folder / "ok").read_bytes())
    for pos, value in flips:
        data[pos % len(data)] = value
    data = bytes(data[: len(data) - cut % len(data)])
    check_against_oracle(write_maybe_gzipped(folder, data, compress), data, 3)


@settings(max_examples=300, deadline=None)
@given(dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 40), min_size=3, max_size=3),
       body=st.integers(0, 2000) | st.just("exact"), compress=st.booleans())
def test_fuzz_header_dimensions(tmp_path_factory, dims, body, compress):
    """Any claimed shape, huge (products past 2**63) or zero, with a body of any length or of
    exactly the claimed size: an array of exactly that shape, or DatasetError."""
    if body == "exact":
        body = min(math.prod(dims), 5000)
    data = struct.pack(">2sBB3I", b"\0\0", 8, 3, *dims) + bytes(range(256)) * (body // 256) + bytes(body % 256)
    check_against_oracle(write_maybe_gzipped(tmp_path_factory.mktemp("dims"), data, compress), data, 3)
