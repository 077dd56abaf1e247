"""Stage visualize: for every feature of the extracted layers, the inputs that maximise it.

    python stages/visualize.py      (normally run by `dvc repro`)

Writes data/visualizations/features.npz: per layer, params.visualize.seeds optimised inputs
per feature with their objective, and the extract.means_split image scoring highest on it.
"""
import logging
import time

from featuremaps import paths
from featuremaps.analysis.feature_vis import dataset_extremes, progress_line, visualize_layer
from featuremaps.analysis.feature_vis_store import write_visualizations
from featuremaps.analysis.inputs import analysis_inputs
from featuremaps.data.store import read_split
from featuremaps.params import load_params
from featuremaps.stage import run_stage


def main():
    params = load_params()
    run = analysis_inputs(params, "visualize", params.extract.layers, paths.DATASET, paths.MODEL)
    vis = params.visualize
    activation, split = params.extract.activation, params.extract.means_split
    images, _ = read_split(paths.DATASET, split)
    log = logging.getLogger("featuremaps")
    start = time.perf_counter()
    extremes = dataset_extremes(run.model, run.layers, images, vis.objective, activation, run.device)
    log.info("%d %s images scored on every feature in %.1f s", len(images), split, time.perf_counter() - start)
    results = {}
    for layer in run.layers:
        start = time.perf_counter()
        results[layer] = visualize_layer(run.model, layer, images, vis, activation, params.seed, run.device,
                                         extremes[layer])
        log.info("%s: %s", layer, progress_line(results[layer], vis, split, time.perf_counter() - start))
    write_visualizations(paths.VISUALIZATIONS, results, vis.objective, activation, split, vis.seeds)


if __name__ == "__main__":
    run_stage(main)
