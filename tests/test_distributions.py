"""The render stage's class means and histograms, streamed over per_image.parquet's row groups, against
the whole split held at once: numpy's mean and np.histogram(density=True), bit for bit."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featuremaps.analysis.store import feature_columns, per_image_table
from featuremaps.report.catalogue import predictions_of
from featuremaps.report.distributions import bin_counts, class_feature_means, layer_distribution

N_CLASSES, FEATURES = 5, 3


def per_image_file(path, rows_per_group: int, n: int = 1000, seed: int = 0):
    """A per_image.parquet of n train and n // 4 val images; class 3 has no train image, feature 3 is
    constant; written in row groups of rows_per_group rows. Returns the train rows' (labels, sums)."""
    rng = np.random.default_rng(seed)
    n_val = n // 4
    labels = rng.choice([0, 1, 2, 4], n + n_val).astype(np.int64)
    # magnitudes over 12 decades, so that a float64 sum rounds and its order shows
    sums = (rng.gamma(2.0, 3.0, (n + n_val, FEATURES)) * 10.0 ** rng.uniform(-6, 6, (n + n_val, 1))).astype(np.float32)
    sums[:, 2] = 7.25
    frame = pd.DataFrame({"split": ["train"] * n + ["val"] * n_val,
                          "index": np.r_[np.arange(n), np.arange(n_val)], "label": labels,
                          "pred": (labels + np.r_[np.arange(n), np.arange(n_val)] % 2) % N_CLASSES})
    for j, column in enumerate(feature_columns("conv", FEATURES)):
        frame[column] = sums[:, j]
    frame = frame.sample(frac=1.0, random_state=seed)  # the splits interleaved, as row groups may cut them
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=rows_per_group)
    train = frame[frame["split"] == "train"]
    return train["label"].to_numpy(), train[feature_columns("conv", FEATURES)].to_numpy(), frame


@pytest.mark.parametrize("rows_per_group", [1250, 97, 1])
def test_streamed_class_means_and_histograms_equal_the_whole_split(tmp_path, rows_per_group):
    labels, sums, _ = per_image_file(tmp_path / "p.parquet", rows_per_group)
    table = per_image_table(tmp_path / "p.parquet")
    assert pq.ParquetFile(tmp_path / "p.parquet").num_row_groups == -(-1250 // rows_per_group)
    dist = layer_distribution(table, "train", "conv", N_CLASSES, bins=13)
    for c in range(N_CLASSES):
        if c == 3:
            assert np.isnan(dist.class_means[c]).all()
        else:
            assert np.array_equal(dist.class_means[c], sums[labels == c].mean(0, dtype=np.float64))
    assert np.array_equal(class_feature_means(table, "train", "conv", N_CLASSES), dist.class_means, equal_nan=True)
    for f in range(FEATURES):
        lo, hi = float(sums[:, f].min()), float(sums[:, f].max())
        expected_edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 14)
        assert np.array_equal(dist.edges[f], expected_edges)
        densities = dist.densities(f)
        for c in range(N_CLASSES):
            if c == 3:
                assert densities[c] is None
            else:
                assert np.array_equal(densities[c], np.histogram(sums[labels == c, f], expected_edges, density=True)[0])


def test_bin_counts_put_edge_values_where_np_histogram_does():
    edges = np.linspace(0.0, 1.0, 5)
    values = np.array([0.0, 0.25, 0.2499999, 0.5, 0.75, 1.0, 1.0, 0.9], np.float32)
    labels = np.array([0, 1, 1, 0, 0, 1, 0, 1])
    counts = bin_counts(values, labels, edges, 2)
    for c in range(2):
        assert np.array_equal(counts[c], np.histogram(values[labels == c], edges)[0])
    assert counts.sum() == len(values)


def test_predictions_of_picked_images_across_row_groups(tmp_path):
    _, _, frame = per_image_file(tmp_path / "p.parquet", 64)
    val = frame[frame["split"] == "val"].set_index("index")["pred"]
    pick = np.array([200, 0, 17, 249, 3])
    assert predictions_of(per_image_table(tmp_path / "p.parquet"), "val", pick).tolist() == val[pick].tolist()
