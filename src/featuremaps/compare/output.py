"""The comparison's folder: compare.json (the numbers), similarity.png and index.html (the
command builds it aside and swaps it in whole: featuremaps.command_output)."""
from __future__ import annotations

from pathlib import Path

from featuremaps import paths
from featuremaps.compare.comparison import Comparison, comparison_json
from featuremaps.compare.figures import similarity_figure, similarity_inches
from featuremaps.compare.page import FIGURE, page_data, page_html
from featuremaps.files import safe_name, write_json, write_text
from featuremaps.params import RenderParams
from featuremaps.drawing.budget import Sized, check_pixel_budget

NUMBERS = "compare.json"
PAGE = "index.html"


def default_folder(a: str, b: str) -> Path:
    """reports/compare/<A>-vs-<B>, the names made safe for a folder."""
    return paths.COMPARE / f"{safe_name(a, 'rev')}-vs-{safe_name(b, 'rev')}"


def check_figure_budget(c: Comparison, render: RenderParams, folder: Path) -> None:
    """ParamsError before drawing when the figure would exceed render's pixel budget."""
    check_pixel_budget([Sized(FIGURE, lambda p: similarity_inches(c))], render, folder)


def write_comparison(folder: Path, c: Comparison, render: RenderParams, split_images: dict) -> None:
    """compare.json, similarity.png and index.html into `folder`."""
    write_json(folder / NUMBERS, comparison_json(c))
    similarity_figure(folder / FIGURE, c, render)
    write_text(folder / PAGE, page_html(c, page_data(c, render, split_images)))
