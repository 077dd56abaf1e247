"""Stage extract: every image's conv activations, streamed through forward hooks.

    python stages/extract.py      (normally run by `dvc repro`)

Writes data/activations/{per_image.parquet, class_means.npz, examples.npz, top_k.parquet, filters.npz,
network.npz, architecture.json}.
"""
import logging
import time

from featuremaps import paths
from featuremaps.analysis.activations import extract_activations
from featuremaps.analysis.inputs import analysis_inputs
from featuremaps.analysis.store import PER_IMAGE, write_architecture, write_extraction, write_network
from featuremaps.model.export import network_arrays
from featuremaps.model.seam import layer_filters
from featuremaps.data.store import SPLITS, read_split
from featuremaps.params import load_params
from featuremaps.stage import run_stage


def main():
    params = load_params()
    run = analysis_inputs(params, "extract", params.extract.layers, paths.DATASET, paths.MODEL)
    model, device = run.model, run.device
    splits = {split: read_split(paths.DATASET, split) for split in SPLITS}  # read a batch at a time
    log = logging.getLogger("featuremaps")
    log.info("extracting %s (%s) from %d images on %s", ", ".join(run.layers), params.extract.activation,
             sum(len(labels) for _, labels in splits.values()), device)
    model.to(device)  # the device's start-up (a CUDA context) is not the extraction's time
    start = time.perf_counter()
    ex = extract_activations(model, splits, params.extract, run.meta["classes"], paths.ACTIVATIONS / PER_IMAGE,
                             device)
    seconds = time.perf_counter() - start
    write_extraction(ex, paths.ACTIVATIONS, layer_filters(model, ex.layers))
    write_network(paths.ACTIVATIONS, network_arrays(model, run.meta["image_shape"], ex.layers))
    write_architecture(paths.ACTIVATIONS, run.architecture)
    log.info("%d images, layers %s (%s) in %.2f s (%.0f images/s)", ex.n_images, ", ".join(ex.layers),
             ex.activation, seconds, ex.n_images / seconds)
    missing = [ex.classes[c] for c, i in enumerate(ex.examples["index"]) if i < 0]
    if missing:
        log.warning("no %s image of class %s: its example row is left empty", ex.means_split, ", ".join(missing))


if __name__ == "__main__":
    run_stage(main)
