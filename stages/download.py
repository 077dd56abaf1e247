"""Stage download: fetch the dataset named in params `data` into data/dataset/.

    python stages/download.py      (normally run by `dvc repro`)
"""
import logging
from pathlib import Path

from featuremaps.data import load_dataset
from featuremaps.dataset import write_dataset
from featuremaps.params import load_params
from featuremaps.stage import run_stage

OUT = Path("data/dataset")
DOWNLOADS = Path("data/downloads")


def main():
    params = load_params()
    ds = load_dataset(params.data, params.seed, DOWNLOADS)
    meta = write_dataset(ds, OUT, params.data.source)
    logging.getLogger("featuremaps").info(
        "%s from %s: %d train, %d val images of %s", meta["dataset"], meta["source"],
        meta["counts"]["train"], meta["counts"]["val"], "x".join(map(str, meta["image_shape"])))


if __name__ == "__main__":
    run_stage(main)
