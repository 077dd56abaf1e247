"""The published claims checked by the attribute stage: class selectivity by hand, the stored
Spearman figures against scipy on the stored tables, the selectivity column against a brute-force
recomputation, the channel sets' accuracy loss against zeroing the weights, and ablate_k lowered for a narrow layer."""
import json

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from featuremaps.analysis.claims import class_selectivity, most_selective
from featuremaps.analysis.ablation import selectivity_index


def test_class_selectivity_by_hand():
    # channel 1: class 0 has 2, the rest (1 + 0) / 2 = 0.5, so (2 - 0.5) / (2 + 0.5) = 0.6; class 1: (1 - 1) / 2 = 0;
    # class 2: (0 - 1.5) / 1.5 = -1. Channel 2 is silent: 0. A class without images: NaN.
    means = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 0.0], [np.nan, np.nan]])
    got = class_selectivity(means)
    assert np.allclose(got[:3], [[0.6, 0.0], [0.0, 0.0], [-1.0, 0.0]]) and np.isnan(got[3]).all()
    assert np.allclose(selectivity_index(means), np.nanmax(got, axis=0))  # the index is the largest
    assert most_selective(np.array([0.1, 0.5, 0.5, 0.3]), 2) == [1, 2]
    assert most_selective(np.array([0.1, 0.5, 0.2, 0.3]), 2) == [1, 3]


def test_the_stored_claims_equal_scipy_and_a_brute_force_recomputation(stage_outputs):
    import pandas as pd
    from featuremaps.data.store import read_meta, read_split
    from featuremaps.model.checkpoint import load_checkpoint
    from featuremaps.model.network import dataset_config, normalised_images
    run = stage_outputs
    meta = read_meta(run / "data/dataset")
    model, _ = load_checkpoint(run / "data/model/model.pt", dataset_config(meta))
    model.eval()
    images, labels = read_split(run / "data/dataset", "val")
    table = pd.read_parquet(run / "data/attributions/ablation.parquet")
    sets = pd.read_parquet(run / "data/attributions/claims.parquet")
    metrics = json.loads((run / "reports/interpretability.json").read_text())
    classes = meta["classes"]
    x = normalised_images(model, images)
    with torch.no_grad():
        base = (model(x).argmax(1).numpy() == labels).mean()
    for layer in model.conv_layers:
        with torch.no_grad():  # brute force: every image's post-ReLU map, averaged per class
            per_image = torch.relu(model.features(x, upto=layer)).mean((2, 3)).double().numpy()
        present = [c for c in range(len(classes)) if (labels == c).any()]
        means = np.array([per_image[labels == c].mean(0) for c in present])
        live = per_image.max(0) > 0
        part = table[table["layer"] == layer]
        for row, c in enumerate(present):
            rest = (means.sum(0) - means[row]) / (len(means) - 1)
            want = np.where(means[row] + rest > 0, (means[row] - rest) / np.where(means[row] + rest > 0, means[row] + rest, 1), 0)
            got = part[part["class"] == classes[c]].sort_values("channel")["selectivity"].to_numpy()
            assert np.allclose(got, want, atol=1e-9)
        every = part[part["class"] == "all"].sort_values("channel")
        m = metrics[layer]
        rho = spearmanr(every["selectivity"].to_numpy()[live], (every["baseline"] - every["accuracy"]).to_numpy()[live])
        assert m["selectivity_vs_drop_spearman"] == pytest.approx(rho.statistic, abs=1e-6)
        assert m["selectivity_vs_drop_p"] == pytest.approx(rho.pvalue, abs=1e-6)
        pairs = part[(part["class"] != "all") & part["channel"].isin(np.flatnonzero(live) + 1)]
        rho = spearmanr(pairs["selectivity"], pairs["baseline"] - pairs["accuracy"])
        assert m["class_selectivity_vs_class_drop_spearman"] == pytest.approx(rho.statistic, abs=1e-6)
        # each set's loss: the same channels zeroed in the weights instead of by a hook
        mine = sets[sets["layer"] == layer]
        assert (mine["set"] == "random").sum() == 10 and (mine["set"] == "selective").sum() == 1
        top = sorted(np.argsort(-every["selectivity"].to_numpy(), kind="stable")[:m["ablate_k"]] + 1)
        assert mine[mine["set"] == "selective"]["channels"].iloc[0] == " ".join(map(str, top))
        for chans, drop in zip(mine["channels"], mine["accuracy_drop"]):
            zeroed = [int(c) - 1 for c in chans.split()]
            conv = getattr(model, layer)
            saved = conv.weight.detach().clone(), conv.bias.detach().clone()
            with torch.no_grad():
                conv.weight[zeroed] = 0
                conv.bias[zeroed] = 0
                acc = (model(x).argmax(1).numpy() == labels).mean()
                conv.weight.copy_(saved[0])
                conv.bias.copy_(saved[1])
            assert drop == pytest.approx(base - acc, abs=1e-12)
        assert m["k_random_drop_mean"] == pytest.approx(mine[mine["set"] == "random"]["accuracy_drop"].mean(), abs=1e-6)


def test_a_layer_narrower_than_ablate_k_is_ablated_with_the_largest_k_it_allows():
    # conv_channels [1, 3] with ablate_k 3: conv1's one channel leaves nothing to compare (k 0, no set zeroed),
    # conv2's three allow k = 2 (two of three, so the selective and random sets can differ)
    from featuremaps.analysis.ablation import ablation_table, channel_statistics, predictions
    from featuremaps.analysis.claims import claims, layer_ablate_k, set_ablation_words
    from featuremaps.params import ModelParams
    from synthetic import grey_model, synthetic_images
    assert [layer_ablate_k(3, n) for n in (1, 2, 3, 4, 64)] == [0, 1, 2, 3, 3]
    torch.manual_seed(0)
    model = grey_model(ModelParams(conv_channels=(1, 3), fc_units=())).eval()
    images, labels = synthetic_images(60, seed=1)
    classes, cpu = [str(c) for c in range(10)], torch.device("cpu")
    preds = predictions(model, images, 64, cpu)
    table = ablation_table(model, ["conv1", "conv2"], images, labels, preds, classes, 64, cpu)
    stats = channel_statistics(model, ["conv1", "conv2"], images, labels, 10, 64, cpu)
    numbers, rows = claims(model, ["conv1", "conv2"], images, labels, preds, stats, table, classes, 3, 4, 0, 64, cpu)
    assert numbers["conv1"]["ablate_k"] == 0 and numbers["conv1"]["k_most_selective_drop"] is None
    assert numbers["conv2"]["ablate_k"] == 2
    assert "conv1" not in rows["layer"] and rows["set"].count("random") == 4
    assert all(len(c.split()) == 2 for c in rows["channels"])
    assert set_ablation_words(numbers["conv1"], 3) == "ablate_k 3: one channel, no set zeroed"
    assert set_ablation_words(numbers["conv2"], 3).endswith("(ablate_k 3 lowered to the width less one)")
