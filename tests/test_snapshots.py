"""Weights while training (train.snapshot_every) and live progress through DVCLive."""
from __future__ import annotations

import json

import pytest
import torch

from featuremaps.errors import ArtifactError
from featuremaps.model.live import LiveLog
from featuremaps.model.epochs import snapshot_epochs
from featuremaps.model.snapshots import Snapshots, read_snapshots, write_snapshots
from featuremaps.model.training import fit
from featuremaps.params import TrainParams
from synthetic import grey_model, synthetic_images


@pytest.mark.parametrize("epochs, every, expected", [(15, 1, list(range(16))), (10, 4, [0, 4, 8, 10]),
                                                     (3, 5, [0, 3]), (7, 0, [])])
def test_the_epochs_snapshotted(epochs, every, expected):
    assert snapshot_epochs(epochs, every) == expected


def test_snapshots_hold_the_seeded_start_and_the_best_epoch_exactly(tmp_path):
    x, y = synthetic_images(320)
    vx, vy = synthetic_images(80, seed=1)
    torch.manual_seed(3)
    model = grey_model()
    torch.manual_seed(3)
    fresh = grey_model()
    params = TrainParams(epochs=4, batch_size=32)
    snapshots = Snapshots(snapshot_epochs(params.epochs, 1))
    with LiveLog(tmp_path / "live") as live:
        result = fit(model, x, y, vx, vy, params, 0, torch.device("cpu"),
                     after_epoch=lambda *epoch: (snapshots(*epoch), live(*epoch)))
    write_snapshots(tmp_path / "snapshots.pt", snapshots.states)
    stored = read_snapshots(tmp_path / "snapshots.pt")
    assert sorted(stored) == [0, 1, 2, 3, 4]
    assert all(torch.equal(stored[0][k], v) for k, v in fresh.state_dict().items())
    best = stored[result.best_epoch]
    assert all(torch.equal(best[k], v) for k, v in result.best_state.items())
    assert not torch.equal(stored[1]["conv1.weight"], stored[0]["conv1.weight"])
    # DVCLive: the last epoch's values, its step, and one row per epoch in each plot file
    live = json.loads((tmp_path / "live/metrics.json").read_text())
    last = result.history[-1]
    assert live["epoch"] == 4 and live["step"] == 3 and live["val_loss"] == pytest.approx(last["val_loss"])
    rows = (tmp_path / "live/plots/metrics/val_accuracy.tsv").read_text().splitlines()
    assert rows[0] == "step\tval_accuracy" and len(rows) == 5
    assert [float(r.split("\t")[1]) for r in rows[1:]] == pytest.approx([h["val_accuracy"] for h in result.history])


def test_a_broken_snapshots_file_says_which_stage_to_rerun(tmp_path):
    (tmp_path / "snapshots.pt").write_text("not a torch file")
    with pytest.raises(ArtifactError, match="snapshots.pt: not weight snapshots .*; rerun the train stage$"):
        read_snapshots(tmp_path / "snapshots.pt")
    with pytest.raises(ArtifactError, match="not found; run the train stage first"):
        read_snapshots(tmp_path / "missing.pt")
