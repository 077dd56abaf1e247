"""The CSS and the script helpers every page shares (the explorer, `featuremaps compare`'s page,
`featuremaps image`'s page), kept as package files: pages.css, and helpers.js (canvases drawn from
base64 uint8 arrays through 256-entry colour tables; it reads D.cmap, D.diverging, D.image_shape
and D.channels: an "image" picture holds C bytes a pixel, grey or red, green, blue, the other kinds
one byte a pixel through a colour table)."""
from __future__ import annotations

from importlib import resources


def package_text(package: str, name: str) -> str:
    """The text of package file `name` beside `package`'s modules."""
    return (resources.files(package) / name).read_text(encoding="utf-8")


STYLE = package_text("featuremaps.drawing", "pages.css")
HELPERS = package_text("featuremaps.drawing", "helpers.js")
