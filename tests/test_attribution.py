"""Grad-CAM, per-class means, channel ablation and the interpretability metrics, against known answers."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featuremaps.analysis.ablation import ablated, ablation_table, channel_statistics, class_accuracy, \
    interpretability_metrics, predictions, selectivity_index
from featuremaps.analysis.attribution import class_mean_gradcam, example_indices, gradcam
from featuremaps.model.network import build_model, model_config, normalised_images
from featuremaps.params import ModelParams
from synthetic import grey_model, synthetic_images

CPU = torch.device("cpu")
MEAN, STD = 0.13, 0.3
CLASSES = [str(i) for i in range(10)]


@pytest.fixture
def model():
    torch.manual_seed(0)
    return grey_model().eval()


@pytest.fixture(scope="module")
def data():
    return synthetic_images(120, seed=3)


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_gradcam_is_the_gradient_weighted_sum_of_the_maps(model, data, layer):
    images, labels = data
    x = normalised_images(model, images[:9])
    target = torch.from_numpy(labels[:9].astype(np.int64))
    # by hand: the layer's maps A and d(logit of the target)/dA through a hook
    store = {}
    handle = getattr(model, layer).register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    logits = model(x)
    handle.remove()
    maps = store["a"]
    grads, = torch.autograd.grad(logits[torch.arange(9), target].sum(), maps)
    weights = grads.mean((2, 3), keepdim=True)
    by_hand = F.relu((weights * maps).sum(1, keepdim=True))
    by_hand = F.interpolate(by_hand, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(gradcam(model, layer, x, target).numpy(), by_hand.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_rectified_gradcam_weighs_the_maps_after_relu_with_the_same_weights(model, data, layer):
    """attribute.gradcam_map: rectified, by hand: the gradient at ReLU(A) in the network conv -> ReLU ->
    pool (the same function, since max pooling and ReLU commute) has the same spatial means as the
    gradient at A; the sum is of ReLU(A)."""
    images, labels = data
    x = normalised_images(model, images[:9])
    target = torch.from_numpy(labels[:9].astype(np.int64))
    store = {}

    def rectify(m, i, o):
        store["a"], store["r"] = o, F.relu(o)
        return store["r"]
    handle = getattr(model, layer).register_forward_hook(rectify)
    logits = model(x)
    handle.remove()
    with torch.no_grad():
        assert torch.equal(logits, model(x))  # the same function
    g_rect, g_conv = torch.autograd.grad(logits[torch.arange(9), target].sum(), [store["r"], store["a"]])
    weights = g_rect.mean((2, 3), keepdim=True)
    assert torch.allclose(weights, g_conv.mean((2, 3), keepdim=True), atol=1e-7)
    by_hand = F.relu((weights * store["r"]).sum(1, keepdim=True))
    by_hand = F.interpolate(by_hand, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    got = gradcam(model, layer, x, target, "rectified")
    np.testing.assert_allclose(got.numpy(), by_hand.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got, gradcam(model, layer, x, target, "conv"))  # the two readings differ


def test_class_mean_gradcam_is_exact_whatever_the_batch(model, data):
    images, labels = data
    (a, counts, mean_input), (b, _, _) = (class_mean_gradcam(model, ["conv2"], images, labels, 10, n, CPU)
                                          for n in (7, 1000))
    x = normalised_images(model, images)
    full = gradcam(model, "conv2", x, torch.from_numpy(labels.astype(np.int64))).double().numpy()
    for c in range(10):
        np.testing.assert_allclose(a["conv2"][c], full[labels == c].mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b["conv2"][c], full[labels == c].mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=10))
    np.testing.assert_allclose(mean_input[4], images[labels == 4].mean(0), rtol=1e-12)


def test_ablating_a_silent_channel_changes_nothing(model, data):
    images, labels = data
    with torch.no_grad():
        model.conv2.weight[5].zero_()
        model.conv2.bias[5] = 0.0
    table = ablation_table(model, ["conv2"], images, labels, predictions(model, images, 32, CPU), 
                           CLASSES, 32, CPU)
    rows = [(a, b) for ch, a, b in zip(table["channel"], table["accuracy"], table["baseline"]) if ch == 6]
    assert len(rows) == 11 and all(a == b or (np.isnan(a) and np.isnan(b)) for a, b in rows)


def test_ablating_every_channel_leaves_the_class_the_biases_pick(model, data):
    images, labels = data
    with torch.no_grad():  # what the fully connected layers say about an all-zero conv2 output
        zeros = torch.zeros(1, model.fc1.in_features)
        bias_class = int(model.fc3(F.relu(model.fc2(F.relu(model.fc1(zeros))))).argmax())
    with ablated(model, "conv2", range(16)):
        preds = predictions(model, images, 50, CPU)
    assert (preds == bias_class).all()
    expected = np.zeros(10)
    expected[bias_class] = 1.0
    np.testing.assert_array_equal(class_accuracy(labels, preds, 10), expected)


def test_selectivity_index_known_answers():
    means = np.zeros((10, 3))
    means[4, 0] = 2.5          # fires for one class only
    means[:, 1] = 1.7          # equally for all
    assert selectivity_index(means).tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-12)  # the third is silent
    means[:, 2] = [3, 1, 1, 1, 1, 1, 1, 1, 1, 1]  # (3 - 1) / (3 + 1)
    assert selectivity_index(means)[2] == pytest.approx(0.5)
    means[:, 2] = [4, 2, 0, 0, 0, 0, 0, 0, 0, 0]  # mu_rest is the mean of the nine others: 2/9
    assert selectivity_index(means)[2] == pytest.approx((4 - 2 / 9) / (4 + 2 / 9))


def test_metrics_count_dead_channels_and_find_the_largest_drop(model, data):
    images, labels = data
    with torch.no_grad():  # channel 3 can never fire
        model.conv1.weight[2].zero_()
        model.conv1.bias[2] = -1.0
    stats = channel_statistics(model, ["conv1"], images, labels, 10, 16, CPU)
    table = ablation_table(model, ["conv1"], images, labels, predictions(model, images, 64, CPU), 
                           CLASSES, 64, CPU)
    metrics = interpretability_metrics(stats, table)["conv1"]
    assert metrics["dead_channels"] == 1 and stats["conv1"][1][2] == 0
    drops = {c: b - a for c, k, a, b in zip(table["channel"], table["class"], table["accuracy"], table["baseline"])
             if k == "all"}
    assert metrics["max_accuracy_drop"] == pytest.approx(max(drops.values()), abs=1e-6)
    assert drops[metrics["max_drop_channel"]] == max(drops.values())
    # per-class means of the post-ReLU spatial mean, by brute force
    with torch.no_grad():
        act = F.relu(model.conv1(normalised_images(model, images))).mean((2, 3)).double().numpy()
    np.testing.assert_allclose(stats["conv1"][0][7], act[labels == 7].mean(0), rtol=1e-9)


def test_example_images_are_one_per_class_then_misclassified():
    labels = np.array([1, 0, 1, 2, 0, 2])
    preds = np.array([1, 2, 1, 2, 1, 0])
    assert example_indices(labels, preds, 3, 2).tolist() == [1, 0, 3, 4]  # 1 is already listed
    assert example_indices(labels, preds, 4, 0).tolist() == [1, 0, 3]
