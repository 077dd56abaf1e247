"""compare and sweep reading the workspace say in one line when its outputs may not belong together (a
stale stage, or a DVC command writing them now), and print experiment names shell-quoted."""
from __future__ import annotations

import json
import os
import subprocess

from featuremaps.revisions import running_dvc, workspace_warning


def test_a_running_dvc_is_seen_from_its_write_lock(tmp_path):
    (tmp_path / ".dvc/tmp").mkdir(parents=True)
    lock = tmp_path / ".dvc/tmp/rwlock"
    assert running_dvc(tmp_path) is None  # no lock file
    child = subprocess.Popen(["true"])
    child.wait()
    lock.write_text(json.dumps({"read": {}, "write": {"data/model": {"pid": child.pid, "cmd": "dvc repro"}}}))
    assert running_dvc(tmp_path) is None  # left by a process that is gone
    lock.write_text(json.dumps({"read": {}, "write": {"data/model": {"pid": os.getpid(), "cmd": "dvc repro"}}}))
    assert running_dvc(tmp_path) == "dvc repro"
    assert workspace_warning(tmp_path).startswith("the workspace is being written by a running `dvc repro`")


def test_compare_warns_about_a_stale_workspace(baseline, tmp_path):
    repo = baseline
    assert workspace_warning(repo.path) is None  # as committed: current
    repo.set_params(seed=1)  # the stages that read seed are now stale
    line = workspace_warning(repo.path)
    assert line.startswith("the workspace is not up to date (dvc status: ") and "train" in line
    assert line.endswith("changed): its outputs may mix runs; run `dvc repro` first")
    proc = repo.run("featuremaps", "compare", "HEAD", "workspace", "--out", str(tmp_path / "cmp"), check=False)
    warnings = [l for l in proc.stderr.splitlines() if l.startswith("warning: ")]  # noqa: E741
    assert warnings == [f"warning: {line}"], proc.stderr
    proc = repo.run("featuremaps", "compare", "HEAD", "HEAD", "--out", str(tmp_path / "cmp2"), check=False)
    assert "warning:" not in proc.stderr  # the workspace is not read: nothing to say


def test_the_sweep_page_quotes_experiment_names():
    from types import SimpleNamespace
    from featuremaps.sweep.page import compare_cell
    study = SimpleNamespace(ref=SimpleNamespace(name="HEAD"))
    assert compare_cell(study, "m;x$(id)&y", {}, None) == "<code>featuremaps compare HEAD &#x27;m;x$(id)&amp;y&#x27;</code>"
    assert compare_cell(study, "exp-1", {}, None) == "<code>featuremaps compare HEAD exp-1</code>"
