"""A folder dataset is watched by DVC: an image edited, added or removed after a run shows in
`dvc status` and reruns download; hidden folders, 16-bit images and 300 classes go through it; and a stage that fails half way (train, after training, while
writing its records) replaces none of its outputs."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import numpy as np
from PIL import Image

from conftest import ROOT, copy_tree
from featuremaps.data.store import read_split
from synthetic import write_shape_folder


def test_a_changed_folder_is_noticed_and_reruns_download(baseline, tmp_path):
    repo = baseline
    folder = write_shape_folder(tmp_path / "shapes", 6, sizes=((16, 16),))
    (folder / ".git").mkdir()  # what a real folder holds besides: hidden folders at the root and deeper
    (folder / ".ipynb_checkpoints/x").mkdir(parents=True)
    Image.new("L", (16, 16)).save(folder / ".ipynb_checkpoints/x/0.png")
    (folder / "bar/.thumbnails").mkdir()
    (folder / "bar/.thumbnails/t.png").write_text("not an image")
    repo.set_params(data={"source": "folder", "folder": str(folder), "image_size": [16, 16]})
    repo.repro("download")
    assert "download" not in repo.status()
    meta = json.loads((repo.path / "data/dataset/meta.json").read_text())
    assert meta["classes"] == ["bar", "cross", "disc"] and sum(meta["counts"].values()) == 18

    def changed_then_rerun() -> dict:
        status = repo.status()
        assert {"changed deps": {str(folder): "modified"}} in status["download"], status
        repo.repro("download")
        assert "download" not in repo.status()
        return json.loads((repo.path / "data/dataset/meta.json").read_text())

    image = sorted((folder / "bar").glob("*.png"))[0]  # one image edited
    Image.new("RGB", (16, 16), (255, 255, 255)).save(image)
    edited = changed_then_rerun()
    assert edited["counts"] == meta["counts"] and edited["sha256"] != meta["sha256"]
    Image.new("RGB", (16, 16), (9, 9, 200)).save(folder / "disc/new.png")  # one added
    added = changed_then_rerun()
    assert sum(added["counts"].values()) == sum(meta["counts"].values()) + 1
    (folder / "disc/new.png").unlink()  # and removed again: the edited dataset once more
    assert changed_then_rerun()["sha256"] == edited["sha256"]

    # 300 classes of 16-bit images through the same stage: uint16 labels, levels scaled (k * 257 -> k)
    many = tmp_path / "many"
    for c in range(300):
        (many / f"k{c:03d}").mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((8, 8), (c % 256) * 257, dtype=np.uint16)).save(many / f"k{c:03d}/{i}.png")
    repo.set_params(data={"source": "folder", "folder": str(many), "image_size": "auto", "val_fraction": 0.5})
    repo.repro("download")
    meta = json.loads((repo.path / "data/dataset/meta.json").read_text())
    assert len(meta["classes"]) == 300 and meta["channels"] == 1
    images, labels = read_split(repo.path / "data/dataset", "val")
    assert labels.dtype == np.uint16 and sorted(labels.tolist()) == list(range(300))
    assert all(int(images[k].max()) == int(labels[k]) % 256 for k in range(300))


def test_a_train_that_fails_while_writing_its_records_replaces_nothing(stage_outputs, tmp_path):
    run = tmp_path / "run"
    copy_tree(stage_outputs, run)
    outputs = ["data/model", "reports/metrics.json", "reports/plots/history.csv", "reports/plots/confusion.csv"]

    def hashes() -> dict:
        files = [p for name in outputs for p in ([run / name] if (run / name).is_file() else (run / name).rglob("*"))]
        return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}
    before = hashes()
    assert "data/model/model.pt" in before and "data/model/snapshots.pt" in before
    # the real stage script, with the last record (confusion.csv) failing as a class name that cannot be encoded did
    inject = ("import runpy, featuremaps.model.records as r\n"
              "def failing(path, frame):\n"
              "    if path.name == 'confusion.csv':\n"
              "        raise UnicodeEncodeError('utf-8', 'bad', 0, 1, 'surrogates not allowed')\n"
              "    return write(path, frame)\n"
              "write, r.write_csv = r.write_csv, failing\n"
              "runpy.run_path('stages/train.py', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", inject], cwd=run, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 1 and "UnicodeEncodeError" in proc.stderr, proc.stderr[-2000:]
    assert "epoch 1/1" in proc.stderr  # it trained, then failed
    assert hashes() == before
    assert not [p for p in run.rglob(".*.tmp*")], "a temporary file was left"
