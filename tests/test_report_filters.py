"""Which input channels of a deep layer's filter are drawn, and the filters figure that draws them."""
import numpy as np
from PIL import Image

from featuremaps.params import RenderParams
from featuremaps.report import figures as fig
from featuremaps.drawing.filters import FILTER_INPUTS, all_inputs_drawn, drawn_kernels, strongest_inputs


def test_a_narrow_filter_keeps_every_input_in_order():
    weights = np.random.default_rng(0).normal(size=(4, FILTER_INPUTS, 3, 3))
    inputs = strongest_inputs(weights)
    assert inputs.tolist() == [list(range(FILTER_INPUTS))] * 4 and all_inputs_drawn(weights, inputs)
    assert np.array_equal(drawn_kernels(weights, inputs), weights)


def test_a_wide_filter_draws_its_strongest_inputs_strongest_first():
    rng = np.random.default_rng(1)
    weights = rng.normal(scale=0.01, size=(3, 64, 3, 3))
    planted = [[40, 3, 17], [0, 63, 5], [9, 10, 11]]  # per output feature, strongest first
    for f, channels in enumerate(planted):
        for rank, c in enumerate(channels):
            weights[f, c] = 10.0 - rank  # a larger L2 norm for an earlier rank
    inputs = strongest_inputs(weights)
    assert inputs.shape == (3, FILTER_INPUTS) and not all_inputs_drawn(weights, inputs)
    assert [row[:3] for row in inputs.tolist()] == planted
    norms = np.sqrt((weights ** 2).sum((2, 3)))  # brute force: the 16 largest norms, in order
    for f in range(3):
        assert inputs[f].tolist() == sorted(range(64), key=lambda c: -norms[f, c])[:FILTER_INPUTS]
    kernels = drawn_kernels(weights, inputs)
    assert kernels.shape == (3, FILTER_INPUTS, 3, 3) and np.array_equal(kernels[1, 1], weights[1, 63])


def test_a_depthwise_filter_has_its_one_input(tmp_path):
    weights = np.random.default_rng(2).normal(size=(8, 1, 3, 3)).astype(np.float32)
    assert strongest_inputs(weights).tolist() == [[0]] * 8


def test_the_figure_of_strongest_inputs_is_drawn_with_their_channels(tmp_path):
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(5, 256, 1, 1)).astype(np.float32)  # a 1x1 conv of 256 inputs
    inputs = strongest_inputs(weights)
    params = RenderParams()
    size = fig.grid_figsize(5, inputs.shape[1], params.tile_inches * 0.6)
    fig.filters_figure(tmp_path / "f.png", params, size, "f", drawn_kernels(weights, inputs), inputs=inputs)
    image = np.asarray(Image.open(tmp_path / "f.png").convert("RGB"))
    assert image.shape[:2] == (int(size[1] * params.dpi), int(size[0] * params.dpi))
    assert (image.std(axis=(0, 1)) > 0).all()


def test_a_first_layer_on_colour_is_drawn_in_the_colour_it_answers_to():
    from matplotlib import pyplot as plt

    from featuremaps.drawing.tiles import PAD, filter_mosaic
    weights = np.zeros((3, 3, 3, 3))
    weights[0, 0], weights[0, 1:] = 1.0, -1.0       # for red, against green and blue: red
    weights[1, 2] = 0.5                              # for blue only (half as strong): light blue on grey
    weights[2] = -2.0                                # against everything: black
    image = filter_mosaic(weights, 2.0, plt.get_cmap("RdBu_r"), px=4, colour=True)
    assert image.shape[1] == PAD + 4 * (12 + PAD)   # the colour column, then the 3 input channels
    tile = lambda row: image[PAD + row * (12 + PAD) + 6, PAD + 6, :3]  # noqa: E731: the centre of a row's colour tile
    np.testing.assert_allclose(tile(0), [1, 0, 0])
    np.testing.assert_allclose(tile(1), [0.5, 0.5, 1])  # each feature on its own scale
    np.testing.assert_allclose(tile(2), [0, 0, 0])
