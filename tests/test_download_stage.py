"""End to end: the download stage under the real `dvc repro`."""
import json

import numpy as np


def test_download_stage_under_dvc(project):
    out = project.repro("download").stdout
    assert "Running stage 'download'" in out
    meta = json.loads((project.path / "data/dataset/meta.json").read_text())
    assert meta["source"] == "idx" and meta["counts"] == {"train": 300, "val": 100}
    images = np.load(project.path / "data/dataset/train_images.npy")
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert np.load(project.path / "data/dataset/train_labels.npy").dtype == np.uint8
    assert "/dataset" in (project.path / "data/.gitignore").read_text()
    again = project.repro("download").stdout
    assert "Running stage" not in again


def test_bad_param_stops_download_with_one_line(project):
    project.set_params(data={"val_fraction": 1.5})
    proc = project.repro("download", check=False)
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert lines == ["error: params.yaml: data.val_fraction = 1.5 is not allowed; "
                     "expected a number in (0.0, 1.0)"]
    assert not (project.path / "data/dataset").exists()
