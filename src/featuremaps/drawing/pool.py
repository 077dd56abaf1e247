"""fork_map: a map over a list on the cores a stage may use, for work that reads large arrays.

Workers are forked, so they inherit the items instead of receiving pickled copies; only
each item's position is sent. As many as featuremaps.threads allows (the free cores, or
FEATUREMAPS_THREADS). Where fork is not available, or there is one core or one item, it is
the plain built-in map.
"""
from __future__ import annotations

import multiprocessing as mp

from featuremaps.threads import thread_count

_WORK: list = []  # (fn, items) of the map in progress, inherited by the forked workers


def _call(i: int):
    fn, items = _WORK[0]
    return fn(items[i])


def fork_map(fn, items: list) -> list:
    """[fn(item) for item in items], the calls spread over forked workers."""
    workers = min(len(items), thread_count())
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        return [fn(item) for item in items]
    _WORK[:] = [(fn, items)]
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            return pool.map(_call, range(len(items)), chunksize=1)
    finally:
        _WORK.clear()
