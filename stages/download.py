"""Stage download: fetch the dataset named in params `data` into data/dataset/.

    python stages/download.py      (normally run by `dvc repro`)
"""
import logging

from featuremaps import paths
from featuremaps.data.sources import load_dataset
from featuremaps.data.store import write_dataset
from featuremaps.params import load_params
from featuremaps.stage import run_stage


def main():
    params = load_params()
    ds = load_dataset(params.data, paths.DOWNLOADS)
    meta = write_dataset(ds, paths.DATASET, params.data.source)
    logging.getLogger("featuremaps").info(
        "%s from %s: %d train, %d val images of %s", meta["dataset"], meta["source"],
        meta["counts"]["train"], meta["counts"]["val"], "x".join(map(str, meta["image_shape"])))


if __name__ == "__main__":
    run_stage(main)
