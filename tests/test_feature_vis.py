"""Feature visualization and receptive fields, against known answers on a trained model."""

import numpy as np
import pytest
import torch
from torch import nn

from synthetic import grey_model
from featuremaps.analysis.feature_vis import LayerVisualization, background_of, dataset_best, neuron_optimum, \
    objective_values, parametrised, pixels_of, progress_line, transformed, visualize_layer
from featuremaps.analysis.feature_vis_store import read_visualizations
from featuremaps.data.store import read_split
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.network import build_model, model_config, receptive_field
from featuremaps.params import ModelParams, VisualizeParams

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def trained(stage_outputs):
    """(model, train images) of the pipeline run on the small generated dataset."""
    model, _ = load_checkpoint(stage_outputs / "data/model/model.pt")
    images, _ = read_split(stage_outputs / "data/dataset", "train")
    return model, images


def test_neuron_on_conv1_finds_the_sign_pattern_of_its_kernel(trained):
    """Maximising one conv1 unit: inside its 3x3 receptive field the input becomes 255 where the
    weight is positive and 0 where it is negative (normalisation is increasing, the unit linear)."""
    model, images = trained
    params = VisualizeParams(objective="neuron", jitter=0, seeds=2, steps=256)
    vis = visualize_layer(model, "conv1", images, params, "relu", 0, CPU)
    kernels = model.conv1.weight.detach().numpy()[:, 0]
    cy, cx = np.array(images.shape[1:]) // 2
    for f, kernel in enumerate(kernels):
        expected = np.where(kernel > 0, 255, 0)
        for found in [*vis.images[f], vis.refined_images[f]]:
            patch = found[cy - 1:cy + 2, cx - 1:cx + 2].astype(int)
            assert np.abs(patch - expected).max() <= 3, (f, patch, kernel)


def test_optimised_inputs_beat_the_best_dataset_image(trained, stage_outputs):
    """For every feature of both layers, the best optimised input scores at least as high as the
    dataset image that scores highest, measured the same way on stored pixels."""
    model, images = trained
    stored = read_visualizations(stage_outputs / "data/visualizations", ["conv1", "conv2"])
    assert str(stored["objective"]) == "channel" and int(stored["seeds"]) == 4
    for layer in ("conv1", "conv2"):
        best = np.maximum(stored[f"{layer}_values"].max(1), stored[f"{layer}_refined_values"])
        dataset_value = stored[f"{layer}_dataset_value"]
        assert (best >= dataset_value).all(), (layer, best / dataset_value)
        # the stored values are the objective of the stored pixels, and of the stored dataset image
        f = 2
        measured = objective_values(model, layer, stored[f"{layer}_images"][f], "channel", "relu", CPU)
        np.testing.assert_allclose(measured[:, f], stored[f"{layer}_values"][f], rtol=1e-6)
        index = stored[f"{layer}_dataset_index"]
        every = objective_values(model, layer, images, "channel", "relu", CPU)
        np.testing.assert_array_equal(index, every.argmax(0))
        np.testing.assert_allclose(dataset_value, every.max(0), rtol=1e-9)


def test_same_params_same_images(trained):
    model, images = trained
    params = VisualizeParams(steps=30, seeds=2)
    a = visualize_layer(model, "conv2", images, params, "relu", 7, CPU)
    b = visualize_layer(model, "conv2", images, params, "relu", 7, CPU)
    c = visualize_layer(model, "conv2", images, params, "relu", 8, CPU)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.shape == (16, 2, 28, 28) and a.images.dtype == np.uint8


def test_dataset_best_streams_to_the_same_answer(trained):
    model, images = trained
    full = dataset_best(model, "conv2", images, "neuron", "raw", CPU, batch_size=10_000)
    small = dataset_best(model, "conv2", images, "neuron", "raw", CPU, batch_size=7)
    np.testing.assert_array_equal(full[0], small[0])
    np.testing.assert_allclose(full[1], small[1], rtol=1e-6)


@pytest.mark.parametrize("shape, params", [((28, 28), ModelParams()), ((32, 20), ModelParams()),
                                           ((28, 28), ModelParams(conv_channels=(2, 2, 2), kernel_size=5)),
                                           ((20, 32), ModelParams(conv_channels=(2, 2, 2), kernel_size=5))])
def test_receptive_field_is_where_the_gradient_reaches(shape, params):
    """Every unit of every conv layer, borders included: the box computed from the layers' kernels,
    strides and paddings equals the bounding box of the input pixels with a non-zero gradient
    (weights one, biases zero, input ones so no ReLU is off; max pooling passes the gradient to one
    input of each window, so the test swaps in average pooling of the same geometry)."""
    model = grey_model(params, shape, 10).eval()
    layers = model.conv_layers
    with torch.no_grad():
        for layer in layers:
            getattr(model, layer).weight.fill_(1.0)
            getattr(model, layer).bias.zero_()
    pool = model.pool
    model.pool = nn.AvgPool2d(pool.kernel_size, pool.stride, pool.padding)
    for layer in layers:
        h, w = model.features(torch.zeros(1, 1, *shape), upto=layer).shape[2:]
        units = [(y, x) for y in range(h) for x in range(w)]
        x = torch.ones(len(units), 1, *shape, requires_grad=True)
        out = model.features(x, upto=layer)
        out[torch.arange(len(units)), 0, [u[0] for u in units], [u[1] for u in units]].sum().backward()
        path = model.spatial_path(layer)
        for i, (y, xx) in enumerate(units):
            rows, cols = np.nonzero(x.grad[i, 0].numpy())
            assert (rows.min(), cols.min(), rows.max(), cols.max()) == receptive_field(path, y, xx, shape), (layer, y, xx)
    if params.kernel_size == 3:  # by hand: a conv2 unit in the middle sees 8x8 pixels (3x3 conv, 2x2 pool, 3x3 conv)
        assert receptive_field(model.spatial_path("conv2"), 5, 5, shape) == (7, 7, 14, 14)
    else:  # conv3 row 2 sees its input rows 0..4; pool: 0..9; conv2 (pad 2): -2..11; pool: -4..23; conv1: -6..25
        assert receptive_field(model.spatial_path("conv3"), 2, 2, shape) == (0, 0, min(shape[0] - 1, 25),
                                                                            min(shape[1] - 1, 25))


def test_the_log_names_dead_features_instead_of_dividing_by_zero():
    values = np.array([[2.0, 3.0], [0.0, 0.0], [1.0, 4.0], [0.0, 0.0]])  # features 2 and 4: nothing excites them
    nothing = np.full(4, np.nan)
    vis = LayerVisualization(np.zeros((4, 2, 3, 3), np.uint8), values, np.zeros((4, 3, 3), np.uint8),
                             np.array([4.0, 0.0, 2.0, 0.0]), np.arange(4), np.array([2.0, 0.0, 1.0, 0.0]),
                             np.zeros((0, 3, 3), np.uint8), np.zeros(0), nothing, nothing)
    with np.errstate(all="raise"):
        line = progress_line(vis, VisualizeParams(seeds=2, steps=8), "train", 1.0)
    # live features: each seed / best image = 2/2, 3/2, 1/1, 4/1; refined = 4/2 and 2/1
    assert "every seed min 1.00 median 1.25 (0 of 4 below 1), refined min 2.00 median 2.00" in line
    assert line.endswith("; dead (zero or below on every train image): features 2, 4")
    all_dead = LayerVisualization(vis.images, values * 0, vis.refined_images, vis.refined_values * 0, vis.dataset_index,
                                  vis.dataset_value * 0, vis.negative_images, vis.negative_values, nothing, nothing)
    with np.errstate(all="raise"):
        line = progress_line(all_dead, VisualizeParams(seeds=2, steps=8), "train", 1.0)
    assert "nan" not in line and "objective" not in line and line.endswith("features 1, 2, 3, 4")


@pytest.mark.parametrize("batch_norm", [False, True])
def test_the_centre_units_exact_optimum_by_hand_and_by_brute_force(batch_norm):
    """A conv1 unit is affine in its 3x3 pixels (normalisation and batch norm are increasing or
    decreasing affine maps), so its maximum is at a corner of the pixel cube: by hand, bias plus
    each weight times the normalised value of 255 (positive weight) or 0 (negative); by brute
    force, the best of all 512 black-and-white receptive fields."""
    torch.manual_seed(3)
    model = grey_model(ModelParams(conv_channels=(2, 4), batch_norm=batch_norm), mean=0.2, std=0.4).eval()
    kernel = torch.tensor([[0.5, -1.0, 0.25], [0.0, 2.0, -0.5], [-0.75, 1.0, 0.1]])
    with torch.no_grad():
        model.conv1.weight[0, 0] = kernel
        model.conv1.weight[1, 0] = -kernel
        model.conv1.bias[:] = torch.tensor([0.3, 0.1])
        if batch_norm:  # channel 2 flipped by a negative gamma
            model.bn1.weight[:] = torch.tensor([1.5, -2.0])
            model.bn1.bias[:] = torch.tensor([0.2, 0.05])
            model.bn1.running_mean[:] = torch.tensor([0.1, -0.3])
            model.bn1.running_var[:] = torch.tensor([0.5, 2.0])
    images, values = neuron_optimum(model, "conv1", (28, 28), "raw", CPU)
    w = kernel.double().numpy()
    pre = [0.3 + np.sum(np.where(w > 0, w * (1 - 0.2) / 0.4, w * (0 - 0.2) / 0.4)),
           0.1 + np.sum(np.where(-w > 0, -w * (1 - 0.2) / 0.4, -w * (0 - 0.2) / 0.4))]
    if batch_norm:  # channel 2 is maximised where its conv output is smallest
        low = 0.1 + np.sum(np.where(-w < 0, -w * (1 - 0.2) / 0.4, -w * (0 - 0.2) / 0.4))
        pre = [1.5 * (pre[0] - 0.1) / np.sqrt(0.5 + 1e-5) + 0.2, -2.0 * (low + 0.3) / np.sqrt(2.0 + 1e-5) + 0.05]
    np.testing.assert_allclose(values, pre, rtol=1e-5)
    assert np.array_equal(images[0, 13:16, 13:16], np.where(w > 0, 255, 0))
    corners = np.array([[(c >> i) & 1 for i in range(9)] for c in range(512)], dtype=np.uint8).reshape(512, 3, 3) * 255
    field = np.zeros((512, 28, 28), np.uint8)
    field[:, 13:16, 13:16] = corners
    brute = objective_values(model, "conv1", field, "neuron", "raw", CPU).max(0)
    np.testing.assert_allclose(values, brute, rtol=1e-5)


def test_moves_keep_the_pixels_and_fill_with_the_background():
    x = torch.rand(2, 1, 6, 6)
    bg = torch.tensor([0.25])
    shifted = transformed(x, (1, -2, 1.0, 0.0), bg)  # content down 1, left 2
    assert torch.equal(shifted[:, :, 1:, :4], x[:, :, :5, 2:])
    assert (shifted[:, :, 0] == 0.25).all() and (shifted[:, :, :, 4:] == 0.25).all()
    turned = transformed(x, (0, 0, 1.0, 90.0), bg)  # a quarter turn about the centre lands on pixel centres
    assert any(torch.allclose(turned, torch.rot90(x, k, (2, 3)), atol=1e-5) for k in (1, 3))
    assert torch.allclose(transformed(x, (0, 0, 1.0, 360.0), bg), x, atol=1e-5)
    assert torch.equal(transformed(x, (0, 0, 1.0, 0.0), bg), x)
    small = transformed(torch.ones(1, 1, 8, 8), (0, 0, 0.5, 0.0), bg)  # half size: a 4x4 square on the background
    assert torch.allclose(small[0, 0, 2:6, 2:6], torch.ones(4, 4)) and (small[0, 0, 0] == 0.25).all()


@pytest.mark.parametrize("parametrisation", ["sigmoid", "fourier"])
def test_each_parametrisation_starts_from_the_same_pixels(parametrisation):
    logits = torch.randn(3, 2, 7, 10)
    z = parametrised(logits, parametrisation)
    assert torch.allclose(pixels_of(z, parametrisation, (7, 10)), torch.sigmoid(logits), atol=1e-6)


def test_the_background_is_the_border_median():
    grey = np.zeros((5, 8, 8), np.uint8)
    grey[:, 3:5, 3:5] = 255  # ink in the middle, black around: MNIST's background
    paper = 255 - grey
    assert background_of(grey).tolist() == [0.0] and background_of(paper).tolist() == [1.0]
    colour = np.zeros((2, 6, 6, 3), np.uint8)
    colour[..., 2] = 51
    assert np.allclose(background_of(colour), [0.0, 0.0, 0.2])


def test_the_negative_lowers_the_feature_and_every_seed_is_scored(trained):
    model, images = trained
    params = VisualizeParams(steps=60, seeds=2)
    vis = visualize_layer(model, "conv2", images, params, "relu", 1, CPU)
    lowest = objective_values(model, "conv2", images, "channel", "raw", CPU).min(0)
    assert vis.negative_images.shape == (16, 28, 28)
    assert (vis.negative_values < lowest).mean() > 0.5  # below every dataset image for most features
    own = objective_values(model, "conv2", vis.negative_images, "channel", "raw", CPU)[np.arange(16), np.arange(16)]
    np.testing.assert_allclose(vis.negative_values, own)
    assert np.isnan(vis.neuron_optimum).all()  # conv2 has no closed form
    first = visualize_layer(model, "conv1", images, params, "relu", 1, CPU)
    assert (first.neuron_optimum >= first.neuron_reached - 1e-6).all() and (first.neuron_reached > 0).any()
    none = visualize_layer(model, "conv1", images, VisualizeParams(steps=5, seeds=1, negative=False), "relu", 1, CPU)
    assert none.negative_images.shape == (0, 28, 28) and none.negative_values.shape == (0,)
