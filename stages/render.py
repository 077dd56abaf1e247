"""Stage render: every figure and reports/index.html, from stored outputs only.

    python stages/render.py      (normally run by `dvc repro`)
"""
import logging
import time
from pathlib import Path

from featuremaps.params import load_params, params_as_dict
from featuremaps.render import load_inputs, render_figures
from featuremaps.report import write_report
from featuremaps.stage import run_stage

FIGURES = Path("reports/figures")


def main():
    params = load_params()
    start = time.perf_counter()
    inputs = load_inputs()
    figures = render_figures(inputs, params.render, FIGURES)
    write_report("reports/index.html", figures, inputs.meta, inputs.metrics, params_as_dict(params))
    logging.getLogger("featuremaps").info("%d figures and reports/index.html in %.1f s", len(figures),
                                          time.perf_counter() - start)


if __name__ == "__main__":
    run_stage(main)
