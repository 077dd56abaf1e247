"""The timelapse: which epochs, the probe, CKA from Gram matrices, and each epoch's numbers against a
brute-force computation on the snapshot itself."""
import dataclasses
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featuremaps.analysis.ablation import channel_statistics, selectivity_index
from featuremaps.analysis.feature_vis import ascended_images, background_of, objective_values, transforms_of
from featuremaps.analysis.timelapse import (first_epoch_above, layer_timelapses, probe_indices, reference_epoch,
                                            visualize_epochs)
from featuremaps.analysis.cka import centred_gram, gram_cka, linear_cka
from featuremaps.errors import ParamsError
from featuremaps.model.epochs import dropped_note, visualized_epochs
from featuremaps.model.network import normalised_images
from featuremaps.model.snapshots import Snapshots
from featuremaps.model.training import fit
from featuremaps.params import TrainParams, VisualizeParams, params_from_dict
from featuremaps.report.timelapse import spread_epochs
from synthetic import grey_model, synthetic_images

CPU = torch.device("cpu")


@pytest.mark.parametrize("epochs, every, listed, expected", [
    (15, 1, [0, 1, 2, 5, "last"], ([0, 1, 2, 5, 15], [])), (10, 5, ["last", 0, 5, 10], ([0, 5, 10], [])),
    (3, 1, [], ([], [])), (7, 0, [0, 9], ([], [])),  # nothing kept: nothing to check
    # the default follows the run: what it does not keep is dropped, and named
    (2, 1, [0, 1, 2, 5, "last"], ([0, 1, 2], [5])), (1, 1, [0, 1, 2, 5, "last"], ([0, 1], [2, 5])),
    (12, 5, [0, 1, 2, 5, "last"], ([0, 5, 12], [1, 2]))])
def test_the_visualised_epochs(epochs, every, listed, expected):
    assert visualized_epochs(epochs, every, listed) == expected


def test_the_default_dropping_epochs_is_said_in_the_log():
    assert dropped_note([]) is None
    assert dropped_note([2, 5]) == ("timelapse.vis_epochs: the default's epochs 2, 5 not kept by this run "
                                    "(train.epochs, train.snapshot_every): not visualised")


def test_a_typed_epoch_beyond_the_run_or_not_kept_is_one_line():
    with pytest.raises(ParamsError, match=r"^params.yaml: timelapse.vis_epochs = \[0, 1, 2, 5\] lists "
                                          r"epoch 5, beyond train.epochs = 3$"):
        visualized_epochs(3, 1, [0, 1, 2, 5])
    with pytest.raises(ParamsError, match=r"lists epoch 1, which train.snapshot_every = 5 does not keep; "
                                          r"kept: 0, 5, 10, 12$"):
        visualized_epochs(12, 5, [0, 1, "last"])


@pytest.mark.parametrize("section, expected", [
    ({"timelapse": {"probe_size": 9}}, r"timelapse.probe_size = 9 is not allowed; expected an integer in \[10, 5000\]"),
    ({"timelapse": {"vis_epochs": [0, "first"]}},
     r"timelapse.vis_epochs = \[0, 'first'\] is not allowed; expected a list of at most 8 integers in \[0, 1000\] or last"),
    ({"train": {"snapshot_every": -1}}, r"train.snapshot_every = -1 is not allowed; expected an integer in \[0, 1000\]"),
])
def test_bad_timelapse_settings_are_one_line(section, expected):
    with pytest.raises(ParamsError, match=f"^params.yaml: {expected}$"):
        params_from_dict(section)


def test_the_probe_is_seeded_distinct_and_within_the_split():
    a, b = probe_indices(500, 100, 7), probe_indices(500, 100, 7)
    assert np.array_equal(a, b) and len(np.unique(a)) == 100 and (np.diff(a) > 0).all() and a.max() < 500
    assert not np.array_equal(a, probe_indices(500, 100, 8))
    assert len(probe_indices(100, 100, 0)) == 100
    assert probe_indices(40, 1000, 3).tolist() == list(range(40))  # a probe larger than the split: all of it


def test_cka_from_gram_matrices_equals_linear_cka():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 500)).astype(np.float32)
    y = (x[:, :200] @ rng.normal(size=(200, 300)) + rng.normal(size=(60, 300))).astype(np.float32)
    want = linear_cka(x, y)
    assert gram_cka(centred_gram(x, chunk=37), centred_gram(y, chunk=1000)) == pytest.approx(want, rel=1e-6)
    assert gram_cka(centred_gram(x.astype(np.float64)), centred_gram(y.astype(np.float64))) == pytest.approx(want,
                                                                                                          rel=1e-12)
    k = centred_gram(x)
    assert gram_cka(k, k) == pytest.approx(1.0, abs=1e-12)
    assert np.isnan(gram_cka(centred_gram(np.ones((10, 4), np.float32)), k[:10, :10]))
    assert first_epoch_above([0, 1, 2, 3], [0.5, 0.95, 0.92, 0.995], 0.9) == 1
    assert first_epoch_above([0, 1], [0.5, 0.6], 0.9) == "never"
    assert first_epoch_above([0, 1], [float("nan"), 0.95], 0.9) == 1
    assert first_epoch_above([0, 1], [float("nan")] * 2, 0.9) == "undefined (constant maps)"


@pytest.fixture(scope="module")
def trained():
    """A small network trained 3 epochs with every epoch's weights kept, and its val images."""
    x, y = synthetic_images(400)
    vx, vy = synthetic_images(120, seed=1)
    torch.manual_seed(0)
    model = grey_model()
    snapshots = Snapshots([0, 1, 2, 3])
    result = fit(model, x, y, vx, vy, TrainParams(epochs=3, batch_size=32), 0, CPU, after_epoch=snapshots)
    model.load_state_dict(result.best_state)
    return model, snapshots.states, result.best_epoch, vx, vy


def test_each_epoch_is_measured_on_its_own_snapshot(trained):
    model, states, best, vx, vy = trained
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    assert reference_epoch(states, reference) == best
    lapse = layer_timelapses(model, states, reference, ["conv1", "conv2"], vx, vy, 10, 3, 50, CPU)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in reference.items())  # left as it was
    probe = normalised_images(model, vx)
    for layer in ("conv1", "conv2"):
        r = lapse[layer]
        assert r.filters.shape == (4, *states[0][f"{layer}.weight"].shape)
        assert r.cka[best] == pytest.approx(1.0, abs=1e-9) and (r.cka[:best] < 1 - 1e-6).all()
        for epoch in range(4):
            assert np.array_equal(r.filters[epoch], states[epoch][f"{layer}.weight"].numpy())
            model.load_state_dict(states[epoch])
            with torch.no_grad():
                maps = F.relu(model.features(probe, upto=layer))
            means, peaks = channel_statistics(model, [layer], vx, vy, 10, 1000, CPU)[layer]
            assert np.allclose(r.selectivity[epoch], selectivity_index(means))
            assert np.array_equal(r.dead[epoch], peaks <= 0)
            peak = maps.amax((2, 3)).numpy()  # [n, F]: brute force, one channel at a time
            for f in range(peak.shape[1]):
                assert np.allclose(np.sort(peak[:, f])[::-1][:3], r.top_value[epoch, f])
                assert np.allclose(peak[r.top[epoch, f], f], r.top_value[epoch, f])
            if epoch == best:  # linear CKA of the flattened maps, the direct way, is 1 to the reference
                assert linear_cka(maps.flatten(1).numpy(), maps.flatten(1).numpy()) == pytest.approx(1.0)
        model.load_state_dict(reference)


def test_visualising_epochs_at_once_matches_one_at_a_time(trained):
    model, states, _, vx, _ = trained
    params = VisualizeParams(steps=4, lr=0.05, jitter=2, scale=0.1, rotate=10, l1=1.0, diversity=0.5)
    chosen = [states[0], states[3]]
    images, values = visualize_epochs(model, chosen, "conv2", vx, params, 2, "relu", 5, CPU)
    assert images.shape == (2, 16, 2, 28, 28) and images.dtype == np.uint8
    for i, state in enumerate(chosen):
        model.load_state_dict(state)
        generator = torch.Generator().manual_seed(5)
        start = torch.randn((32, 1, 28, 28), generator=generator) * 0.5
        alone = ascended_images(
            lambda x: model.features(model.standardise(x), upto="conv2"), start, torch.arange(16).repeat_interleave(2),
            dataclasses.replace(params, seeds=2), "relu", transforms_of(params, generator),
            torch.from_numpy(background_of(vx)).float(), diverse=32)
        # the same ascent; only float rounding differs between the batched and the single run
        assert np.abs(images[i].reshape(32, 28, 28).astype(int) - alone.astype(int)).max() <= 1
        flat = images[i].reshape(32, 28, 28)
        own = objective_values(model, "conv2", flat, "channel", "relu", CPU)[np.arange(32), np.arange(16).repeat(2)]
        assert np.allclose(values[i].ravel(), own)
    assert not np.array_equal(images[0], images[1])
    empty, none = visualize_epochs(model, [], "conv1", vx, params, 1, "relu", 5, CPU)
    assert empty.shape == (0, 6, 1, 28, 28) and none.shape == (0, 6, 1)


def test_the_embedded_epochs_are_spread_and_keep_the_chosen_ones():
    assert spread_epochs(range(10), 31) == list(range(10))
    picked = spread_epochs(range(61), 31, [7, 33])
    assert len(picked) == 31 and {0, 7, 33, 60} <= set(picked) and picked == sorted(set(picked))
    gaps = np.diff(picked)
    assert gaps.max() <= 3
