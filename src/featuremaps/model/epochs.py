"""Which epochs the weights are kept for (train.snapshot_every) and which of them the timelapse
visualises (timelapse.vis_epochs), checked against each other before anything runs.
"""
from __future__ import annotations

from featuremaps.errors import ParamsError


def snapshot_epochs(epochs: int, every: int) -> list:
    """The epochs snapshotted in a run of `epochs`: 0, every `every`-th, and the last; none for every = 0."""
    if every == 0:
        return []
    return sorted({0, *range(every, epochs + 1, every), epochs})


def visualized_epochs(epochs: int, every: int, listed) -> list:
    """timelapse.vis_epochs `listed` as sorted distinct epochs ("last" is train.epochs = `epochs`);
    ParamsError for an epoch beyond the run or one train.snapshot_every = `every` does not keep.
    Empty when nothing is kept."""
    kept = snapshot_epochs(epochs, every)
    if not kept:
        return []
    listed = list(listed)
    chosen = sorted({epochs if e == "last" else e for e in listed})
    beyond = [e for e in chosen if e > epochs]
    if beyond:
        raise ParamsError(f"params.yaml: timelapse.vis_epochs = {listed} lists epoch {beyond[0]}, beyond "
                          f"train.epochs = {epochs}")
    missing = [e for e in chosen if e not in kept]
    if missing:
        shown = ", ".join(map(str, kept)) if len(kept) <= 12 else ", ".join(map(str, kept[:10])) + ", ..."
        raise ParamsError(f"params.yaml: timelapse.vis_epochs = {listed} lists epoch {missing[0]}, which "
                          f"train.snapshot_every = {every} does not keep; kept: {shown}")
    return chosen
