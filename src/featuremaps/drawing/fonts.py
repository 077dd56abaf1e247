"""Class names that figures can draw: matplotlib's default font (DejaVu Sans) has no CJK, Thai or
many other scripts, and draws their characters as empty boxes with a warning per glyph.

    labels = drawable_names(classes)   # before drawing: installed fonts added as fallbacks

Installed fonts that hold the missing characters are added behind DejaVu Sans as fallbacks
(matplotlib 3.6+ draws each character from the first family that has it), so a Chinese class name
draws where, say, Noto Sans CJK is installed (Debian: fonts-noto-cjk). A name with characters no
installed font has is drawn as "class <index>", and one log line says which font to install.
"""
from __future__ import annotations

import functools
import logging

import matplotlib
from matplotlib import font_manager

log = logging.getLogger("featuremaps")


@functools.lru_cache(maxsize=None)
def _charmap(path: str) -> frozenset:
    from matplotlib.ft2font import FT2Font
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def _covered(characters: set) -> tuple[list, set]:
    """(font families holding characters of `characters` that the default font lacks, the characters none holds)."""
    default = font_manager.findfont(font_manager.FontProperties(family=matplotlib.rcParams["font.family"]))
    missing = {c for c in characters if ord(c) not in _charmap(default) and not c.isspace()}
    families = []
    for entry in sorted(font_manager.fontManager.ttflist, key=lambda e: e.name):
        if not missing:
            break
        if entry.name.startswith("Last Resort"):  # matplotlib's own: a box per character, which is no drawing
            continue
        held = {c for c in missing if ord(c) in _charmap(entry.fname)}
        if held:
            families.append(entry.name)
            missing -= held
    return families, missing


def drawable_names(names: list) -> list:
    """`names` as figures should label them: as they are where some installed font draws every character (added
    to matplotlib's fallbacks), else "class <index>"; one log line when a name is replaced."""
    characters = {c for name in names for c in str(name)}
    if all(ord(c) < 0x250 for c in characters):  # Latin: the default font has it
        return list(names)
    families, missing = _covered(characters)
    if families:
        rc = matplotlib.rcParams
        first = rc["font.family"][0] if isinstance(rc["font.family"], list) else rc["font.family"]
        listed = rc[f"font.{first}"] if f"font.{first}" in rc else []
        rc[f"font.{first}"] = [*listed, *[f for f in families if f not in listed]]
    if not missing:
        return list(names)
    shown = [name if not set(str(name)) & missing else f"class {i}" for i, name in enumerate(names)]
    example = next(str(name) for name in names if set(str(name)) & missing)
    log.info("class names such as %r have characters no installed font draws: figures label them \"class <index>\" "
             "(install a font that has them, e.g. Debian's fonts-noto-cjk for Chinese, Japanese or Korean)", example)
    return shown
