"""How a dataset frames its objects, which `featuremaps image` and the explorer's draw view fit a
user's image to: MNIST's digits sit in a 20x20 box of the 28x28 frame; other items fill it."""
from __future__ import annotations

DIGITS_MARGIN = 4  # of 28 pixels: MNIST's digits fit a 20x20 box; Fashion-MNIST's items fill the frame


def default_margin(classes: list, size: tuple) -> int:
    """For digits (classes named from their digit, as MNIST's "0 - zero"), MNIST's margin scaled to
    the input size; for anything else, such as Fashion-MNIST's items, none."""
    digits = all(str(name)[:1].isdigit() for name in classes)
    return round(DIGITS_MARGIN * min(size) / 28) if digits else 0
