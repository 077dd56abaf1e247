"""Settings that work together, through the real `dvc exp run`: a shorter run keeps the default
timelapse.vis_epochs valid, a one-channel layer is ablated as far as it can be, and after `dvc exp apply`
of a shallower network no figure or DVCLive image of a layer it lacks is left behind."""
from __future__ import annotations

import json


def test_a_short_deep_run_with_a_one_channel_layer_then_exp_apply_of_a_shallower_one(baseline, tmp_path):
    repo = baseline
    default = {"vis_epochs": [0, 1, 2, 5, "last"]}
    repo.set_params(timelapse=default, attribute={"ablate_k": 3})  # the defaults, which SMALL overrides
    repo.dvc("exp", "run", "-n", "two")  # the two-layer network with them (timelapse and render rerun)
    # two epochs with the default vis_epochs, three layers, the first of one channel: nothing to refuse
    proc = repo.dvc("exp", "run", "-n", "three", "-S", "train.epochs=2", "-S", "model.conv_channels=[1,4,4]")
    log = proc.stdout + proc.stderr
    assert "timelapse.vis_epochs: the default's epoch 5 not kept by this run" in log, log[-3000:]
    metrics = json.loads((repo.path / "reports/interpretability.json").read_text())
    assert metrics["conv1"]["ablate_k"] == 0 and metrics["conv1"]["k_most_selective_drop"] is None
    assert metrics["conv2"]["ablate_k"] == metrics["conv3"]["ablate_k"] == 3
    figures, live = repo.path / "reports/figures", repo.path / "live/plots/images"
    assert (figures / "conv3_feature_maps.png").exists() and (live / "conv3_filters").is_dir()
    repo.dvc("exp", "apply", "two")
    assert not [p.name for p in figures.iterdir() if p.name.startswith("conv3")]
    assert not [p.name for p in live.iterdir() if p.name.startswith("conv3")]
    assert (figures / "conv2_feature_maps.png").exists()
    assert repo.status() == {}  # the workspace is exactly the applied run
