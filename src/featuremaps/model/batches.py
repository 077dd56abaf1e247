"""A split's images as the model's input, a batch at a time, read while the model works on the batch
before.

    for x, rows in input_batches(model, images, order, batch_size, device):   # x: float32 [B, C, H, W]
    for pixels, rows in pixel_batches(images, order, batch_size, device):     # uint8 as stored

`images` is uint8 [N, H, W] or [N, H, W, C]: a stored split (featuremaps.data.stored_images, read
from disk) or an array. `order` gives the rows of each batch (a seeded permutation for training,
None for the split in order). For a stored split, a background thread reads the next batch's rows
(pinned on CUDA, so the copy to the device overlaps); a split held in memory goes to the device once
and its batches are cut there. The batch is normalised on the device, with the arithmetic of
featuremaps.model.normalisation, so every input is bit for bit what normalising the whole split
would give. Memory is a few batches, whatever the number of images.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from featuremaps.model.normalisation import normalise


def _pixels(images, rows, pin: bool) -> torch.Tensor:
    pixels = torch.from_numpy(np.ascontiguousarray(images[rows]))
    return pixels.pin_memory() if pin else pixels


def batch_rows(n: int, batch_size: int, order: np.ndarray | None = None) -> list:
    """The rows of each batch: slices of the split in order, or consecutive runs of `order`."""
    if order is None:
        return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def pixel_batches(images, order: np.ndarray | None, batch_size: int, device):
    """(uint8 pixels on `device`, rows) for each batch of `images`. A stored split is read a batch at a
    time, the next batch meanwhile; a split held in memory goes to the device once (uint8, at most
    featuremaps.memory.IN_MEMORY_BYTES; on the CPU a view) and its batches are cut there, so nothing
    crosses to the device per batch but the rows' indices."""
    batches = batch_rows(len(images), batch_size, order)
    if isinstance(images, np.ndarray):  # in memory: the split on the device once, batches cut there
        on_device = torch.from_numpy(np.ascontiguousarray(images)).to(device)  # on the CPU a view
        for rows in batches:
            yield on_device[rows if isinstance(rows, slice) else torch.from_numpy(rows).to(device)], rows
        return
    pin = device.type == "cuda"
    with ThreadPoolExecutor(1) as reader:
        ahead = reader.submit(_pixels, images, batches[0], pin) if batches else None
        for i, rows in enumerate(batches):
            pixels = ahead.result()
            if i + 1 < len(batches):
                ahead = reader.submit(_pixels, images, batches[i + 1], pin)
            yield pixels.to(device, non_blocking=pin), rows


def input_batches(model, images, order: np.ndarray | None, batch_size: int, device, channels_last: bool = False):
    """(model input on `device`, rows) for each batch of `images` (see the module's docstring)."""
    for pixels, rows in pixel_batches(images, order, batch_size, device):
        x = normalise(model, pixels)
        yield (x.contiguous(memory_format=torch.channels_last) if channels_last else x), rows
