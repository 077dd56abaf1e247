
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featuremaps.errors import ArgumentError, ArtifactError
from featuremaps.model import device as device_module
from featuremaps.model.checkpoint import load_checkpoint, save_checkpoint
from featuremaps.model.device import select_device
from featuremaps.model.network import build_model, conv_layer_names, model_config, normalised_images
from featuremaps.model.records import metrics_of
from featuremaps.model.step import TrainStep
from featuremaps.model.training import evaluate, fit, train_one_epoch
from featuremaps.params import ModelParams, TrainParams
from synthetic import meta_for, grey_model, synthetic_images

CPU = torch.device("cpu")


@pytest.mark.parametrize("shape, n_classes", [((28, 28), 10), ((32, 20), 4), ((9, 13), 26)])
def test_model_shapes(shape, n_classes):
    model = grey_model(ModelParams(conv_channels=(5, 7)), shape, n_classes)
    assert model(torch.zeros(3, 1, *shape)).shape == (3, n_classes)
    assert model.fc1.in_features == 7 * (shape[0] // 4) * (shape[1] // 4)
    assert conv_layer_names(model) == ["conv1", "conv2"]
    assert [n for n, _ in model.named_children()][:5] == ["conv1", "conv2", "pool", "fc1", "fc2"]


def test_seed_architecture_by_default():
    model = grey_model()
    assert (model.conv1.out_channels, model.conv2.out_channels) == (6, 16)
    assert (model.fc1.in_features, model.fc1.out_features, model.fc2.out_features) == (784, 120, 84)
    assert model.dropout.p == 0.1 and model.dropout2d.p == 0.1


def tiny_data(n=256, seed=0):
    """(uint8 images, labels) as training takes them."""
    return synthetic_images(n, seed=seed)


def tiny_inputs(n=256, seed=0):
    """(the model's float input, int64 labels) of tiny_data."""
    x, y = synthetic_images(n, seed=seed)
    return normalised_images(grey_model(), x), torch.from_numpy(y).long()


def test_normalisation_is_applied_once():
    x = normalised_images(grey_model(mean=0.5, std=0.25), np.array([[[0, 255]]], dtype=np.uint8))
    assert x.shape == (1, 1, 1, 2)
    np.testing.assert_allclose(x.flatten().numpy(), [-2.0, 2.0])


def test_colour_normalisation_is_per_channel_and_matches_the_differentiable_one():
    model = build_model(model_config(ModelParams(), meta_for((4, 4), 10, 3)), [0.5, 0.2, 0.0], [0.25, 0.5, 1.0])
    pixels = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    pixels[0, 1, 2] = (255, 51, 255)  # one pixel of image 0: channels (R, G, B)
    x = normalised_images(model, pixels)
    assert x.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(x[0, :, 1, 2].numpy(), [(1 - 0.5) / 0.25, (0.2 - 0.2) / 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(x[1, :, 0, 0].numpy(), [-2.0, -0.4, 0.0], atol=1e-6)
    from_float = model.standardise(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255)
    assert torch.equal(from_float, x)
    with pytest.raises(ArgumentError, match="images with 1 channel"):
        normalised_images(model, pixels[..., 0])


@pytest.mark.parametrize("blocks, kernel, batch_norm, fc", [((8, 16, 32), 5, False, (64,)), ((4,), 3, True, ()),
                                                           ((3, 4, 5, 6), 3, True, (10, 10, 10))])
def test_architecture_from_params(blocks, kernel, batch_norm, fc):
    params = ModelParams(conv_channels=blocks, kernel_size=kernel, batch_norm=batch_norm, fc_units=fc)
    model = grey_model(params, (28, 20), 7, channels=3)
    assert conv_layer_names(model) == [f"conv{i + 1}" for i in range(len(blocks))]
    assert [getattr(model, f"conv{i + 1}").out_channels for i in range(len(blocks))] == list(blocks)
    assert model.conv1.in_channels == 3 and model.conv1.kernel_size == (kernel, kernel)
    h, w = 28 >> len(blocks), 20 >> len(blocks)
    assert model.fc1.in_features == blocks[-1] * h * w
    fcs = [model.fc1.out_features] + [getattr(model, f"fc{i + 2}").out_features for i in range(len(fc))]
    assert fcs == [*fc, 7]
    x = torch.randn(2, 3, 28, 20)
    assert model(x).shape == (2, 7)
    for name in conv_layer_names(model):  # padding keeps the size, each block halves it
        i = int(name[4:])
        assert model.features(x, upto=name).shape[2:] == (28 >> (i - 1), 20 >> (i - 1))
        assert (model.output_module(name) is getattr(model, "bn" + name[4:], None)) == batch_norm


def test_too_many_blocks_for_the_image_are_refused():
    with pytest.raises(ArgumentError, match="^5 conv blocks pool a 28x20 image below 1 px; at most 4 fit$"):
        grey_model(ModelParams(conv_channels=(2, 2, 2, 2, 2)), (28, 20), 10)
    grey_model(ModelParams(conv_channels=(2, 2, 2, 2)), (28, 20), 10)


def test_default_network_draws_the_same_initial_weights_as_the_seed_notebook():
    """Made in the notebook's order (conv1, conv2, fc1..fc3), the seeded start is the notebook's own."""
    torch.manual_seed(0)
    model = grey_model()
    torch.manual_seed(0)
    conv1, conv2 = torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.Conv2d(6, 16, 3, padding=1)
    fc1, fc2, fc3 = torch.nn.Linear(784, 120), torch.nn.Linear(120, 84), torch.nn.Linear(84, 10)
    for name, layer in zip(("conv1", "conv2", "fc1", "fc2", "fc3"), (conv1, conv2, fc1, fc2, fc3)):
        assert torch.equal(getattr(model, name).weight, layer.weight) and torch.equal(getattr(model, name).bias,
                                                                                      layer.bias)
    assert [n for n, _ in model.named_parameters()] == [f"{layer}.{p}" for layer in ("conv1", "conv2", "fc1", "fc2",
                                                                                     "fc3") for p in ("weight", "bias")]


def test_a_checkpoint_of_the_earlier_format_reads_as_the_same_network(tmp_path):
    """Before the architecture came from params: config conv1_channels..fc2_units, scalar mean and std."""
    torch.manual_seed(0)
    model = grey_model(mean=0.1307, std=0.3081)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("pixel_")}
    old = {"state_dict": state, "config": {"image_shape": [28, 28], "n_classes": 10, "conv1_channels": 6,
                                           "conv2_channels": 16, "fc1_units": 120, "fc2_units": 84, "dropout": 0.1,
                                           "dropout2d": 0.1},
           "mean": 0.1307, "std": 0.3081, "classes": list("0123456789")}
    torch.save(old, tmp_path / "old.pt")
    loaded, ckpt = load_checkpoint(tmp_path / "old.pt", {"image_shape": [28, 28], "n_classes": 10, "in_channels": 1})
    assert ckpt["config"]["conv_channels"] == [6, 16] and ckpt["config"]["fc_units"] == [120, 84]
    x, _ = synthetic_images(8)
    with torch.inference_mode():
        assert torch.equal(loaded(normalised_images(loaded, x)), model.eval()(normalised_images(model, x)))


def test_one_epoch_lowers_the_loss():
    torch.manual_seed(0)
    x, y = tiny_data()
    model = grey_model()
    before, _ = evaluate(model, x, y, 128, CPU)
    params = TrainParams(batch_size=16, lr=3e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=params.lr)
    stats = train_one_epoch(model, x, y, opt, params, torch.Generator().manual_seed(0), CPU)
    after, _ = evaluate(model, x, y, 128, CPU)
    assert after.loss < before.loss * 0.8
    assert 0 <= stats.accuracy <= 1 and stats.loss > 0


def run_fit(epochs=2, seed=0, **kw):
    torch.manual_seed(seed)
    x, y = tiny_data(320)
    vx, vy = tiny_data(80, seed=1)
    model = grey_model()
    params = TrainParams(epochs=epochs, batch_size=32, **kw)
    return model, fit(model, x, y, vx, vy, params, seed, CPU)


def test_fit_keeps_best_epoch_and_is_deterministic():
    _, a = run_fit(3)
    _, b = run_fit(3)
    assert a.history == b.history
    losses = [h["val_loss"] for h in a.history]
    assert a.best_epoch == int(np.argmin(losses)) + 1
    assert [h["lr"] for h in a.history] == pytest.approx([1e-3, 1e-3 * 0.995, 1e-3 * 0.995 ** 2])
    metrics = metrics_of(a, "cpu (2 threads)")
    assert metrics["val_loss"] == min(losses) and metrics["epochs"] == 3
    assert metrics["train_loss"] == a.history[-1]["train_loss"]
    assert set(metrics) == {"val_accuracy", "val_loss", "best_epoch", "train_accuracy", "train_loss",
                            "epochs", "train_seconds", "images_per_second", "device"}
    assert metrics["device"] == "cpu (2 threads)"
    _, c = run_fit(3, seed=1)
    assert c.history != a.history


def test_pooling_before_relu_is_the_notebooks_network():
    """The notebook applied ReLU, then pooling; pooling first gives the same outputs and gradients."""
    torch.manual_seed(0)
    model = grey_model(ModelParams(dropout=0.0, dropout2d=0.0), (28, 28), 10)
    x, y = tiny_inputs(64)
    x[:, :, :6] = x[0, 0, 0, 0]  # a flat background: equal values in many pooling windows

    def notebook(m, inputs):
        h = m.pool(F.relu(m.conv1(inputs)))
        h = m.pool(F.relu(m.conv2(h)))
        h = F.relu(m.fc1(torch.flatten(h, 1)))
        return m.fc3(F.relu(m.fc2(h)))

    grads = []
    for forward in (model, lambda inputs: notebook(model, inputs)):
        model.zero_grad()
        logits = forward(x)
        F.cross_entropy(logits, y).backward()
        grads.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    assert torch.equal(grads[0][0], grads[1][0])
    assert all(torch.equal(a, b) for a, b in zip(grads[0][1], grads[1][1]))


def test_bf16_precision_trains_and_the_step_stays_eager_on_the_cpu():
    model, result = run_fit(1, precision="bf16")
    assert np.isfinite(result.history[0]["train_loss"]) and 0 <= result.history[0]["val_accuracy"] <= 1
    step = TrainStep(model, torch.optim.AdamW(model.parameters()), TrainParams(batch_size=32), CPU)
    x, y = tiny_inputs(32)
    loss, logits = step(x, y)
    assert step.graph is None and not step.graphed and logits.shape == (32, 10) and loss.item() > 0


def test_rescore_train_uses_eval_mode_over_the_whole_split():
    model, result = run_fit(1, rescore_train=True)
    x, y = tiny_data(320)
    # The last epoch's model is the best one here (a single epoch); rescoring equals evaluate().
    stats, _ = evaluate(model, x, y, 64, CPU)
    assert result.history[0]["train_loss"] == pytest.approx(stats.loss, rel=1e-5)


def test_checkpoint_round_trip(tmp_path):
    model, _ = run_fit(1)
    model.eval()
    config = model_config(ModelParams(), meta_for((28, 28), 10))
    save_checkpoint(tmp_path / "model.pt", model, config, [str(i) for i in range(10)])
    save_checkpoint(tmp_path / "again.pt", model, config, [str(i) for i in range(10)])
    # The same weights give the same bytes, so DVC sees an unchanged model after a retrain.
    assert (tmp_path / "model.pt").read_bytes() == (tmp_path / "again.pt").read_bytes()
    raw = torch.load(tmp_path / "model.pt", weights_only=True, map_location="cpu")
    assert raw["config"] == config and raw["classes"][3] == "3"
    loaded, ckpt = load_checkpoint(tmp_path / "model.pt", {"image_shape": [28, 28], "n_classes": 10})
    x, _ = tiny_inputs(64)
    with torch.inference_mode():
        # same weights; the trained copy is channels-last, so allow float rounding
        np.testing.assert_allclose(loaded(x).numpy(), model(x).detach().numpy(), rtol=1e-4, atol=1e-6)
        assert (loaded(x).argmax(1) == model(x).argmax(1)).all()
    with pytest.raises(ArtifactError, match=r"was trained with image_shape=\[28, 28\] but the dataset has "
                                            r"image_shape=\[32, 32\]"):
        load_checkpoint(tmp_path / "model.pt", {"image_shape": [32, 32]})


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert select_device("auto") == torch.device(expected)
    assert select_device(expected) == torch.device(expected)
    missing = {"cuda", "mps"} - {d for d, present in (("cuda", cuda), ("mps", mps)) if present}
    for name in missing:
        available = ", ".join(device_module.available_devices())
        with pytest.raises(ArgumentError, match=f"^this machine has no {name.upper()} device; "
                                                f"available here: {available}$"):
            select_device(name)


def test_cpu_device_uses_every_core(monkeypatch):
    import featuremaps.threads as threads
    monkeypatch.setattr(threads, "cpu_count", lambda: 3)
    monkeypatch.delenv(threads.ENV_THREADS, raising=False)
    monkeypatch.setattr(threads, "busy_cores", lambda: 0)
    before = torch.get_num_threads()
    try:
        assert select_device("cpu") == CPU and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_untrusted_and_broken_checkpoints_are_refused(tmp_path):
    torch.save({"state_dict": {}, "config": {}, "mean": 0.0, "std": 1.0, "classes": [], "x": Evil()},
               tmp_path / "evil.pt")
    with pytest.raises(ArtifactError, match=r"evil.pt: refused: it holds Python objects other than tensors "
                                            r"\((builtins\.)?print\)"):
        load_checkpoint(tmp_path / "evil.pt")
    model, _ = run_fit(1)
    save_checkpoint(tmp_path / "ok.pt", model, model_config(ModelParams(), meta_for((28, 28), 10)), list("0123456789"))
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="cut.pt: not a loadable featuremaps checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    other = grey_model(ModelParams(conv_channels=(6, 8)), (28, 28), 10)
    save_checkpoint(tmp_path / "other.pt", other, model_config(ModelParams(), meta_for((28, 28), 10)), list("0123456789"))
    with pytest.raises(ArtifactError, match="other.pt: weights do not fit the model it describes"):
        load_checkpoint(tmp_path / "other.pt")
