"""The train stage's records, written and read back: reports/metrics.json (DVC metrics) and
reports/plots/history.csv, confusion.csv (DVC plots).

metrics.json   val_accuracy, val_loss, best_epoch (lowest val loss), train_accuracy, train_loss
               (last epoch), epochs, train_seconds, images_per_second, device (with its thread
               count on the CPU: the last bits of the weights depend on it)
history.csv    one row per epoch: epoch, train/val loss and accuracy, lr
confusion.csv  one row per val image at the best epoch: actual, predicted (class names)
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from featuremaps import paths
from featuremaps.files import read_artifact, read_json, require, write_csv, write_json

if TYPE_CHECKING:  # render reads these records without importing torch
    from featuremaps.model.training import FitResult

STAGE = paths.WRITER[paths.METRICS]
METRIC_KEYS = ["val_accuracy", "val_loss", "best_epoch", "train_accuracy", "train_loss", "epochs",
               "train_seconds", "images_per_second", "device"]
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy"]
CONFUSION_COLUMNS = ["actual", "predicted"]


def metrics_of(result: FitResult, device: str) -> dict:
    best = next(row for row in result.history if row["epoch"] == result.best_epoch)
    last = result.history[-1]
    return {
        "val_accuracy": best["val_accuracy"],
        "val_loss": best["val_loss"],
        "best_epoch": result.best_epoch,
        "train_accuracy": last["train_accuracy"],
        "train_loss": last["train_loss"],
        "epochs": len(result.history),
        "train_seconds": round(result.train_seconds, 3),
        "images_per_second": round(result.train_images / max(result.train_seconds, 1e-9), 1),
        "device": device,
    }


def write_records(result: FitResult, device: str, classes: list, val_labels, metrics: Path, history: Path,
                  confusion: Path) -> dict:
    """Write the three records of a finished fit; return the metrics."""
    values = metrics_of(result, device)
    write_json(metrics, values)
    write_csv(history, pd.DataFrame(result.history))
    write_csv(confusion, pd.DataFrame({"actual": [classes[i] for i in val_labels],
                                       "predicted": [classes[i] for i in result.val_predictions]}))
    return values


def read_metrics(path: str | Path) -> dict:
    values = read_json(path, STAGE)
    require(path, values, METRIC_KEYS, "key", STAGE)
    return values


def _read_csv(path: str | Path, columns: list) -> pd.DataFrame:
    # pandas' EmptyDataError and ParserError are ValueErrors
    frame = read_artifact(path, pd.read_csv, what="a readable CSV file", stage=STAGE)
    require(path, frame.columns, columns, "column", STAGE)
    return frame


def read_history(path: str | Path) -> pd.DataFrame:
    return _read_csv(path, HISTORY_COLUMNS)


def read_confusion(path: str | Path) -> pd.DataFrame:
    return _read_csv(path, CONFUSION_COLUMNS)
