"""A folder of images as a dataset (data.source: folder): ImageFolder's layout, resizing, grey or
colour, and every bad folder refused with one line naming the file; CIFAR-10 through torchvision with
the network call replaced."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from featuremaps.data import sources
from featuremaps.data.folder import folder_images
from featuremaps.data.sources import load_dataset
from featuremaps.errors import DatasetError
from featuremaps.params import params_from_dict
from synthetic import SHAPE_CLASSES, bad_shape_folder, write_shape_folder


def data_params(folder, **kw):
    return params_from_dict({"data": {"source": "folder", "folder": str(folder), **kw}}).data


def test_class_folders_resized_to_one_size_in_colour(tmp_path):
    folder = write_shape_folder(tmp_path / "shapes", 8)
    ds = load_dataset(data_params(folder, image_size=[20, 24]), tmp_path)
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
    ds = load_dataset(data_params(folder), tmp_path)
    assert ds.train_images.shape == (18, 16, 16) and ds.val_images.shape == (6, 16, 16)
    assert ds.val_origin == "the source's test split"
    bar = ds.classes.index("bar")
    first = np.asarray(Image.open(sorted((folder / "train/bar").iterdir())[0]).convert("L"))
    assert np.array_equal(ds.train_images[np.flatnonzero(ds.train_labels == bar)[0]], first)


def test_channels_1_makes_colour_grey_as_pillow_does(tmp_path):
    folder = write_shape_folder(tmp_path / "shapes", 4, sizes=((16, 16),))
    classes, splits = folder_images(folder, "auto", 1)
    images, labels = splits["all"]
    path = sorted((folder / classes[labels[0]]).iterdir())[0]
    assert images.shape == (12, 16, 16)
    assert np.array_equal(images[0], np.asarray(Image.open(path).convert("L")))


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
        load_dataset(params_from_dict({"data": data}).data, tmp_path)
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
    ds = load_dataset(params_from_dict({"data": {"source": "torchvision", "dataset": "cifar10"}}).data, tmp_path)
    assert ds.classes[0] == "airplane" and ds.classes[9] == "truck"
    assert ds.train_images.shape == (50, 32, 32, 3) and ds.val_images.shape == (20, 32, 32, 3)
    assert ds.train_labels.dtype == np.uint8 and ds.train_labels[:3].tolist() == [0, 1, 2]
