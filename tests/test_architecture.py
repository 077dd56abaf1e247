"""The user's own network under the real DVC: `dvc exp run -S 'model.conv_channels=[8,16,32]' -S
model.kernel_size=5` runs the whole pipeline; the explorer links every feature of all three layers;
`featuremaps compare` against the default network matches the layers they share and names the one
it could not."""
from __future__ import annotations

import json

import torch

from browser import offline_page
from test_compare import compare, numbers


def test_a_deeper_network_with_5x5_kernels_runs_end_to_end(baseline, tmp_path, capsys):
    project = baseline
    project.dvc("exp", "run", "-n", "deep", "-S", "model.conv_channels=[8,16,32]", "-S", "model.kernel_size=5")
    ckpt = torch.load(project.path / "data/model/model.pt", weights_only=True)
    assert ckpt["config"]["conv_channels"] == [8, 16, 32] and ckpt["config"]["kernel_size"] == 5
    assert ckpt["state_dict"]["conv3.weight"].shape == (32, 16, 5, 5)
    metrics = json.loads((project.path / "reports/interpretability.json").read_text())
    assert sorted(metrics) == ["conv1", "conv2", "conv3"]

    channels = {"conv1": 8, "conv2": 16, "conv3": 32}
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
