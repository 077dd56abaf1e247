"""A stage killed half way leaves nothing DVC could record; the next `dvc repro` completes
with the results of an uninterrupted run. Two `dvc repro` at once: DVC's lock keeps one out."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml
from conftest import ROOT, assert_unchanged, new_project, run_stage, snapshot, stage_folder

from synthetic import write_idx_folder

# Slow enough to be killed inside the training loop and inside extraction.
SLOW = dict(train={"epochs": 2, "batch_size": 32}, extract={"batch_size": 1})
# Killed after its first epoch: so many left that the stage is still training when the signal lands,
# however late a loaded machine lets this test read the line (no race with the last epoch).
LONG = {"epochs": 50}


def kill_when(proj, marker: str, delay: float = 0.0, timeout: float = 300) -> str:
    """Start `dvc repro extract`, SIGKILL it and its stage the moment `marker` appears in its output
    (after `delay` seconds); return the output seen."""
    proc = subprocess.Popen(["dvc", "repro", "extract"], cwd=proj.path, env=proj.env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, deadline = [], time.time() + timeout
    for line in proc.stdout:
        seen.append(line)
        if marker in line or time.time() > deadline:
            time.sleep(delay)
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert marker in "".join(seen), "".join(seen)
    return "".join(seen)


def stage_outs(proj) -> dict:
    """Each stage's recorded outputs and their hashes, from dvc.lock."""
    lock = yaml.safe_load((proj.path / "dvc.lock").read_text())["stages"]
    return {name: {o["path"]: o["md5"] for o in stage.get("outs", [])} for name, stage in lock.items()}


def untimed_metrics(proj) -> dict:
    metrics = json.loads((proj.path / "reports/metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in ("train_seconds", "images_per_second")}


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    # 7,000 images: extraction at batch 1 takes about a second
    return write_idx_folder(tmp_path_factory.mktemp("idx"), n_train=6000, n_test=1000)


def test_sigkill_in_train_and_in_extract_then_repro_gives_the_same_results(tmp_path, idx):
    # Up to extract, the stages killed here: those after it read only its and train's outputs, compared below.
    reference = new_project(tmp_path / "reference", idx, **SLOW)
    reference.repro("extract")

    proj = new_project(tmp_path / "killed", idx, **SLOW)
    proj.set_params(train=LONG)
    kill_when(proj, "featuremaps.train: epoch 1/50")  # inside the training loop
    assert not (proj.path / "data/model/model.pt").exists()
    assert {"train", "extract", "render"} <= set(proj.status())
    assert set(stage_outs(proj)) == {"check", "download"}
    proj.set_params(train=SLOW["train"])

    kill_when(proj, "featuremaps: extracting", delay=0.1)  # inside extraction (about 1 s here)
    assert not (proj.path / "data/activations/per_image.parquet").exists()
    assert {"extract", "render"} <= set(proj.status()) and "train" not in proj.status()

    proj.repro("extract")
    assert proj.status("extract") == {}
    ours, theirs = stage_outs(proj), stage_outs(reference)
    for outs in (ours, theirs):  # this one shows the training time
        del outs["train"]["reports/metrics.json"]
    assert set(ours) == {"check", "download", "train", "extract"}
    assert ours == theirs  # dataset, model, history, snapshots, activations: the same bytes
    assert untimed_metrics(proj) == untimed_metrics(reference)

    # Killed while retraining with new params: the previous outputs stay, byte for byte.
    proj.set_params(train={"lr": 0.002, **LONG})
    before, lock_before = snapshot(proj.path), (proj.path / "dvc.lock").read_bytes()
    kill_when(proj, "featuremaps.train: epoch 1/50")
    assert_unchanged(proj, before, lock_before)
    assert "train" in proj.status()


def test_two_repros_at_once(baseline):
    project = baseline
    project.set_params(render={"cmap": "magma"})  # check and render to rerun: seconds for the two to overlap
    runs = {}

    def repro(i):
        start = time.monotonic()
        proc = subprocess.Popen(["dvc", "repro"], cwd=project.path, env=project.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        out = proc.communicate(timeout=600)[0]
        runs[i] = (start, time.monotonic(), proc.returncode, out)

    threads = [threading.Thread(target=repro, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts, ends, codes, outputs = zip(*runs.values())
    assert max(starts) < min(ends), "the two runs did not overlap"
    assert 0 in codes
    for code, out in zip(codes, outputs):
        if code != 0:
            assert "lock" in out.lower(), out
    # Every stage recorded, and every recorded output is the file on disk (status compares hashes).
    assert set(stage_outs(project)) == {"check", "download", "train", "extract", "visualize", "attribute", "timelapse",
                                        "render"}
    assert project.status() == {}


def test_ctrl_c_stops_a_stage_with_one_line(tmp_path, idx):
    folder = stage_folder(tmp_path, idx, **{**SLOW, "train": {**SLOW["train"], **LONG}})
    run_stage(folder, "download")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # A shell's background job ignores SIGINT, and Python keeps an ignored SIGINT ignored: give the
    # stage the default, as a terminal's Ctrl-C finds it, whatever started this test.
    proc = subprocess.Popen([sys.executable, "stages/train.py"], cwd=folder, env=env, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "epoch 1/50" in line:
            proc.send_signal(signal.SIGINT)
            break
    seen += proc.stderr.readlines()
    assert proc.wait() == 130
    assert seen[-1] == "interrupted: run `dvc repro` again to finish\n"
    assert "Traceback" not in "".join(seen)
    assert not (folder / "data/model/model.pt").exists()
    assert not list(folder.rglob(".*.tmp*"))
