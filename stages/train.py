"""Stage train: the network params.model describes, on data/dataset, best epoch by val loss.

    python stages/train.py      (normally run by `dvc repro`)

Writes data/model/model.pt (weights, config, classes, architecture record) and snapshots.pt (the weights at epoch 0 and while training),
reports/metrics.json, reports/plots/{history,confusion}.csv, and live/ (DVCLive: each epoch as it
ends).
"""
import logging

import torch

from featuremaps import paths
from featuremaps.cost import check_costs
from featuremaps.data.shape import data_shape
from featuremaps.data.store import read_meta, read_split
from featuremaps.model.architecture import architecture_record
from featuremaps.model.checkpoint import save_checkpoint
from featuremaps.model.device import device_name, select_device
from featuremaps.model.settings import check_model_settings
from featuremaps.model.sizes import measured_sizes
from featuremaps.model.sources import source_config, starting_model
from featuremaps.model.live import LiveLog
from featuremaps.model.records import write_records
from featuremaps.model.epochs import snapshot_epochs
from featuremaps.model.snapshots import Snapshots, write_snapshots
from featuremaps.model.training import fit
from featuremaps.params import load_params, reported_as
from featuremaps.stage import run_stage


def main():
    params = load_params()
    with reported_as("train.device", params.train.device):
        device = select_device(params.train.device)
    check_model_settings(params)
    meta = read_meta(paths.DATASET)
    if params.model.source == "builtin":  # sized from params, before anything is built
        check_costs(params, data_shape(meta))
    (tr_x, tr_y), (va_x, va_y) = read_split(paths.DATASET, "train"), read_split(paths.DATASET, "val")
    torch.manual_seed(params.seed)
    config = source_config(params.model, meta)
    model = starting_model(params.model, config, meta)
    if params.model.source != "builtin":  # sized from the model itself
        check_costs(params, data_shape(meta), measured_sizes(model, meta["image_shape"]))
    snapshots = Snapshots(snapshot_epochs(params.train.epochs, params.train.snapshot_every))
    with LiveLog(paths.LIVE) as live:
        result = fit(model, tr_x, tr_y, va_x, va_y, params.train, params.seed, device,
                     after_epoch=lambda *epoch: (snapshots(*epoch), live(*epoch)))
    model.load_state_dict(result.best_state)
    write_snapshots(paths.SNAPSHOTS, snapshots.states)
    save_checkpoint(paths.MODEL, model, config, meta["classes"], architecture_record(model, config))
    metrics = write_records(result, device_name(device), meta["classes"], va_y, paths.METRICS, paths.HISTORY,
                            paths.CONFUSION)
    logging.getLogger("featuremaps").info(
        "best epoch %d: val accuracy %.4f, loss %.4f; %.1f s, %.0f images/s on %s", metrics["best_epoch"],
        metrics["val_accuracy"], metrics["val_loss"], metrics["train_seconds"], metrics["images_per_second"],
        metrics["device"])


if __name__ == "__main__":
    run_stage(main)
