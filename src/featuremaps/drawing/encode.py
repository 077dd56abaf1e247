"""Arrays for the pages' scripts: uint8 bytes as base64 text, maps scaled to 0..255 with their scale,
colour maps sampled into 256-entry tables (the pages draw on canvases with them)."""
from __future__ import annotations

import base64

import matplotlib
import numpy as np


def b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")


def scaled_b64(values: np.ndarray, top: float | None = None) -> tuple[str, float]:
    """(base64 of values / top x 255 as uint8, NaN as 0; top), top by default the largest finite value."""
    if top is None:
        top = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    scaled = np.nan_to_num(values / top if top > 0 else np.zeros_like(values), nan=0.0)
    return b64(np.clip(np.round(scaled * 255), 0, 255)), top


def signed_b64(values: np.ndarray) -> tuple[str, float]:
    """(base64 of values mapped from -m..m to 0..255; m = the largest magnitude)."""
    m = float(np.abs(values).max()) or 1.0
    return b64(np.clip(np.round((values / m + 1) * 127.5), 0, 255)), m


def colour_table_b64(name: str) -> str:
    return b64(np.round(matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255))
