"""The user's own network under the real DVC, with settings that must work together: `dvc exp run -S
train.epochs=2 -S 'model.conv_channels=[1,16,32]' -S model.kernel_size=5` runs the whole pipeline (the
default timelapse.vis_epochs kept valid by the shorter run, the one-channel layer ablated as far as it can
be); the explorer links every feature of all three layers; `featuremaps compare` against the default
network matches the layers they share and names the one it could not; and after `dvc exp apply` of a
shallower network no figure or DVCLive image of a layer it lacks is left behind."""
from __future__ import annotations

import json

import torch

from browser import offline_page
from test_compare import compare, numbers


def test_a_short_deep_5x5_run_with_a_one_channel_layer_then_exp_apply_of_a_shallower_one(baseline, tmp_path,
                                                                                          capsys):
    project = baseline
    default = {"vis_epochs": [0, 1, 2, 5, "last"]}
    project.set_params(timelapse=default, attribute={"ablate_k": 3})  # the defaults, which SMALL overrides
    project.dvc("exp", "run", "-n", "two")  # the two-layer network with them (timelapse and render rerun)
    # two epochs with the default vis_epochs, three 5x5 layers, the first of one channel: nothing to refuse
    proc = project.dvc("exp", "run", "-n", "deep", "-S", "train.epochs=2", "-S", "model.conv_channels=[1,16,32]",
                       "-S", "model.kernel_size=5")
    log = proc.stdout + proc.stderr
    assert "timelapse.vis_epochs: the default's epoch 5 not kept by this run" in log, log[-3000:]
    ckpt = torch.load(project.path / "data/model/model.pt", weights_only=True)
    assert ckpt["config"]["conv_channels"] == [1, 16, 32] and ckpt["config"]["kernel_size"] == 5
    assert ckpt["state_dict"]["conv3.weight"].shape == (32, 16, 5, 5)
    metrics = json.loads((project.path / "reports/interpretability.json").read_text())
    assert sorted(metrics) == ["conv1", "conv2", "conv3"]
    assert metrics["conv1"]["ablate_k"] == 0 and metrics["conv1"]["k_most_selective_drop"] is None
    assert metrics["conv2"]["ablate_k"] == metrics["conv3"]["ablate_k"] == 3
    figures, live = project.path / "reports/figures", project.path / "live/plots/images"
    assert (figures / "conv3_feature_maps.png").exists() and (live / "conv3_filters").is_dir()

    channels = {"conv1": 1, "conv2": 16, "conv3": 32}
    page_path = (project.path / "reports/index.html").resolve()
    with offline_page(1280) as (page, seen):
        page.goto(page_path.as_uri())
        links = page.eval_on_selector_all("#features a", "as => as.map(a => a.getAttribute('href'))")
        assert links == [f"#{layer}/{n}" for layer, count in channels.items() for n in range(1, count + 1)]
        page.goto(page_path.as_uri() + "#conv3/5")
        page.wait_for_function("document.querySelector('#view h2')?.textContent === 'conv3 \u00b7 feature 5'",
                               timeout=120_000)
        drawn = page.evaluate("""Array.from(document.querySelectorAll('#view canvas')).map(c =>
            c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v > 0))""")
        assert len(drawn) > 20 and all(drawn)
        assert "5x5" in page.inner_text("#view")  # the filter's size
        page.screenshot(path=str(tmp_path / "conv3.png"), full_page=True)
    assert seen["external"] == [] and seen["failed"] == [] and seen["console_errors"] == []

    status, out, err = compare(project, capsys, "main", "deep", "--out", str(tmp_path / "deep"))
    assert status == 0, err
    assert "not matched: conv3 (only in deep; main has conv1, conv2)" in out
    found = numbers(tmp_path / "deep")
    assert sorted(found["layers"]) == ["conv1", "conv2"]
    assert 0 <= found["layers"]["conv2"]["cka"] <= 1

    project.dvc("exp", "apply", "two")
    assert not [p.name for p in figures.iterdir() if p.name.startswith("conv3")]
    assert not [p.name for p in live.iterdir() if p.name.startswith("conv3")]
    assert (figures / "conv2_feature_maps.png").exists()
    assert project.status() == {}  # the workspace is exactly the applied run
