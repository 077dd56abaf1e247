"""Stage train: the seed's CNN on data/dataset, best epoch by val loss.

    python stages/train.py      (normally run by `dvc repro`)

Writes data/model/model.pt, reports/metrics.json, reports/plots/{history,confusion}.csv.
"""
import logging

import pandas as pd
import torch

from featuremaps.dataset import read_meta, read_split
from featuremaps.device import select_device
from featuremaps.files import write_csv, write_json
from featuremaps.model import build_model, model_config, save_checkpoint
from featuremaps.params import load_params
from featuremaps.stage import run_stage
from featuremaps.train import fit, metrics_of, normalised_images

DATA = "data/dataset"


def main():
    params = load_params()
    device = select_device(params.train.device)
    meta = read_meta(DATA)
    (tr_x, tr_y), (va_x, va_y) = read_split(DATA, "train"), read_split(DATA, "val")
    torch.manual_seed(params.seed)
    config = model_config(params.model, meta["image_shape"], len(meta["classes"]))
    model = build_model(config)
    result = fit(model, normalised_images(tr_x, meta["mean"], meta["std"]), torch.from_numpy(tr_y),
                 normalised_images(va_x, meta["mean"], meta["std"]), torch.from_numpy(va_y),
                 params.train, params.seed, device)
    model.load_state_dict(result.best_state)
    metrics = metrics_of(result, device)
    classes = meta["classes"]
    save_checkpoint("data/model/model.pt", model, config, meta["mean"], meta["std"], classes)
    write_json("reports/metrics.json", metrics)
    write_csv("reports/plots/history.csv", pd.DataFrame(result.history))
    write_csv("reports/plots/confusion.csv", pd.DataFrame({
        "actual": [classes[i] for i in va_y], "predicted": [classes[i] for i in result.val_predictions]}))
    logging.getLogger("featuremaps").info(
        "best epoch %d: val accuracy %.4f, loss %.4f; %.1f s, %.0f images/s on %s", metrics["best_epoch"],
        metrics["val_accuracy"], metrics["val_loss"], metrics["train_seconds"], metrics["images_per_second"],
        metrics["device"])


if __name__ == "__main__":
    run_stage(main)
