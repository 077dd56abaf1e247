"""Class names in scripts matplotlib's default font lacks: drawn through an installed font that has them,
else labelled "class <index>" with one log line, never as empty boxes with a warning per glyph."""
from __future__ import annotations

import logging
import warnings

import matplotlib.pyplot as plt
from matplotlib import font_manager

from featuremaps.drawing import fonts


def test_latin_names_are_kept_as_they_are():
    assert fonts.drawable_names(["0 - zero", "T-shirt/top", "Ärger", "façade"]) == ["0 - zero", "T-shirt/top", "Ärger",
                                                                                  "façade"]


def test_names_no_font_draws_become_class_numbers_in_one_line(caplog, tmp_path):
    nowhere = "\U0010fffd\U0010fffe"  # private-use characters: no font has them
    with caplog.at_level(logging.INFO, logger="featuremaps"):
        labels = fonts.drawable_names(["cat", nowhere, f"dog {nowhere}"])
    assert labels == ["cat", "class 1", "class 2"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "have characters no installed font draws" in lines[0] and "fonts-noto-cjk" in lines[0]


def test_cjk_names_draw_without_a_warning(monkeypatch, tmp_path):
    names = ["猫", "犬", "bird"]
    has_cjk = any(ord("猫") in fonts._charmap(e.fname) for e in font_manager.fontManager.ttflist
                  if not e.name.startswith("Last Resort"))
    labels = fonts.drawable_names(names)
    assert labels == (names if has_cjk else ["class 0", "class 1", "bird"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_yticks(range(3), labels)
        fig.savefig(tmp_path / "labels.png")
        plt.close(fig)
    assert not [w for w in caught if "missing from" in str(w.message)]
