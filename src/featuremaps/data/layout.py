"""How image arrays are laid out: uint8 grey [N, H, W] or colour [N, H, W, C], as Pillow and
matplotlib take them (a grey image has no channel axis), and the model's [N, C, H, W].

    channels(images) -> C;  to_nchw(images) -> [N, C, H, W];  from_nchw(x) -> [N, H, W] or [N, H, W, C]
"""
from __future__ import annotations

import numpy as np


def channels(images: np.ndarray) -> int:
    """Channels of images [N, H, W] (1) or [N, H, W, C] (C)."""
    return 1 if images.ndim == 3 else int(images.shape[3])


def planes(images: np.ndarray) -> list:
    """Each channel of images [N, H, W] or [N, H, W, C] as an [N, H, W] array (views)."""
    return [images] if images.ndim == 3 else [images[..., c] for c in range(images.shape[3])]


def to_nchw(images: np.ndarray) -> np.ndarray:
    """[N, H, W] or [N, H, W, C] -> [N, C, H, W] (a view)."""
    return images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)


def from_nchw(x: np.ndarray) -> np.ndarray:
    """[N, C, H, W] -> [N, H, W] for one channel, else [N, H, W, C] (contiguous)."""
    return np.ascontiguousarray(x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1))
