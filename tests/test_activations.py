import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featuremaps.analysis.activations import extract_activations, hooked_layers, top_k_table
from featuremaps.analysis.store import read_npz, read_per_image, write_extraction
from featuremaps.errors import ArgumentError, ArtifactError
from featuremaps.model.network import build_model, model_config
from featuremaps.params import ExtractParams, ModelParams
from synthetic import grey_model, synthetic_images

CLASSES = [str(i) for i in range(10)]
MEAN, STD = 0.13, 0.3


@pytest.fixture
def model():
    """A fresh model in training mode for each test, with dropout that matters: extraction must
    switch it off (model.eval()) itself."""
    torch.manual_seed(0)
    m = grey_model()
    m.dropout.p = m.dropout2d.p = 0.5
    return m.train()


@pytest.fixture(scope="module")
def splits():
    tx, ty = synthetic_images(150, seed=0)
    vx, vy = synthetic_images(37, seed=1)
    return {"train": (tx, ty), "val": (vx, vy)}


def brute_force(model, images, activation):
    """One full-batch forward pass of an eval-mode copy with hand-made hooks, no streaming."""
    model = copy.deepcopy(model).eval()
    store = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: store.__setitem__(n, o))
             for n in ("conv1", "conv2")]
    x = (torch.from_numpy(images).float().unsqueeze(1) / 255 - MEAN) / STD
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    if activation == "relu":
        store = {k: F.relu(v) for k, v in store.items()}
    return logits.argmax(1).numpy(), {k: v.double().numpy() for k, v in store.items()}


@pytest.mark.parametrize("activation, by", [("relu", "sum"), ("raw", "sum"), ("relu", "max"), ("raw", "max")])
def test_matches_brute_force(model, splits, activation, by):
    params = ExtractParams(batch_size=32, activation=activation, top_k=5, top_k_by=by)
    ex = extract_activations(model, splits, params, CLASSES)
    images, labels = splits["train"]
    preds, maps = brute_force(model, images, activation)
    train = ex.per_image["split"] == "train"
    assert train.sum() == 150 and (~train).sum() == 37
    np.testing.assert_array_equal(ex.per_image["pred"][train], preds)
    np.testing.assert_array_equal(ex.per_image["index"][train], np.arange(150))
    for layer in ("conv1", "conv2"):
        sums = maps[layer].sum((2, 3))
        for j in range(sums.shape[1]):
            np.testing.assert_allclose(ex.per_image[f"{layer}_f{j + 1:02d}"][train], sums[:, j], rtol=1e-5, atol=1e-4)
        for c in range(10):
            expected = maps[layer][labels == c].mean(0)
            np.testing.assert_allclose(ex.class_means[layer][c], expected, rtol=1e-5, atol=1e-6)
        flat = maps[layer].reshape(*maps[layer].shape[:2], -1)
        peaks, at = flat.max(2), flat.argmax(2)  # numpy's argmax: the first of equal maxima
        np.testing.assert_allclose(ex.per_image[f"{layer}_f02_max"][train], peaks[:, 1], rtol=1e-5, atol=1e-5)
        # top-k by brute force: a stable argsort of the sums or the maxima
        ranked_by = sums if by == "sum" else peaks
        width = maps[layer].shape[3]
        for j in range(sums.shape[1]):
            rows = [r for r in zip(ex.top_k["layer"], ex.top_k["feature"], ex.top_k["index"], ex.top_k["value"],
                                   ex.top_k["y"], ex.top_k["x"]) if r[0] == layer and r[1] == j + 1]
            expected_idx = np.argsort(-ranked_by[:, j], kind="stable")[:5]
            assert [r[2] for r in rows] == expected_idx.tolist()
            np.testing.assert_allclose([r[3] for r in rows], ranked_by[expected_idx, j], rtol=1e-5)
            assert [(r[4], r[5]) for r in rows] == [divmod(int(at[i, j]), width) for i in expected_idx]
    np.testing.assert_array_equal(ex.class_counts, np.bincount(labels, minlength=10))
    np.testing.assert_allclose(ex.input_means[3], images[labels == 3].mean(0), rtol=1e-12)
    first = [int(np.argmax(labels == c)) for c in range(10)]
    np.testing.assert_array_equal(ex.examples["index"], first)
    np.testing.assert_array_equal(ex.examples["input"], images[first])
    np.testing.assert_allclose(ex.examples["conv2"], maps["conv2"][first], rtol=1e-5, atol=1e-6)
    if activation == "relu":
        assert ex.class_means["conv1"].min() >= 0
    else:
        assert ex.class_means["conv1"].min() < 0


def test_batch_size_does_not_matter(model, splits):
    a = extract_activations(model, splits, ExtractParams(batch_size=7), CLASSES)
    b = extract_activations(model, splits, ExtractParams(batch_size=1000), CLASSES)
    for col in a.per_image:
        if a.per_image[col].dtype.kind == "f":
            np.testing.assert_allclose(a.per_image[col], b.per_image[col], rtol=1e-5, atol=1e-4)
        else:
            np.testing.assert_array_equal(a.per_image[col], b.per_image[col])
    for layer in ("conv1", "conv2"):
        np.testing.assert_allclose(a.class_means[layer], b.class_means[layer], rtol=1e-10)
    assert a.top_k["index"] == b.top_k["index"] and a.top_k["top"] == b.top_k["top"]


def test_hooks_removed_even_on_error(model):
    assert not model.conv1._forward_hooks
    with pytest.raises(RuntimeError, match="boom"):
        with hooked_layers(model, ["conv1", "conv2"]) as captured:
            model(torch.zeros(1, 1, 28, 28))
            assert set(captured) == {"conv1", "conv2"}
            assert len(model.conv2._forward_hooks) == 1
            raise RuntimeError("boom")
    assert not model.conv1._forward_hooks and not model.conv2._forward_hooks


def test_unknown_layer_lists_conv_layers(model, splits):
    with pytest.raises(ArgumentError, match="^'fc1' is not a conv layer of the model; its conv layers: conv1, conv2$"):
        extract_activations(model, splits, ExtractParams(layers=("conv1", "fc1")), CLASSES)
    assert not model.conv1._forward_hooks


def test_missing_class_is_reported_not_a_crash(model, splits):
    x, y = splits["train"]
    keep = y != 7
    ex = extract_activations(model, {"train": (x[keep], y[keep]), "val": splits["val"]}, 
                             ExtractParams(), CLASSES)
    assert ex.examples["index"][7] == -1 and ex.class_counts[7] == 0
    assert np.isnan(ex.class_means["conv2"][7]).all() and np.isnan(ex.examples["conv2"][7]).all()
    assert not np.isnan(ex.class_means["conv2"][6]).any()


def test_files_round_trip(tmp_path, model, splits):
    ex = extract_activations(model, splits, ExtractParams(top_k=3), CLASSES)
    write_extraction(ex, tmp_path, {"conv1": np.zeros((6, 1, 3, 3), np.float32)})
    frame = read_per_image(tmp_path / "per_image.parquet", ["conv1", "conv2"])
    assert list(frame.columns[:4]) == ["split", "index", "label", "pred"] and len(frame) == 187
    assert frame["conv2_f16"].dtype == np.float32
    import pyarrow.parquet as pq
    assert pq.read_schema(tmp_path / "per_image.parquet").metadata[b"activation"] == b"relu"
    means = read_npz(tmp_path / "class_means.npz", ["conv2_means", "counts", "input_means"])
    assert str(means["activation"]) == "relu" and means["conv2_sums"].dtype == np.float64
    frame.drop(columns=["pred"]).to_parquet(tmp_path / "broken.parquet")
    with pytest.raises(ArtifactError, match="broken.parquet: missing column pred"):
        read_per_image(tmp_path / "broken.parquet", ["conv1"])
    with pytest.raises(ArtifactError, match=r"missing column conv3_f01; expected split, index, label, pred, conv3_f01"):
        read_per_image(tmp_path / "per_image.parquet", ["conv3"])


def test_class_sums_are_float64_sums_of_the_float32_maps(model, splits):
    """Per-class sums accumulated in float64 equal numpy's float64 sum of the very maps the
    model produced to 1e-12; a float32 accumulation is off by about 1e-7."""
    seen = []
    handle = model.conv2.register_forward_hook(lambda m, i, o: seen.append(F.relu(o).double().numpy().copy()))
    try:
        ex = extract_activations(model, splits, ExtractParams(batch_size=16), CLASSES)
    finally:
        handle.remove()
    images, labels = splits["train"]
    maps = np.concatenate(seen)[:len(labels)]  # the train batches come first
    sums = ex.class_sums["conv2"]
    assert sums.dtype == np.float64
    for c in range(10):
        np.testing.assert_allclose(sums[c], maps[labels == c].sum(0), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ex.input_sums[4], images[labels == 4].astype(np.float64).sum(0))


def test_top_k_ties_go_to_the_lower_index():
    """Many equal values, stored out of index order: ties are ranked by the image's index."""
    rng = np.random.default_rng(0)
    n = 2000
    values = rng.integers(0, 4, n).astype(np.float32)
    index = rng.permutation(n)
    per_image = {"split": np.array(["train"] * (n - 5) + ["val"] * 5, dtype=object), "index": index,
                 "label": (index % 10).astype(np.uint8), "conv1_f01": values, "conv1_f02": -values}
    table = top_k_table(per_image, ["conv1"], "train", 40)
    rows = range(n - 5)
    for feature, column in ((1, values), (2, -values)):
        expected = sorted(rows, key=lambda i: (-column[i], index[i]))[:40]
        got = [i for f, i in zip(table["feature"], table["index"]) if f == feature]
        assert got == [int(index[i]) for i in expected]
    assert table["rank"][:3] == [1, 2, 3] and set(table["split"]) == {"train"}
