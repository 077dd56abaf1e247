"""Datasets read a batch at a time: the stored split's reader against numpy, the writer's checksum and
layout, training and the exact border median from disk equal to memory, and a download killed with
SIGKILL halfway leaving the old dataset whole, then finished by `dvc repro` as an uninterrupted run."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from featuremaps.analysis.feature_vis import background_of
from featuremaps import memory
from featuremaps.data import store
from featuremaps.data.idx import idx_chunks, read_idx
from featuremaps.data.sources import load_dataset
from featuremaps.data.stored_images import StoredImages
from featuremaps.model.training import fit
from featuremaps.params import DataParams, TrainParams, params_from_dict
from synthetic import grey_model, synthetic_images, write_idx, write_idx_folder, write_shape_folder

CPU = torch.device("cpu")


@pytest.mark.parametrize("shape", [(50, 6, 5), (40, 4, 6, 3)])
def test_stored_images_index_as_numpy_does(tmp_path, shape):
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    images = StoredImages(tmp_path / "x.npy")
    assert images.shape == x.shape and len(images) == len(x) and images.ndim == x.ndim and images.nbytes == x.nbytes
    rng = np.random.default_rng(1)
    keys = [0, -1, 17, slice(None), slice(3, 9), slice(40, 400), slice(9, 3), slice(1, None, 7), slice(None, None, -3),
            [5, 2, 5, len(x) - 1], np.array([], dtype=np.int64), rng.permutation(len(x))[:23], np.arange(10, 20),
            np.array([-2, 0]), rng.random(len(x)) > 0.5]
    for key in keys:
        np.testing.assert_array_equal(images[key], x[key], err_msg=repr(key))
    for bad in (len(x), -len(x) - 1, [0, len(x)]):
        with pytest.raises(IndexError):
            images[bad]
    with pytest.raises(TypeError, match="read in batches"):
        np.asarray(images)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:-1])
    with pytest.raises(ValueError, match="but its header says"):
        StoredImages(tmp_path / "cut.npy")


def test_a_split_larger_than_the_budget_is_read_from_disk(tmp_path, monkeypatch):
    folder = write_idx_folder(tmp_path / "idx", 60, 20)
    store.write_dataset(load_dataset(DataParams(source="idx", idx_dir=str(folder)), tmp_path), tmp_path / "out", "idx")
    images, labels = store.read_split(tmp_path / "out", "train")
    assert isinstance(images, np.ndarray)  # 47 KB: read whole
    monkeypatch.setattr(memory, "IN_MEMORY_BYTES", images.nbytes - 1)
    streamed, same_labels = store.read_split(tmp_path / "out", "train")
    assert isinstance(streamed, StoredImages)
    np.testing.assert_array_equal(streamed[:], images)
    np.testing.assert_array_equal(same_labels, labels)


def test_the_writer_hashes_and_stores_what_the_chunks_hold(tmp_path):
    """Chunks of any size: the files are numpy's own .npy of the split, the sha256 that of repr(shape),
    the image bytes and the label bytes, and the mean/std numpy's over every pixel."""
    x, y = synthetic_images(100, size=12, seed=3)
    vx, vy = synthetic_images(9, size=12, seed=4)
    split = lambda images, labels, rows: store.SourceSplit(  # noqa: E731
        labels, images.shape, lambda: (images[i:i + rows] for i in range(0, len(images), rows)))
    ds = store.Dataset("d", [str(c) for c in range(10)], split(x, y, 7), split(vx, vy, 1), "idx", "given")
    meta = store.write_dataset(ds, tmp_path / "out", "idx")
    np.testing.assert_array_equal(np.load(tmp_path / "out/train_images.npy"), x)
    np.testing.assert_array_equal(np.load(tmp_path / "out/val_labels.npy"), vy)
    assert meta["sha256"]["train"] == hashlib.sha256(b"(100, 12, 12)" + x.tobytes() + y.tobytes()).hexdigest()
    assert meta["sha256"]["val"] == hashlib.sha256(b"(9, 12, 12)" + vx.tobytes() + vy.tobytes()).hexdigest()
    assert meta["mean"] == [pytest.approx(x.mean() / 255, abs=1e-12)]
    assert meta["std"] == [pytest.approx((x / 255).std(), abs=1e-9)]
    # a source that delivers fewer images than it announced writes nothing
    short = store.SourceSplit(y, (101, 12, 12), lambda: iter([x]))
    with pytest.raises(ValueError, match="100 images written of"):
        store.write_dataset(store.Dataset("d", ds.classes, short, ds.val, "idx", "given"), tmp_path / "out", "idx")
    assert json.loads((tmp_path / "out/meta.json").read_text()) == meta
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


def test_idx_files_stream_in_chunks(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (23, 5, 4)).astype(np.uint8)
    for compress in (False, True):
        write_idx(tmp_path / "x", x, compress=compress)
        chunks = list(idx_chunks(tmp_path / "x", 3, rows=5))
        assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
        np.testing.assert_array_equal(np.concatenate(chunks), x)
        np.testing.assert_array_equal(read_idx(tmp_path / "x", 3), x)


def test_training_from_disk_is_training_from_memory(tmp_path):
    """The same seeded order and the same inputs: bit-identical weights and history."""
    x, y = synthetic_images(300)
    vx, vy = synthetic_images(70, seed=1)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "vx.npy", vx)
    results = []
    for images, val in ((x, vx), (StoredImages(tmp_path / "x.npy"), StoredImages(tmp_path / "vx.npy"))):
        torch.manual_seed(0)
        model = grey_model()
        result = fit(model, images, y, val, vy, TrainParams(epochs=2, batch_size=32, rescore_train=True), 0, CPU)
        results.append(result)
    a, b = results
    assert a.history == b.history and a.best_epoch == b.best_epoch
    assert all(torch.equal(a.best_state[k], b.best_state[k]) for k in a.best_state)
    np.testing.assert_array_equal(a.val_predictions, b.val_predictions)


@pytest.mark.parametrize("shape", [(7, 5, 6), (8, 6, 5, 3), (1, 4, 4)])
def test_border_median_counted_per_level_is_numpys(shape):
    x = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    c = x if x.ndim == 4 else x[..., None]
    border = np.concatenate([c[:, 0], c[:, -1], c[:, :, 0], c[:, :, -1]], axis=1)
    expected = np.median(border.reshape(-1, c.shape[-1]), axis=0) / 255
    for batch in (1, 3, 8192):
        np.testing.assert_array_equal(background_of(x, batch), expected)
    even = np.zeros((2, 4, 4), np.uint8)  # an even count whose middle two differ: their mean
    even[0] = 10
    assert background_of(even)[0] == pytest.approx(5 / 255)


def _dataset_files(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_download_killed_while_writing_leaves_the_old_dataset_and_dvc_repro_finishes_it(baseline, tmp_path):
    repo = baseline
    before = _dataset_files(repo.path / "data/dataset")
    folder = write_shape_folder(tmp_path / "shapes", 1200, sizes=((16, 16),))
    repo.set_params(data={"source": "folder", "folder": str(folder), "image_size": [16, 16]})
    proc = subprocess.Popen([sys.executable, "stages/download.py"], cwd=repo.path, stderr=subprocess.PIPE)
    header = 128  # a .npy header; more than that: a chunk of images is written
    partial = None
    while partial is None and proc.poll() is None:  # until the first chunk is on disk, however slow the machine
        written = [p for p in (repo.path / "data").glob(".dataset.*.tmp/train_images.npy") if p.stat().st_size > header]
        partial = written[0] if written else None
    assert partial is not None, proc.communicate()[1].decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert partial.stat().st_size < header + 3000 * 16 * 16 * 3  # killed halfway through the split
    assert _dataset_files(repo.path / "data/dataset") == before  # what stages read is the old dataset, whole
    assert "download" in repo.status()
    repo.repro("download")
    assert not list((repo.path / "data").glob(".dataset.*"))  # the killed run's folder is gone
    after = _dataset_files(repo.path / "data/dataset")
    params = params_from_dict({"data": {"source": "folder", "folder": str(folder), "image_size": [16, 16]}}).data
    store.write_dataset(load_dataset(params, tmp_path / "dl"), tmp_path / "uninterrupted", "folder")
    assert after == _dataset_files(tmp_path / "uninterrupted")
    assert json.loads(after["meta.json"])["counts"] == {"train": 3000, "val": 600}
