"""Live progress through DVCLive: each epoch's train and val loss and accuracy and its learning rate,
logged as the epoch ends, so `dvc exp show` (and DVC's VS Code extension and Studio) show a running
or queued experiment's latest epoch.

    live/metrics.json          the latest epoch's values, with its step (= epoch - 1)
    live/plots/metrics/*.tsv   every epoch so far, one file per value

DVCLive empties its folder when a run starts, so it has one of its own: reports/metrics.json (the
best epoch, written at the end) and history.csv stay what `dvc metrics diff` and `dvc plots` read.
dvc.yaml declares live/'s files (uncached, as DVCLive's own pipelines do); DVCLive is told not to
write a dvc.yaml or make experiments of its own.
"""
from __future__ import annotations

from pathlib import Path

LOGGED = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


class LiveLog:
    """fit's after_epoch callback: logs each finished epoch's record; a context manager."""

    def __init__(self, folder: Path):
        from dvclive import Live  # here: only the train stage needs it
        self.live = Live(dir=str(folder), save_dvc_exp=False, dvcyaml=None)

    def __call__(self, epoch: int, model, record) -> None:
        if record is None:  # epoch 0: nothing trained yet
            return
        self.live.log_metric("epoch", record["epoch"], plot=False)
        for name in LOGGED:
            self.live.log_metric(name, float(record[name]))
        self.live.next_step()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.live.end()
