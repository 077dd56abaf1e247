"""Stage visualize: for every feature of the extracted layers, the inputs that maximise it.

    python stages/visualize.py      (normally run by `dvc repro`)

Writes data/visualizations/features.npz: per layer, params.visualize.seeds optimised inputs
per feature with their objective, and the extract.means_split image scoring highest on it.
"""
import logging
import time

from featuremaps import paths
from featuremaps.cost import check_costs, data_shape
from featuremaps.analysis.feature_vis import progress_line, visualise_layer
from featuremaps.analysis.feature_vis_store import write_visualisations
from featuremaps.data.store import read_meta, read_split
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.device import select_device
from featuremaps.model.network import check_layers
from featuremaps.params import load_params, reported_as
from featuremaps.stage import run_stage


def main():
    params = load_params()
    vis = params.visualize
    with reported_as("visualize.device", vis.device):
        device = select_device(vis.device)
    meta = read_meta(paths.DATASET)
    check_costs(params, data_shape(meta))
    model, ckpt = load_checkpoint(paths.MODEL, {"image_shape": meta["image_shape"],
                                                "n_classes": len(meta["classes"])})
    layers, activation, split = params.extract.layers, params.extract.activation, params.extract.means_split
    with reported_as("extract.layers", layers):
        check_layers(model, layers)
    images, _ = read_split(paths.DATASET, split)
    log = logging.getLogger("featuremaps")
    results = {}
    for layer in layers:
        start = time.perf_counter()
        results[layer] = visualise_layer(model, layer, ckpt["mean"], ckpt["std"], images, vis, activation,
                                         params.seed, device)
        log.info("%s: %s", layer, progress_line(results[layer], vis, split, time.perf_counter() - start))
    write_visualisations(paths.VISUALIZATIONS, results, vis.objective, activation, split, vis.seeds)


if __name__ == "__main__":
    run_stage(main)
