"""Two runs' representations of the same images, streamed: extract's per_image.parquet read a chunk of
images at a time, both files side by side, into the Moments that CKA and channel matching need
(featuremaps.analysis.cka). Memory is one chunk of each side's columns, whatever the number of
images, and nothing is approximate: the sums are the ones the whole representations give.

    a = representation_table(path_a, {"conv1": ["conv1_f01_max", ...], ...})  # reads its images' keys
    b = representation_table(path_b, {"conv1": [...], ...})
    if a.keys == b.keys:                                   # the same images in the same order
        moments = paired_moments(a, b, [("conv1", "conv1"), ("conv1", "conv2")])
        linear_cka = cka_of(moments["conv1", "conv2"])
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featuremaps.analysis.cka import MomentsSum
from featuremaps.analysis.store import per_image_batches
from featuremaps.memory import ROW_GROUP_BYTES

KEYS = ["split", "index"]  # which image a row is


@dataclass(frozen=True)
class RepresentationTable:
    path: Path
    columns: dict   # layer -> its columns of the statistic compared, in feature order
    n_images: int
    keys: str       # sha256 of every row's split and index in the file's order: equal keys, the same images in the same order

    def channels(self, layer: str) -> int:
        return len(self.columns[layer])


def chunk_rows(n_columns: int) -> int:
    """Images a chunk holds: about one row group's bytes as float64."""
    return max(64, ROW_GROUP_BYTES // (8 * max(n_columns, 1)))


def image_keys(path: str | Path) -> tuple:
    """(number of images, sha256 of every row's split and index in the file's order): a pass over
    those two columns."""
    digest, n = hashlib.sha256(), 0
    for batch in per_image_batches(path, KEYS, 1 << 16):
        digest.update("\0".join(batch.column("split").to_pylist()).encode() + b"\1")
        digest.update(batch.column("index").to_numpy().astype(np.int64).tobytes())
        n += batch.num_rows
    return n, digest.hexdigest()


def representation_table(path: str | Path, columns: dict, keys: tuple | None = None) -> RepresentationTable:
    """per_image.parquet's `columns` ({layer: its columns, in feature order}); keys: image_keys(path),
    when already read."""
    return RepresentationTable(Path(path), columns, *(keys or image_keys(path)))


def _chunks(table: RepresentationTable, layers: list, rows: int):
    """{layer: float64 [rows, channels]} a chunk of images at a time."""
    for batch in per_image_batches(table.path, sorted({c for layer in layers for c in table.columns[layer]}), rows):
        yield {layer: np.stack([batch.column(c).to_numpy() for c in table.columns[layer]], 1).astype(np.float64)
               for layer in layers}


def _paired_chunks(a: RepresentationTable, layers_a: list, b: RepresentationTable, layers_b: list):
    """(A's chunk, B's chunk) of the same images: batches of one size cut both files alike."""
    rows = chunk_rows(sum(a.channels(x) for x in layers_a) + sum(b.channels(y) for y in layers_b))
    return zip(_chunks(a, layers_a, rows), _chunks(b, layers_b, rows), strict=True)


def column_means(table: RepresentationTable, layers: list) -> dict:
    """{layer: float64 [channels]} each column's mean over the images, summed in the file's order
    (as numpy's mean over the whole column sums)."""
    totals = {layer: np.zeros(table.channels(layer)) for layer in layers}
    for chunk in _chunks(table, layers, chunk_rows(sum(table.channels(x) for x in layers))):
        for layer, x in chunk.items():
            totals[layer] = np.add.reduce(np.concatenate([totals[layer][None], x]), axis=0)
    return {layer: total / table.n_images for layer, total in totals.items()}


def paired_moments(a: RepresentationTable, b: RepresentationTable, pairs: list) -> dict:
    """{(A's layer, B's layer): Moments} for each pair, in two passes over both files (the means,
    then the centred products). The tables must hold the same images in the same order (equal keys)."""
    if a.keys != b.keys:
        raise ValueError(f"{a.path} and {b.path} hold different images")
    layers_a, layers_b = list(dict.fromkeys(x for x, _ in pairs)), list(dict.fromkeys(y for _, y in pairs))
    total = MomentsSum(column_means(a, layers_a), column_means(b, layers_b), pairs)
    for x, y in _paired_chunks(a, layers_a, b, layers_b):
        total.add(x, y)
    return {pair: total.moments(*pair) for pair in pairs}
