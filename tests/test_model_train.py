
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
from synthetic import synthetic_images

CPU = torch.device("cpu")


@pytest.mark.parametrize("shape, n_classes", [((28, 28), 10), ((32, 20), 4), ((9, 13), 26)])
def test_model_shapes(shape, n_classes):
    model = build_model(model_config(ModelParams(conv1_channels=5, conv2_channels=7), shape, n_classes))
    assert model(torch.zeros(3, 1, *shape)).shape == (3, n_classes)
    assert model.fc1.in_features == 7 * (shape[0] // 4) * (shape[1] // 4)
    assert conv_layer_names(model) == ["conv1", "conv2"]
    assert [n for n, _ in model.named_children()][:5] == ["conv1", "conv2", "pool", "fc1", "fc2"]


def test_seed_architecture_by_default():
    model = build_model(model_config(ModelParams(), (28, 28), 10))
    assert (model.conv1.out_channels, model.conv2.out_channels) == (6, 16)
    assert (model.fc1.in_features, model.fc1.out_features, model.fc2.out_features) == (784, 120, 84)
    assert model.dropout.p == 0.1 and model.dropout2d.p == 0.1


def tiny_data(n=256, seed=0):
    x, y = synthetic_images(n, seed=seed)
    return normalised_images(x, 0.13, 0.3), torch.from_numpy(y).long()


def test_normalisation_is_applied_once():
    x = normalised_images(np.array([[[0, 255]]], dtype=np.uint8), 0.5, 0.25)
    assert x.shape == (1, 1, 1, 2)
    np.testing.assert_allclose(x.flatten().numpy(), [-2.0, 2.0])


def test_one_epoch_lowers_the_loss():
    torch.manual_seed(0)
    x, y = tiny_data()
    model = build_model(model_config(ModelParams(), (28, 28), 10))
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
    model = build_model(model_config(ModelParams(), (28, 28), 10))
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
    model = build_model(model_config(ModelParams(dropout=0.0, dropout2d=0.0), (28, 28), 10))
    x, y = tiny_data(64)
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
    x, y = tiny_data(32)
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
    config = model_config(ModelParams(), (28, 28), 10)
    save_checkpoint(tmp_path / "model.pt", model, config, 0.13, 0.3, [str(i) for i in range(10)])
    save_checkpoint(tmp_path / "again.pt", model, config, 0.13, 0.3, [str(i) for i in range(10)])
    # The same weights give the same bytes, so DVC sees an unchanged model after a retrain.
    assert (tmp_path / "model.pt").read_bytes() == (tmp_path / "again.pt").read_bytes()
    raw = torch.load(tmp_path / "model.pt", weights_only=True, map_location="cpu")
    assert raw["config"] == config and raw["classes"][3] == "3"
    loaded, ckpt = load_checkpoint(tmp_path / "model.pt", {"image_shape": [28, 28], "n_classes": 10})
    x, _ = tiny_data(64)
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
    save_checkpoint(tmp_path / "ok.pt", model, model_config(ModelParams(), (28, 28), 10), 0.1, 0.3, list("0123456789"))
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="cut.pt: not a loadable featuremaps checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    other = build_model(model_config(ModelParams(conv2_channels=8), (28, 28), 10))
    save_checkpoint(tmp_path / "other.pt", other, model_config(ModelParams(), (28, 28), 10), 0.1, 0.3, list("0123456789"))
    with pytest.raises(ArtifactError, match="other.pt: weights do not fit the model it describes"):
        load_checkpoint(tmp_path / "other.pt")
