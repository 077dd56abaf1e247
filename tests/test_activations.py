import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featuremaps import memory
from featuremaps.analysis.activations import extract_activations, hooked_layers
from featuremaps.analysis.top_k import RunningTopK
from featuremaps.analysis.store import read_npz, read_per_image, write_extraction
from featuremaps.errors import ArgumentError, ArtifactError
from featuremaps.params import ExtractParams
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


def per_image(path) -> dict:
    """per_image.parquet as {column: numpy array}."""
    frame = read_per_image(path)
    return {col: frame[col].to_numpy() for col in frame.columns}


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
def test_matches_brute_force(model, splits, activation, by, tmp_path):
    params = ExtractParams(batch_size=32, activation=activation, top_k=5, top_k_by=by)
    ex = extract_activations(model, splits, params, CLASSES, tmp_path / "per_image.parquet")
    pi = per_image(tmp_path / "per_image.parquet")
    images, labels = splits["train"]
    preds, maps = brute_force(model, images, activation)
    train = pi["split"] == "train"
    assert train.sum() == 150 and (~train).sum() == 37
    np.testing.assert_array_equal(pi["pred"][train], preds)
    np.testing.assert_array_equal(pi["index"][train], np.arange(150))
    for layer in ("conv1", "conv2"):
        sums = maps[layer].sum((2, 3))
        for j in range(sums.shape[1]):
            np.testing.assert_allclose(pi[f"{layer}_f{j + 1:02d}"][train], sums[:, j], rtol=1e-5, atol=1e-4)
        for c in range(10):
            expected = maps[layer][labels == c].mean(0)
            np.testing.assert_allclose(ex.class_means[layer][c], expected, rtol=1e-5, atol=1e-6)
        flat = maps[layer].reshape(*maps[layer].shape[:2], -1)
        peaks, at = flat.max(2), flat.argmax(2)  # numpy's argmax: the first of equal maxima
        np.testing.assert_allclose(pi[f"{layer}_f02_max"][train], peaks[:, 1], rtol=1e-5, atol=1e-5)
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


def test_batch_size_does_not_matter(model, splits, tmp_path):
    a = extract_activations(model, splits, ExtractParams(batch_size=7), CLASSES, tmp_path / "a.parquet")
    b = extract_activations(model, splits, ExtractParams(batch_size=1000), CLASSES, tmp_path / "b.parquet")
    rows_a, rows_b = per_image(tmp_path / "a.parquet"), per_image(tmp_path / "b.parquet")
    assert list(rows_a) == list(rows_b)
    for col in rows_a:
        if rows_a[col].dtype.kind == "f":
            np.testing.assert_allclose(rows_a[col], rows_b[col], rtol=1e-5, atol=1e-4)
        else:
            np.testing.assert_array_equal(rows_a[col], rows_b[col])
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


def test_unknown_layer_lists_conv_layers(model, splits, tmp_path):
    with pytest.raises(ArgumentError, match="^'fc1' is not a conv layer of the model; its conv layers: conv1, conv2$"):
        extract_activations(model, splits, ExtractParams(layers=("conv1", "fc1")), CLASSES, tmp_path / "p.parquet")
    assert not model.conv1._forward_hooks


def test_missing_class_is_reported_not_a_crash(model, splits, tmp_path):
    x, y = splits["train"]
    keep = y != 7
    ex = extract_activations(model, {"train": (x[keep], y[keep]), "val": splits["val"]},
                             ExtractParams(), CLASSES, tmp_path / "p.parquet")
    assert ex.examples["index"][7] == -1 and ex.class_counts[7] == 0
    assert np.isnan(ex.class_means["conv2"][7]).all() and np.isnan(ex.examples["conv2"][7]).all()
    assert not np.isnan(ex.class_means["conv2"][6]).any()


def test_files_round_trip(tmp_path, model, splits):
    ex = extract_activations(model, splits, ExtractParams(top_k=3), CLASSES, tmp_path / "per_image.parquet")
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


def test_class_sums_are_float64_sums_of_the_float32_maps(model, splits, tmp_path):
    """Per-class sums accumulated in float64 equal numpy's float64 sum of the very maps the
    model produced to 1e-12; a float32 accumulation is off by about 1e-7."""
    seen = []
    handle = model.conv2.register_forward_hook(lambda m, i, o: seen.append(F.relu(o).double().numpy().copy()))
    try:
        ex = extract_activations(model, splits, ExtractParams(batch_size=16), CLASSES, tmp_path / "p.parquet")
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
    """Many equal values, in batches of any size, stored out of index order: the running top-k is the
    first k of all images sorted by value, ties by the image's index."""
    rng = np.random.default_rng(0)
    n = 2000
    values = rng.integers(0, 4, (n, 2)).astype(np.float32) * np.float32([1, -1])
    index = rng.permutation(n)
    at = rng.integers(0, 50, (n, 2))
    for batch in (1, 37, 500, n):
        top = RunningTopK(40, 2)
        for start in range(0, n, batch):
            rows = slice(start, start + batch)
            top.update(values[rows], index[rows], index[rows] % 10, at[rows])
        table = top.rows("conv1", "train")
        for feature in (1, 2):
            expected = sorted(range(n), key=lambda i: (-values[i, feature - 1], index[i]))[:40]
            got = [i for f, i in zip(table["feature"], table["index"]) if f == feature]
            assert got == [int(index[i]) for i in expected]
            assert [a for f, a in zip(table["feature"], table["at"]) if f == feature] == \
                [int(at[i, feature - 1]) for i in expected]
        assert table["rank"][:3] == [1, 2, 3] and set(table["split"]) == {"train"} and len(table["index"]) == 80


def test_streamed_from_disk_in_row_groups_is_the_same_extraction(model, splits, tmp_path, monkeypatch):
    """Splits read from stored .npy files a batch at a time, per_image written in many row groups:
    the same table in every column, and the same top-k and class sums, as from memory in one group."""
    from featuremaps.data.stored_images import StoredImages
    import pyarrow.parquet as pq
    stored = {}
    for split, (images, labels) in splits.items():
        np.save(tmp_path / f"{split}.npy", images)
        stored[split] = (StoredImages(tmp_path / f"{split}.npy"), labels)
    params = ExtractParams(batch_size=16, top_k=4)
    a = extract_activations(model, splits, params, CLASSES, tmp_path / "memory.parquet")
    monkeypatch.setattr(memory, "ROW_GROUP_BYTES", 5000)  # 17 rows a group
    b = extract_activations(model, stored, params, CLASSES, tmp_path / "streamed.parquet")
    assert pq.ParquetFile(tmp_path / "memory.parquet").num_row_groups == 1
    assert pq.ParquetFile(tmp_path / "streamed.parquet").num_row_groups > 187 // 32
    assert pq.read_table(tmp_path / "memory.parquet").equals(pq.read_table(tmp_path / "streamed.parquet"))
    assert a.top_k == b.top_k and a.n_images == b.n_images == 187
    for layer in ("conv1", "conv2"):
        np.testing.assert_array_equal(a.class_sums[layer], b.class_sums[layer])
    np.testing.assert_array_equal(a.examples["conv2"], b.examples["conv2"])
