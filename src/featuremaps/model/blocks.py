"""How many of the builtin network's conv blocks an image allows: each pools by 2."""
from __future__ import annotations

import math


def max_blocks(image_shape) -> int:
    """The most conv blocks (each pools by 2) that leave the smaller side of an image at least 1 px."""
    return int(math.floor(math.log2(min(image_shape)))) if min(image_shape) >= 1 else 0
