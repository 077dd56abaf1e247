"""Atomic writes: every writer of the project puts its bytes under a temporary name matching
TEMP_PATTERN beside the output, leaves the old file untouched until then, and renames."""
import fnmatch
import json
import os

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from synthetic import grey_model, meta_for
from featuremaps.errors import ArtifactError
from featuremaps.files import TEMP_PATTERN, atomic_path, read_artifact, require, write_csv, write_json, write_npz, \
    write_text
from featuremaps.model.checkpoint import save_checkpoint
from featuremaps.model.network import build_model, model_config
from featuremaps.params import ModelParams
from featuremaps.report import figures
from featuremaps.tables import write_parquet

matplotlib.use("Agg")


def figure_png(path):
    fig = figures.plt.figure(figsize=(1, 1))
    figures.save(fig, path, 20)


WRITERS = {
    "text": lambda p: write_text(p, "new"),
    "json": lambda p: write_json(p, {"new": 1}),
    "npz": lambda p: write_npz(p, x=np.arange(3)),
    "csv": lambda p: write_csv(p, pd.DataFrame({"a": [1]})),
    "parquet": lambda p: write_parquet(p, {"a": np.arange(3)}, {"activation": "relu"}),
    "checkpoint": lambda p: save_checkpoint(p, grey_model(ModelParams(), (8, 8), 3),
                                            model_config(ModelParams(), meta_for((8, 8), 3)), ["a", "b", "c"]),
    "figure": figure_png,
}


@pytest.mark.parametrize("name", WRITERS)
def test_every_writer_renames_a_temporary_file_into_place(tmp_path, monkeypatch, name):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    renames, real_replace = [], os.replace

    def spy(src, dst):
        assert os.fspath(dst) == os.fspath(path)
        assert path.read_bytes() == b"old", "the output was written before the rename"
        assert os.path.dirname(src) == os.fspath(tmp_path) and fnmatch.fnmatch(os.path.basename(src), TEMP_PATTERN)
        renames.append(src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    WRITERS[name](path)
    assert len(renames) == 1
    assert path.read_bytes() != b"old"
    assert sorted(tmp_path.iterdir()) == [path]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]


def test_a_leftover_of_a_killed_write_is_removed_by_the_next(tmp_path):
    leftover = tmp_path / ".out.json.k1ll3d.tmp.json"
    leftover.write_text("half")
    write_json(tmp_path / "out.json", [1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_read_artifact_names_the_stage_to_run(tmp_path):
    with pytest.raises(ArtifactError, match=r"nope.csv: not found; run the train stage first \(dvc repro\)$"):
        read_artifact(tmp_path / "nope.csv", pd.read_csv, what="a readable CSV file", stage="train")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ArtifactError, match=r"empty.csv: not a readable CSV file \(No columns to parse from file\); "
                                            r"rerun the train stage$"):
        read_artifact(tmp_path / "empty.csv", pd.read_csv, what="a readable CSV file", stage="train")
    with pytest.raises(ArtifactError, match=r"f: missing columns b, c; expected a, b, c; rerun the extract stage$"):
        require("f", ["a"], ["a", "b", "c"], "column", "extract")
    require("f", ["c", "b", "a"], ["a", "b", "c"], "column", "extract")


def test_checkpoint_bytes_do_not_depend_on_the_temporary_name(tmp_path):
    model = grey_model(ModelParams(), (8, 8), 3)
    for name in ("a.pt", "b.pt"):
        save_checkpoint(tmp_path / name, model, model_config(ModelParams(), meta_for((8, 8), 3)), ["a", "b", "c"])
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert torch.load(tmp_path / "a.pt", weights_only=True)["classes"] == ["a", "b", "c"]


def test_a_stage_that_fails_replaces_none_of_its_outputs(tmp_path):
    # files and folders written inside together() appear only when the block succeeds, all of them
    from featuremaps.files import atomic_folder, together
    write_json(tmp_path / "metrics.json", {"old": 1})
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "a.png").write_text("old")
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(UnicodeEncodeError), together():
        write_json(tmp_path / "metrics.json", {"new": 2})
        with atomic_folder(tmp_path / "live") as tmp:
            (tmp / "b.png").write_text("new")
        assert json.loads((tmp_path / "metrics.json").read_text()) == {"old": 1}  # not yet replaced
        write_csv(tmp_path / "confusion.csv", pd.DataFrame({"actual": ["bad\udcff"]}))  # fails
    assert {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # no temporary left
    with together():
        write_json(tmp_path / "metrics.json", {"new": 2})
        write_json(tmp_path / "metrics.json", {"new": 3})  # written twice: the last one counts
        with atomic_folder(tmp_path / "live") as tmp:
            (tmp / "b.png").write_text("new")
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"new": 3}
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["b.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live", "metrics.json"]
