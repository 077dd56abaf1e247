"""Live progress under the real DVC: while a queued experiment trains, `dvc exp show` lists the epoch
it has reached (DVCLive's live/metrics.json); after both experiments, `dvc metrics diff` compares
their final metrics."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from conftest import Project


def running_epochs(shown: list) -> list:
    """The epochs DVCLive has logged in every running experiment of `dvc exp show --json`."""
    epochs = []
    for commit in shown:
        for exp in commit.get("experiments") or []:
            if (exp.get("executor") or {}).get("state") != "running":
                continue
            for rev in exp.get("revs") or []:
                metrics = ((rev.get("data") or {}).get("metrics") or {}).get("live/metrics.json") or {}
                epoch = (metrics.get("data") or {}).get("epoch")
                if epoch is not None:
                    epochs.append(epoch)
    return epochs


def test_exp_show_lists_a_running_experiments_epoch(baseline, tmp_path):
    project = baseline
    project.dvc("exp", "run", "--queue", "-n", "long", "-S", "train.epochs=60", "-S", "train.batch_size=16")
    project.dvc("exp", "run", "--queue", "-n", "short", "-S", "train.epochs=2", "-S", "train.lr=0.003")
    # Not through Project.run: the queue's worker would keep its output pipes open until the queue is done.
    subprocess.run(["dvc", "queue", "start", "-j", "1"], cwd=project.path, env=project.env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    seen, deadline = [], time.time() + 600
    try:
        while time.time() < deadline:
            status = project.dvc("queue", "status").stdout
            if "Running" not in status and "Queued" not in status:
                break
            seen += running_epochs(json.loads(project.dvc("exp", "show", "--json").stdout or "[]"))
            if len(set(seen)) >= 2:  # two different epochs of the run, seen while it ran
                break
            time.sleep(1)
        assert len(set(seen)) >= 2, (seen, status)
        while time.time() < deadline:
            status = project.dvc("queue", "status").stdout
            if "Running" not in status and "Queued" not in status:
                break
            time.sleep(3)
        else:
            pytest.fail(f"the queue was still running after 10 minutes:\n{status}")
    finally:
        project.dvc("queue", "stop", "--kill", check=False)
    assert status.count("Success") == 2, status
    diff = json.loads(project.dvc("metrics", "diff", "long", "short", "--json").stdout)
    assert diff["reports/metrics.json"]["epochs"] == {"old": 60, "new": 2, "diff": -58}
    assert diff["live/metrics.json"]["epoch"]["new"] == 2
