"""`featuremaps compare` under the real DVC: a run against itself, against the same network with
its conv2 channels permuted, from a remote, and bad input (an experiment with another seed:
tests/test_pipeline.py)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from browser import open_offline
from conftest import ROOT, ran
from featuremaps.cli import main
from featuremaps.compare.representations import image_keys
from featuremaps.compare.sides import CompareError, Side, check_comparable
from featuremaps.model.checkpoint import load_checkpoint, save_checkpoint


def compare(project, capsys, *args):
    """(exit status, stdout, stderr) of `featuremaps compare ...` run in the project."""
    status = main(["compare", *args, "--repo", str(project.path)])
    out = capsys.readouterr()
    return status, out.out, out.err


def numbers(folder) -> dict:
    return json.loads((folder / "compare.json").read_text())


def permute_conv2(model_path, perm) -> None:
    """The same function with conv2's channels reordered: conv2's kernels and biases, and fc1's inputs."""
    model, ckpt = load_checkpoint(model_path)
    state = model.state_dict()
    index = torch.as_tensor(perm)
    state["conv2.weight"] = state["conv2.weight"][index]
    state["conv2.bias"] = state["conv2.bias"][index]
    w = state["fc1.weight"]
    state["fc1.weight"] = w.reshape(w.shape[0], len(perm), -1)[:, index].reshape(w.shape)
    model.load_state_dict(state)
    save_checkpoint(model_path, model, ckpt["config"], ckpt["classes"])


def test_compare_under_dvc(baseline, tmp_path, capsys):
    project = baseline
    # DVC reads a revision's remote from that revision's .dvc/config: it goes into the run's commit.
    project.dvc("remote", "add", "-d", "shared", str(project.tmp / "remote"))
    project.git("add", "-A")
    project.git("commit", "-q", "--amend", "--no-edit")

    # A run against itself: CKA 1, the identity matching, correlation 1.
    status, out, err = compare(project, capsys, "HEAD", "workspace", "--out", str(tmp_path / "self"))
    assert status == 0, err
    assert "conv2" in out and "1.000" in out
    same = numbers(tmp_path / "self")
    for layer in ("conv1", "conv2"):
        assert same["layers"][layer]["cka"] == pytest.approx(1.0)
        assert same["cka"][layer][layer] == pytest.approx(1.0)
        pairs = same["layers"][layer]["pairs"]
        dead = same["layers"][layer]["dead"]["a"]
        assert [(p["a"], p["b"]) for p in pairs] == [(n, n) for n in range(1, len(pairs) + len(dead) + 1)
                                                     if n not in dead]
        assert all(p["correlation"] == pytest.approx(1.0) for p in pairs)
    assert same["changed_params"] == []
    assert same["a"]["family"] == same["b"]["family"] == "builtin"
    # each layer of A with B's most like it, on the page too
    assert "<td>conv2</td><td>conv2</td><td>1.000</td>" in (tmp_path / "self/index.html").read_text()
    seen = open_offline(tmp_path / "self/index.html", tmp_path / "self.png", graphics=51)
    assert seen["external"] == [] and seen["console_errors"] == []
    assert all(ok for _, ok in seen["images_loaded"]) and seen["svg_or_canvas_with_content"] > 50

    # The same network with conv2's channels permuted (fc1 reordered to match): extract and visualize (what
    # compare reads) rerun on it, and the comparison recovers exactly that permutation.
    perm = np.random.default_rng(5).permutation(16)
    permute_conv2(project.path / "data/model/model.pt", perm)
    project.dvc("commit", "-f", "train")
    assert ran(project.repro("extract", "visualize")) == ["extract", "visualize"]
    project.commit("conv2 permuted")
    status, out, err = compare(project, capsys, "main~1", "main", "--out", str(tmp_path / "perm"))
    assert status == 0, err
    permuted = numbers(tmp_path / "perm")["layers"]
    assert permuted["conv1"]["cka"] == pytest.approx(1.0) and permuted["conv2"]["cka"] == pytest.approx(1.0)
    dead = set(permuted["conv2"]["dead"]["a"])
    expected = sorted((int(perm[j]) + 1, j + 1) for j in range(16) if perm[j] + 1 not in dead)
    assert [(p["a"], p["b"]) for p in permuted["conv2"]["pairs"]] == expected
    assert all(p["correlation"] == pytest.approx(1.0, abs=1e-6) for p in permuted["conv2"]["pairs"])
    assert len(dead) < 8

    # A revision whose outputs are only in the remote: fetched from there.
    project.dvc("push", "--all-commits")
    shutil.rmtree(project.path / ".dvc/cache")
    status, out, err = compare(project, capsys, "main~1", "main", "--out", str(tmp_path / "fetched"))
    assert status == 0, err
    assert numbers(tmp_path / "fetched")["layers"] == numbers(tmp_path / "perm")["layers"]

    # `featuremaps image --rev`: the model of a revision, through DVC; the permuted network answers the same.
    probabilities = {}
    for rev in ("main~1", "main"):
        status = main(["image", str(ROOT / "docs/examples/three_on_slate.png"), "--rev", rev, "--repo",
                       str(project.path), "--out", str(tmp_path / rev)])
        assert status == 0, capsys.readouterr().err
        shown = json.loads((tmp_path / rev / "images.json").read_text())
        assert f"of {rev} (" in shown["model"]
        probabilities[rev] = list(shown["images"][0]["probabilities"].values())
    assert np.allclose(probabilities["main~1"], probabilities["main"], atol=1e-6)
    capsys.readouterr()

    # Bad input: one line, status 1, nothing written.
    project.git("checkout", "-q", "-b", "other-data", "main")
    meta_path = project.path / "data/dataset/meta.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"]["train"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    project.dvc("commit", "-f", "download")
    project.commit("another dataset")
    project.git("checkout", "-q", "main")
    cases = {
        "no-such-rev": ("main", "no-such-rev", "unknown"),
        "no-outputs": ("main", "main~2", "has no data/"),
        "other-data": ("main", "other-data", "different datasets"),
        "no-layer": ("main", "main~1", "conv3"),
    }
    for name, (a, b, expected) in cases.items():
        extra = ["--layers", "conv2,conv3"] if name == "no-layer" else []
        status, out, err = compare(project, capsys, a, b, "--out", str(tmp_path / name), *extra)
        assert status == 1 and expected in err and len(err.strip().splitlines()) == 1, (name, err)
        assert not (tmp_path / name).exists()


def side(layers, sha="a"):
    return Side(name=f"rev-{sha}-{len(layers)}", commit="0" * 40, fs=None, folder=None,
                meta={"dataset": "mnist", "sha256": {"train": sha, "val": sha}},
                per_image=None, columns=[], image_keys=(3, "keys"), class_means={"layers": np.array(layers)},
                top_k=None, visualizations=None, model={}, metrics={}, params={})


def test_a_layer_missing_on_one_side_is_refused():
    with pytest.raises(CompareError, match=r"rev-a-1: layer conv1 was not extracted there .*: conv2$"):
        check_comparable(side(["conv1", "conv2"]), side(["conv2"]), ["conv1", "conv2"])
    check_comparable(side(["conv1", "conv2"]), side(["conv2"]), ["conv2"])
    check_comparable(side(["conv1", "conv2"]), side(["layer1", "layer2.0.relu:2"]), [])  # two architectures
    with pytest.raises(CompareError, match="different datasets"):
        check_comparable(side(["conv2"]), side(["conv2"], sha="b"), ["conv2"])


def test_compare_arguments_are_checked(capsys):
    for args, expected in ((["--threshold", "2"], "from -1 to 1"), (["--layers", ","], "layer names"),
                           (["--by", "mean"], "invalid choice")):
        with pytest.raises(SystemExit) as stop:
            main(["compare", "A", "B", *args])
        assert stop.value.code == 2 and expected in capsys.readouterr().err


def side_of(name, maps: dict, folder: Path):
    """A side whose per_image holds each layer's [images, channels] values (as its max and its sum),
    written in row groups of 16 images."""
    n = len(next(iter(maps.values())))
    per_image = {"split": ["val"] * n, "index": list(range(n))}
    for layer, values in maps.items():
        for j in range(values.shape[1]):
            per_image[f"{layer}_f{j + 1:02d}"] = values[:, j]
            per_image[f"{layer}_f{j + 1:02d}_max"] = values[:, j]
    path = folder / f"{name}.parquet"
    pd.DataFrame(per_image).to_parquet(path, row_group_size=16)
    return Side(name=name, commit="0" * 40, fs=None, folder=None, meta={"dataset": "mnist"},
                per_image=path, columns=list(per_image), image_keys=image_keys(path), top_k=None,
                visualizations=None, model={"config": {}},
                class_means={"layers": np.array(list(maps)), "activation": np.array("relu")}, metrics={}, params={})


def test_layers_of_two_architectures_found_in_each_other_by_cka(tmp_path):
    from featuremaps.compare.comparison import compare_sides, comparison_json, most_similar, summary_lines
    rng = np.random.default_rng(0)
    conv1, conv2 = rng.normal(size=(200, 6)), rng.normal(size=(200, 16))
    ours = side_of("builtin", {"conv1": conv1, "conv2": conv2}, tmp_path)
    # a ResNet's block output that holds conv2's channels reordered and scaled, and a stem unrelated to both
    theirs = side_of("resnet", {"conv1": rng.normal(size=(200, 64)),
                                "layer1.0.relu:2": 3.0 * conv2[:, rng.permutation(16)]}, tmp_path)
    assert theirs.channels("layer1.0.relu:2") == 16 and theirs.channels("conv1") == 64
    c = compare_sides(ours, theirs, [], 0.5)
    found = most_similar(c)
    assert found["conv2"][0] == "layer1.0.relu:2" and found["conv2"][1] == pytest.approx(1.0, abs=1e-12)
    assert found["conv1"][1] < 0.5  # nothing of B is conv1
    assert comparison_json(c)["most_similar_in_b"]["conv2"] == {"layer": "layer1.0.relu:2", "cka": 1.0}
    assert summary_lines(c)[-1].startswith("most similar layer of B (linear CKA): conv1 > ")
    # a model against itself: the CKA matrix's diagonal is exactly 1, and each layer finds itself
    itself = compare_sides(theirs, theirs, [], 0.5)
    assert [itself.cka[layer][layer] for layer in theirs.layers] == [1.0, 1.0]
    assert {la: lb for la, (lb, _) in most_similar(itself).items()} == {"conv1": "conv1", "layer1.0.relu:2": "layer1.0.relu:2"}


def test_compare_streams_chunks_of_images_to_the_numbers_of_the_whole_arrays(tmp_path, monkeypatch):
    """Both sides read 7 images at a time across row groups of 16: every number equals the one the
    whole [images, channels] arrays give."""
    from featuremaps.analysis.cka import chance_cka, debiased_cka, linear_cka
    from featuremaps.compare import representations
    from featuremaps.compare.comparison import compare_sides
    from featuremaps.compare.similarity import match_channels
    monkeypatch.setattr(representations, "chunk_rows", lambda n_columns: 7)
    rng = np.random.default_rng(1)
    x = {"conv1": rng.gamma(2.0, size=(300, 4)), "conv2": rng.normal(size=(300, 9))}
    y = {"conv1": x["conv1"] @ rng.normal(size=(4, 4)) + rng.normal(size=(300, 4)),
         "conv2": np.maximum(x["conv2"][:, ::-1], 0) + 0.1 * rng.normal(size=(300, 9))}
    c = compare_sides(side_of("a", x, tmp_path), side_of("b", y, tmp_path), ["conv1", "conv2"], 0.5)
    for la in x:
        for lb in y:
            assert c.cka[la][lb] == pytest.approx(linear_cka(x[la], y[lb]), rel=1e-10)
        assert c.debiased[la] == pytest.approx(debiased_cka(x[la], y[la]), rel=1e-10)
        assert c.shuffled[la] == pytest.approx(chance_cka(x[la], y[la]), rel=1e-10)
        whole = match_channels(x[la], y[la], 0.5)
        assert [p[:2] for p in c.matches[la].pairs] == [p[:2] for p in whole.pairs]
        assert np.allclose(c.matches[la].correlation, whole.correlation, atol=1e-12)
    assert [a for a, b, _ in c.matches["conv2"].pairs if a + b == 10] == list(range(1, 10))  # reversed channels found
