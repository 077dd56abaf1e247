"""The size of a dataset as the cost estimates read it: images per split, their height, width and
channels, and the number of classes; from a written dataset's meta.json, or (featuremaps.data.expected)
from params before the download."""
from __future__ import annotations

from dataclasses import dataclass

from featuremaps import memory


@dataclass(frozen=True)
class DataShape:
    n_train: int
    n_val: int
    height: int
    width: int
    n_classes: int = 10
    channels: int = 1

    @property
    def n_images(self) -> int:
        return self.n_train + self.n_val

    @property
    def image_bytes(self) -> int:
        return self.height * self.width * self.channels

    @property
    def held_bytes(self) -> int:
        """The bytes of the splits a stage holds in memory: those of at most memory.IN_MEMORY_BYTES (the rest
        are read a batch at a time)."""
        return sum(n * self.image_bytes for n in (self.n_train, self.n_val) if n * self.image_bytes <= memory.IN_MEMORY_BYTES)


def data_shape(meta: dict) -> DataShape:
    """The shape of data/dataset from its meta.json."""
    h, w = meta["image_shape"][:2]
    return DataShape(int(meta["counts"]["train"]), int(meta["counts"]["val"]), int(h), int(w), len(meta["classes"]),
                     int(meta.get("channels", 1)))
