"""Stage render: every figure and reports/index.html, from stored outputs only.

    python stages/render.py      (normally run by `dvc repro`)
"""
import logging
import time

from featuremaps import paths
from featuremaps.params import load_params, params_as_dict
from featuremaps.report.catalogue import figure_list, render_figures
from featuremaps.report.explorer import explorer_data, write_explorer_data
from featuremaps.report.inputs import load_inputs
from featuremaps.report.page import write_report
from featuremaps.stage import run_stage


def main():
    params = load_params()
    start = time.perf_counter()
    inputs = load_inputs(paths.DATASET, paths.ACTIVATIONS, paths.VISUALIZATIONS, paths.ATTRIBUTIONS, paths.METRICS,
                         paths.INTERPRETABILITY, paths.HISTORY, paths.CONFUSION, paths.TIMELAPSE)
    figures = render_figures(figure_list(inputs, params.render), params.render, paths.FIGURES)
    scripts = str(paths.EXPLORER_SCRIPTS.relative_to(paths.REPORT.parent))
    write_explorer_data(paths.EXPLORER_DATA, paths.EXPLORER_SCRIPTS, explorer_data(inputs, params.render, scripts))
    write_report(paths.REPORT, figures, inputs.meta, inputs.metrics, params_as_dict(params), inputs.interpretability,
                 str(paths.EXPLORER_DATA.relative_to(paths.REPORT.parent)))
    logging.getLogger("featuremaps").info("%d figures and %s in %.1f s", len(figures), paths.REPORT,
                                          time.perf_counter() - start)


if __name__ == "__main__":
    run_stage(main)
