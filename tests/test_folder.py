"""A folder of images as a dataset (data.source: folder): ImageFolder's layout, resizing, grey or
colour, and every bad folder refused with one line naming the file; CIFAR-10 through torchvision with
the network call replaced."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from featuremaps.data import sources
from featuremaps.data.folder import FolderImages
from featuremaps.data.sources import load_dataset
from featuremaps.errors import DatasetError
from featuremaps.params import params_from_dict
from synthetic import SHAPE_CLASSES, bad_shape_folder, stored_dataset, write_shape_folder


def data_params(folder, **kw):
    return params_from_dict({"data": {"source": "folder", "folder": str(folder), **kw}}).data


def test_class_folders_resized_to_one_size_in_colour(tmp_path):
    folder = write_shape_folder(tmp_path / "shapes", 8)
    ds = stored_dataset(data_params(folder, image_size=[20, 24]), tmp_path)
    assert ds.classes == sorted(SHAPE_CLASSES) and ds.name == "shapes"
    assert ds.train_images.shape[1:] == (20, 24, 3) and ds.train_images.dtype == np.uint8
    assert len(ds.train_images) + len(ds.val_images) == 24
    assert sorted(np.bincount(ds.val_labels).tolist()) == [1, 1, 1]  # stratified: 1/6 of 8 per class, rounded
    # a resized image is Pillow's bilinear resize of the file
    path = sorted((folder / "bar").iterdir())[0]
    expected = np.asarray(Image.open(path).convert("RGB").resize((24, 20), Image.BILINEAR))
    all_images = np.concatenate([ds.train_images, ds.val_images])
    assert any(np.array_equal(expected, image) for image in all_images)


def test_train_and_val_folders_are_the_splits_and_grey_is_detected(tmp_path):
    folder = write_shape_folder(tmp_path / "grey", 8, sizes=((16, 16),), split=True, grey=True)
    ds = stored_dataset(data_params(folder), tmp_path)
    assert ds.train_images.shape == (18, 16, 16) and ds.val_images.shape == (6, 16, 16)
    assert ds.val_origin == "the source's test split"
    bar = ds.classes.index("bar")
    first = np.asarray(Image.open(sorted((folder / "train/bar").iterdir())[0]).convert("L"))
    assert np.array_equal(ds.train_images[np.flatnonzero(ds.train_labels == bar)[0]], first)


def test_channels_1_makes_colour_grey_as_pillow_does(tmp_path):
    folder = write_shape_folder(tmp_path / "shapes", 4, sizes=((16, 16),))
    paths = sorted((folder / "bar").iterdir())
    images = np.concatenate(list(FolderImages((16, 16), 1, rows=3).chunks(paths)))
    assert images.shape == (4, 16, 16)
    assert all(np.array_equal(x, np.asarray(Image.open(p).convert("L"))) for x, p in zip(images, paths))
    # and so does the stored dataset with data.channels: 1
    ds = stored_dataset(data_params(folder, channels=1), tmp_path)
    assert ds.train_images.ndim == 3 and any(np.array_equal(images[0], x) for x in ds.train_images)


@pytest.mark.parametrize("case, expect", [
    ("empty-class", "bar: an empty class folder; every class needs at least one image"),
    ("not-an-image", "cross/notes.png: not an image Pillow can read"),
    ("sizes-differ", "pixels, but "),
    ("grey-as-colour", "data.channels = 3 but every image in"),
    ("missing", "is not a folder; set it to a folder of class folders"),
])
def test_bad_folders_are_refused_in_one_line(tmp_path, case, expect):
    if case == "missing":
        data = {"source": "folder", "folder": str(tmp_path / "nowhere")}
    else:
        _, data = bad_shape_folder(tmp_path / "shapes", case)
    with pytest.raises(DatasetError) as info:
        stored_dataset(params_from_dict({"data": data}).data, tmp_path)
    assert expect in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_cifar10_through_torchvision_with_the_download_replaced(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)

    class FakeCIFAR10:
        def __init__(self, root, train, download):
            assert download
            n = 50 if train else 20
            self.data = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
            self.targets = [i % 10 for i in range(n)]

    monkeypatch.setattr(sources, "_torchvision_class", lambda name: FakeCIFAR10)
    ds = stored_dataset(params_from_dict({"data": {"source": "torchvision", "dataset": "cifar10"}}).data, tmp_path)
    assert ds.classes[0] == "airplane" and ds.classes[9] == "truck"
    assert ds.train_images.shape == (50, 32, 32, 3) and ds.val_images.shape == (20, 32, 32, 3)
    assert ds.train_labels.dtype == np.uint8 and ds.train_labels[:3].tolist() == [0, 1, 2]


def test_hidden_files_and_folders_are_skipped_at_every_depth(tmp_path):
    folder = write_shape_folder(tmp_path / "shapes", 4, sizes=((16, 16),))
    plain = stored_dataset(data_params(folder), tmp_path)
    (folder / ".git").mkdir()  # an empty .git at the root
    (folder / ".ipynb_checkpoints/x").mkdir(parents=True)  # a hidden folder that would be a class
    Image.new("L", (16, 16), 200).save(folder / ".ipynb_checkpoints/x/0.png")
    (folder / "bar/.thumbnails").mkdir()  # a hidden folder inside a class, holding an image and a non-image
    Image.new("L", (9, 9), 200).save(folder / "bar/.thumbnails/t.png")
    (folder / "bar/.thumbnails/index").write_text("not an image")
    (folder / "disc/.DS_Store").write_text("not an image")
    ds = stored_dataset(data_params(folder), tmp_path)
    assert ds.classes == plain.classes == sorted(SHAPE_CLASSES)
    assert np.array_equal(ds.train_images, plain.train_images) and np.array_equal(ds.val_labels, plain.val_labels)


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    # 25,700 of 65,535 is 100 of 255; Pillow's own convert would make it 255
    folder = tmp_path / "wide"
    for c, level in enumerate((25700, 51400)):
        (folder / f"c{c}").mkdir(parents=True)
        for i in range(3):
            pixels = np.full((8, 8), level, dtype=np.uint16)
            pixels[0, 0] = 65535
            Image.fromarray(pixels).save(folder / f"c{c}/{i}.png")
    assert Image.open(folder / "c0/0.png").mode == "I;16"
    ds = stored_dataset(data_params(folder), tmp_path)
    images = np.concatenate([ds.train_images, ds.val_images])
    labels = np.concatenate([ds.train_labels, ds.val_labels])
    assert ds.train_images.ndim == 3 and set(images[labels == 0][:, 1, 1]) == {100}
    assert set(images[labels == 1][:, 1, 1]) == {200} and set(images[:, 0, 0]) == {255}


def test_one_class_and_non_utf8_names_are_refused_in_one_line(tmp_path):
    folder = write_shape_folder(tmp_path / "one", 3, sizes=((16, 16),))
    for name in ("bar", "cross"):
        for f in (folder / name).iterdir():
            f.unlink()
        (folder / name).rmdir()
    with pytest.raises(DatasetError, match=r"one: only one class folder, disc; expected at least 2 "):
        stored_dataset(data_params(folder), tmp_path)
    folder = write_shape_folder(tmp_path / "bad", 3, sizes=((16, 16),))
    import os
    os.rename(folder / "bar", os.path.join(os.fsencode(folder), b"bad\xff"))
    with pytest.raises(DatasetError, match="bad\ufffd: a class folder whose name is not valid UTF-8; rename it"):
        stored_dataset(data_params(folder), tmp_path)


def test_more_than_256_classes_are_stored_with_their_labels(tmp_path):
    from featuremaps.data.store import read_split, write_dataset
    folder = tmp_path / "many"
    for c in range(300):
        (folder / f"k{c:03d}").mkdir(parents=True)
        for i in range(2):
            Image.new("L", (4, 4), c % 256).save(folder / f"k{c:03d}/{i}.png")
    ds = load_dataset(data_params(folder, val_fraction=0.5), tmp_path)
    write_dataset(ds, tmp_path / "out", "folder")
    for split in ("train", "val"):
        images, labels = read_split(tmp_path / "out", split)
        assert labels.dtype == np.uint16 and sorted(labels.tolist()) == list(range(300))
        assert all(int(images[k, 0, 0]) == labels[k] % 256 for k in range(300))


def test_lossy_grey_stays_grey_and_a_class_without_val_is_named(tmp_path, caplog):
    folder = write_shape_folder(tmp_path / "webp", 6, sizes=((16, 16),), grey=True)
    rng = np.random.default_rng(0)
    for path in sorted(folder.rglob("*.png")):  # lossy colour noise of a level or two, as a WebP of grey
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
        noisy = np.clip(rgb + rng.integers(-2, 3, rgb.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(path)
    (folder / "lone").mkdir()
    Image.new("L", (16, 16), 90).save(folder / "lone/0.png")
    with caplog.at_level("WARNING"):
        ds = stored_dataset(data_params(folder), tmp_path)
    assert ds.train_images.ndim == 3  # grey: within the tolerance
    path = sorted((folder / "bar").iterdir())[0]
    luma = np.asarray(Image.open(path).convert("L"))
    assert any(np.array_equal(luma, x) for x in np.concatenate([ds.train_images, ds.val_images]))
    assert "1 class with no val image (too few images to hold one out): lone" in caplog.text
    assert any("lone" in note for note in ds.notes)
    # a real colour change (more than the tolerance) is colour
    Image.new("RGB", (16, 16), (120, 100, 100)).save(folder / "lone/1.png")
    assert stored_dataset(data_params(folder), tmp_path).train_images.ndim == 4
