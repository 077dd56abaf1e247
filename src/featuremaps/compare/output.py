"""The comparison's folder: compare.json (the numbers), similarity.png and index.html, written
whole or not at all."""
from __future__ import annotations

from pathlib import Path

from featuremaps import paths
from featuremaps.compare.comparison import Comparison, comparison_json
from featuremaps.compare.figures import similarity_figure
from featuremaps.compare.page import FIGURE, page_data, page_html
from featuremaps.files import atomic_folder, safe_name, write_json, write_text
from featuremaps.params import RenderParams

NUMBERS = "compare.json"
PAGE = "index.html"


def default_folder(a: str, b: str) -> Path:
    """reports/compare/<A>-vs-<B>, the names made safe for a folder."""
    return paths.COMPARE / f"{safe_name(a, 'rev')}-vs-{safe_name(b, 'rev')}"


def write_comparison(folder: Path, c: Comparison, render: RenderParams, split_images: dict) -> None:
    with atomic_folder(folder) as building:
        write_json(building / NUMBERS, comparison_json(c))
        similarity_figure(building / FIGURE, c, render)
        write_text(building / PAGE, page_html(c, page_data(c, render, split_images)))
