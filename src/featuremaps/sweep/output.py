"""The sweep's folder: sweep.json (the numbers), sweep.png and index.html (built aside and
swapped in whole by featuremaps.command_output)."""
from __future__ import annotations

from pathlib import Path

from featuremaps.compare.output import default_folder
from featuremaps.compare.output import PAGE as COMPARE_PAGE
from featuremaps.drawing.budget import Sized, check_pixel_budget
from featuremaps.errors import FeaturemapsError
from featuremaps.files import write_json, write_text
from featuremaps.params import RenderParams
from featuremaps.sweep.figures import FIGURE, sweep_figure, sweep_inches
from featuremaps.sweep.page import page_html
from featuremaps.sweep.study import Study, default_metrics, study_json

NUMBERS = "sweep.json"
PAGE = "index.html"


def checked_metrics(s: Study, asked: list | None) -> list:
    """The metrics to draw: `asked`, each one a run has, or the defaults; one line naming what is allowed."""
    known = s.metric_names()
    if asked is None:
        return [m for m in default_metrics(s) if m in known]
    for name in asked:
        if name not in known:
            raise FeaturemapsError(f"--metrics {name}: no run has it; choose from {', '.join(known)}")
    return asked


def compare_pages(s: Study, repo: Path) -> dict:
    """Run name -> where `featuremaps compare <reference> <run>` writes its page by default."""
    return {run.name: repo / default_folder(s.ref.name, run.name) / COMPARE_PAGE for run in s.runs}


def check_figure_budget(s: Study, metrics: list, render: RenderParams, out: Path) -> None:
    check_pixel_budget([Sized(FIGURE, lambda p: sweep_inches(s, metrics))], render, out)


def write_sweep(folder: Path, shown_as: Path, s: Study, metrics: list, render: RenderParams, repo: Path) -> None:
    """sweep.json, sweep.png and index.html into `folder`, whose links are made for its final place `shown_as`."""
    write_json(folder / NUMBERS, study_json(s))
    sweep_figure(folder / FIGURE, s, metrics, render)
    write_text(folder / PAGE, page_html(s, metrics, compare_pages(s, repo), shown_as))
