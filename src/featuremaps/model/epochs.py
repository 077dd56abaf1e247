"""Which epochs the weights are kept for (train.snapshot_every) and which of them the timelapse
visualises (timelapse.vis_epochs), checked against each other before anything runs.

The default vis_epochs names the epochs worth seeing in a run of any length ("those of 0, 1, 2, 5
and the last that the run keeps"), so a shorter run (`-S train.epochs=2`) or a sparser snapshot
keeps it valid: what the run does not keep is dropped, and the stage log says which. A list the user
typed is taken at its word: an epoch it cannot show stops the run with one line.
"""
from __future__ import annotations

from featuremaps.errors import ParamsError
from featuremaps.params import TimelapseParams

DEFAULT_VIS_EPOCHS = TimelapseParams().vis_epochs


def snapshot_epochs(epochs: int, every: int) -> list:
    """The epochs snapshotted in a run of `epochs`: 0, every `every`-th, and the last; none for every = 0."""
    if every == 0:
        return []
    return sorted({0, *range(every, epochs + 1, every), epochs})


def visualized_epochs(epochs: int, every: int, listed) -> tuple[list, list]:
    """(sorted distinct epochs of timelapse.vis_epochs `listed` to visualise ("last" is train.epochs =
    `epochs`), those of the default list the run does not keep and so drops). ParamsError for a typed
    epoch beyond the run or one train.snapshot_every = `every` does not keep. Empty when nothing is kept."""
    kept = snapshot_epochs(epochs, every)
    if not kept:
        return [], []
    listed = list(listed)
    chosen = sorted({epochs if e == "last" else e for e in listed})
    if tuple(listed) == DEFAULT_VIS_EPOCHS:
        return [e for e in chosen if e in kept], [e for e in chosen if e not in kept]
    beyond = [e for e in chosen if e > epochs]
    if beyond:
        raise ParamsError(f"params.yaml: timelapse.vis_epochs = {listed} lists epoch {beyond[0]}, beyond "
                          f"train.epochs = {epochs}")
    missing = [e for e in chosen if e not in kept]
    if missing:
        shown = ", ".join(map(str, kept)) if len(kept) <= 12 else ", ".join(map(str, kept[:10])) + ", ..."
        raise ParamsError(f"params.yaml: timelapse.vis_epochs = {listed} lists epoch {missing[0]}, which "
                          f"train.snapshot_every = {every} does not keep; kept: {shown}")
    return chosen, []


def dropped_note(dropped: list) -> str | None:
    """The stage log's line for default vis_epochs the run does not keep, or None."""
    if not dropped:
        return None
    return (f"timelapse.vis_epochs: the default's epoch{'s' if len(dropped) > 1 else ''} "
            f"{', '.join(map(str, dropped))} not kept by this run (train.epochs, train.snapshot_every): not visualised")
