"""featuremaps sweep's study, on runs read from folders (the team workflow through DVC is in
test_sweep_team.py): known answers for CKA, the seed-to-seed floor, the table and the bad inputs."""
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from browser import is_blank, open_offline
from conftest import copy_tree, run_stage
from featuremaps import paths
from featuremaps.analysis.cka import linear_cka
from featuremaps.errors import FeaturemapsError
from featuremaps.params import RenderParams
from featuremaps.sweep.output import checked_metrics, write_sweep
from featuremaps.sweep.runs import Run, SweepError, check_one_dataset, checked_names, read_representation, \
    run_from_folder
from featuremaps.sweep.study import study_json, study_of


def permuted_model(source, target, layer: str, order: list) -> None:
    """model.pt with `layer`'s output channels in `order`: the same function, its channels renumbered.
    `layer` is the last conv layer: fc1's inputs (channel-major after the flatten) follow."""
    ckpt = torch.load(source, weights_only=True)
    state = ckpt["state_dict"]
    perm = torch.tensor(order)
    state[f"{layer}.weight"] = state[f"{layer}.weight"][perm].clone()
    state[f"{layer}.bias"] = state[f"{layer}.bias"][perm].clone()
    fc = state["fc1.weight"]
    per_channel = fc.shape[1] // len(order)
    state["fc1.weight"] = fc.view(fc.shape[0], len(order), per_channel)[:, perm].reshape(fc.shape).clone()
    torch.save(ckpt, target)


def test_permuted_channels_have_cka_one_and_render_only_runs_exactly_one(stage_outputs, tmp_path):
    permuted = tmp_path / "permuted"
    copy_tree(stage_outputs, permuted)
    layers = torch.load(stage_outputs / paths.MODEL, weights_only=True)["config"]["conv_channels"]
    assert len(layers) == 2
    order = list(np.random.default_rng(3).permutation(layers[1]))
    assert order != sorted(order)
    permuted_model(stage_outputs / paths.MODEL, permuted / paths.MODEL, "conv2", order)
    run_stage(permuted, "extract")

    source = run_from_folder("source", "a" * 40, stage_outputs)
    again = run_from_folder("again", "b" * 40, stage_outputs)  # the same model read twice, as a render-only change
    moved = run_from_folder("permuted", "c" * 40, permuted)
    # the same function: every prediction unchanged, conv2's columns a permutation of the source's
    per_image = [pd.read_parquet(f / paths.ACTIVATIONS / "per_image.parquet") for f in (stage_outputs, permuted)]
    assert (per_image[0]["pred"] == per_image[1]["pred"]).all()
    np.testing.assert_allclose(features_of(moved)["conv2"], features_of(source)["conv2"][:, order], rtol=1e-5, atol=1e-5)

    s = study_of([source, again, moved], source)
    assert s.cka["again"] == {"conv1": 1.0, "conv2": 1.0}  # exactly: the same representation
    assert s.cka["permuted"]["conv1"] == 1.0
    assert s.cka["permuted"]["conv2"] == pytest.approx(1.0, abs=1e-9)
    assert s.changed == []  # the three runs have the same params.yaml


def representation_file(path: Path, features: dict, keys: pd.DataFrame) -> Path:
    """A per_image.parquet holding `features` ({layer: [images, channels]}) as strongest-unit columns."""
    frame = keys.copy()
    for layer, x in features.items():
        for j in range(x.shape[1]):
            frame[f"{layer}_f{j + 1:02d}_max"] = x[:, j]
    frame.to_parquet(path, row_group_size=16)  # row groups that cut the images, as a large run's do
    return path


def features_of(run: Run) -> dict:
    """{layer: float32 [images, channels]} of a run's representation, read whole (for the expected values)."""
    frame = pd.read_parquet(run.representation.path)
    return {layer: frame[columns].to_numpy() for layer, columns in run.representation.columns.items()}


def fake_run(name: str, features: dict, keys: pd.DataFrame, folder: Path, sha="s", **params) -> Run:
    nested = {}
    for key, value in params.items():
        section, _, leaf = key.partition("__")
        if leaf:
            nested.setdefault(section, {})[leaf] = value
        else:
            nested[section] = value
    accuracy = float(np.mean(features["conv1"][:, 0] > 0))
    return Run(name=name, commit=name.ljust(40, "0"), params=nested,
               metrics={"val_accuracy": accuracy, "val_loss": 1 - accuracy, "best_epoch": 3, "device": "cpu"},
               interpretability={"conv1": {"mean_selectivity": accuracy / 2, "dead_channels": 0}},
               meta={"dataset": "mnist", "sha256": {"train": sha, "val": sha}},
               representation=read_representation(representation_file(folder / f"{name}.parquet", features, keys)))


@pytest.fixture
def grid(tmp_path):
    """Runs of seeds 0..2 at two widths, with features drawn at random per run."""
    keys = pd.DataFrame({"split": ["val"] * 50, "index": np.arange(50)})
    rng = np.random.default_rng(0)
    runs = []
    for width in (4, 8):
        for seed in range(3):
            features = {"conv1": rng.normal(size=(50, 3)).astype(np.float32),
                        "conv2": rng.normal(size=(50, width)).astype(np.float32)}
            runs.append(fake_run(f"w{width}s{seed}", features, keys, tmp_path, seed=seed, model__conv_channels=[3, width],
                                 render__cmap="viridis"))
    return runs


def test_floor_groups_seeds_of_the_same_settings(grid):
    ref = grid[0]
    s = study_of(list(reversed(grid)), ref)
    assert s.changed == ["model.conv_channels", "seed"]
    assert [r.name for r in s.runs] == ["w4s0", "w4s1", "w4s2", "w8s0", "w8s1", "w8s2"]
    assert len(s.groups) == 2
    by = {r.name: r for r in grid}
    for group in s.groups:
        width = group.setting["model.conv_channels"][1]
        assert sorted(group.runs) == [f"w{width}s{i}" for i in range(3)]
        for layer in ("conv1", "conv2"):
            expected = sorted(linear_cka(features_of(by[a])[layer], features_of(by[b])[layer])
                              for a, b in combinations(group.runs, 2))
            assert sorted(group.cka[layer]) == pytest.approx(expected, abs=1e-12)
    for run in grid:
        assert s.cka[run.name]["conv2"] == pytest.approx(linear_cka(features_of(ref)["conv2"], features_of(run)["conv2"]),
                                                         abs=1e-12)
    low, mean = s.floor("conv2")
    every = [v for g in s.groups for v in g.cka["conv2"]]
    assert (low, mean) == (min(every), pytest.approx(np.mean(every)))
    numbers = study_json(s)
    assert [r["name"] for r in numbers["runs"]] == [r.name for r in s.runs]
    for row in numbers["runs"]:
        assert row["metrics"] == by[row["name"]].metrics  # as the run's metrics.json holds them
        assert row["params"] == {"model.conv_channels": by[row["name"]].params["model"]["conv_channels"],
                                 "seed": by[row["name"]].params["seed"]}


def test_no_floor_without_two_seeds_of_one_setting(grid):
    s = study_of([grid[0], grid[3]], grid[0])  # seed 0 of each width
    assert s.changed == ["model.conv_channels"] and s.groups == []
    assert np.isnan(s.floor("conv1")[0])


def test_page_figure_and_numbers(grid, tmp_path):
    s = study_of(grid, grid[0])
    (tmp_path / "reports/compare/w4s0-vs-w8s1").mkdir(parents=True)
    (tmp_path / "reports/compare/w4s0-vs-w8s1/index.html").write_text("<html></html>")
    out = tmp_path / "reports/sweep"
    out.mkdir(parents=True)
    metrics = checked_metrics(s, None)
    assert metrics == ["val_accuracy", "conv1.cka", "conv2.cka", "conv1.mean_selectivity"]
    write_sweep(out, out, s, metrics, RenderParams(dpi=40), tmp_path)
    page = (out / "index.html").read_text()
    assert page.count('href="../compare/w4s0-vs-w8s1/index.html"') == 1  # made: linked
    assert "featuremaps compare w4s0 w8s2" in page  # not made: the command
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = json.loads((out / "sweep.json").read_text())
    assert numbers["reference"] == "w4s0" and len(numbers["seed_floor"]) == 2
    with pytest.raises(FeaturemapsError, match=r"^--metrics conv9.cka: no run has it; choose from val_accuracy, "):
        checked_metrics(s, ["conv9.cka"])
    # offline in a real browser: the figure loads, nothing is fetched, nothing fails
    seen = open_offline(out / "index.html", tmp_path / "page.png")
    assert seen["external"] == [] and seen["failed"] == [] and seen["console_errors"] == []
    assert seen["images_loaded"] == [["sweep.png", True]] and not is_blank(tmp_path / "page.png")


def test_bad_input_one_line(grid, tmp_path):
    with pytest.raises(SweepError, match=r"^a sweep reads at least two runs; got 1 \(HEAD\): .*dvc exp run --queue"):
        checked_names(["HEAD", "HEAD"])
    keys = pd.read_parquet(grid[1].representation.path, columns=["split", "index"])
    other = fake_run("fashion", features_of(grid[1]), keys, tmp_path, sha="t", seed=1)
    with pytest.raises(SweepError, match=r"^fashion and w4s0 were made from different datasets"):
        check_one_dataset([grid[0], other], grid[0])
    fewer = fake_run("fewer", {k: v[:40] for k, v in features_of(grid[1]).items()}, keys[:40], tmp_path, seed=1)
    with pytest.raises(SweepError, match=r"^fewer and w4s0: the activations cover different images"):
        check_one_dataset([grid[0], fewer], grid[0])


@pytest.mark.parametrize("grid, values", [
    ("seed=range(0,5)", [0, 1, 2, 3, 4]),
    ("train.lr=choice(0.001,0.003)", [0.001, 0.003]),
    ("model.conv_channels=choice([6,16],[6,32],[12,32])", [[6, 16], [6, 32], [12, 32]]),
    ("model.fc_units=choice([],[120,84])", [[], [120, 84]]),
])
def test_the_documented_grids_expand_to_valid_params(grid, values):
    """The README's queue syntax, expanded by DVC as `dvc exp run --queue -S` does, gives params we accept."""
    import yaml
    from dvc.utils.hydra import get_hydra_sweeps

    from featuremaps.params import params_from_dict
    key = grid.split("=")[0]
    found = []
    for sweep in get_hydra_sweeps({"params.yaml": [grid]}):
        (override,) = sweep["params.yaml"]
        name, _, text = override.partition("=")
        assert name == key
        value = yaml.safe_load(text)
        section, _, leaf = key.partition(".")
        params_from_dict({section: {leaf: value}} if leaf else {section: value})  # raises on a refused value
        found.append(value)
    assert found == values
    assert grid in (Path(__file__).parents[1] / "README.md").read_text()
