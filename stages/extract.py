"""Stage extract: every image's conv activations, streamed through forward hooks.

    python stages/extract.py      (normally run by `dvc repro`)

Writes data/activations/{per_image.parquet, class_means.npz, examples.npz, top_k.parquet, filters.npz}.
"""
import logging
import time

from featuremaps import paths
from featuremaps.cost import check_costs, data_shape
from featuremaps.analysis.activations import extract_activations, layer_weights
from featuremaps.analysis.store import write_extraction
from featuremaps.data.store import SPLITS, read_meta, read_split
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.device import select_device
from featuremaps.model.network import check_layers
from featuremaps.params import load_params, reported_as
from featuremaps.stage import run_stage


def main():
    params = load_params()
    with reported_as("extract.device", params.extract.device):
        device = select_device(params.extract.device)
    meta = read_meta(paths.DATASET)
    check_costs(params, data_shape(meta))
    model, ckpt = load_checkpoint(paths.MODEL, {"image_shape": meta["image_shape"],
                                                "n_classes": len(meta["classes"])})
    with reported_as("extract.layers", params.extract.layers):
        check_layers(model, params.extract.layers)
    splits = {split: read_split(paths.DATASET, split) for split in SPLITS}
    log = logging.getLogger("featuremaps")
    log.info("extracting %s (%s) from %d images on %s", ", ".join(params.extract.layers),
             params.extract.activation, sum(len(labels) for _, labels in splits.values()), device)
    model.to(device)  # the device's start-up (a CUDA context) is not the extraction's time
    start = time.perf_counter()
    ex = extract_activations(model, splits, ckpt["mean"], ckpt["std"], params.extract, meta["classes"], device)
    seconds = time.perf_counter() - start
    write_extraction(ex, paths.ACTIVATIONS, layer_weights(model, ex.layers))
    log.info("%d images, layers %s (%s) in %.2f s", len(ex.per_image["index"]), ", ".join(ex.layers),
             ex.activation, seconds)
    missing = [ex.classes[c] for c, i in enumerate(ex.examples["index"]) if i < 0]
    if missing:
        log.warning("no %s image of class %s: its example row is left empty", ex.means_split, ", ".join(missing))


if __name__ == "__main__":
    run_stage(main)
