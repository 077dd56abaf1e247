"""How many CPU threads torch uses, and how they wait: one policy, applied where every stage and
command starts (the package's import, before torch is loaded).

- OMP_WAIT_POLICY=PASSIVE: OpenMP's threads sleep at the end of a parallel region instead of
  spinning. A stage runs hundreds of small parallel regions a batch; when another process holds
  a core, a spinning team waits on a thread that is not running (six times slower with one busy
  process beside it on two cores), a sleeping one costs a few microseconds a region. The
  runtime reads it once, when torch loads it: it must be in the environment before.
- Intra-op threads: the machine's cores (those this process may run on) divided by the number
  of `dvc exp queue-worker` processes of the same queue running now, so `dvc queue start -j 2`
  runs two experiments on a core each instead of four threads on two cores.
- FEATUREMAPS_THREADS=N overrides the count; an OMP_WAIT_POLICY already set is left as it is.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ENV_THREADS = "FEATUREMAPS_THREADS"
WORKER = re.compile(r"exp\x00queue-worker\x00(dvc-exp-[0-9a-f]+)-\d+@")  # dvc's queue worker, by node name


def set_wait_policy(environ=os.environ) -> None:
    """OMP_WAIT_POLICY=PASSIVE unless set: call before torch is imported."""
    environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cmdline(pid: int | str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def queue_workers(pid: int | None = None) -> int:
    """How many workers of the `dvc queue` that runs this process are running (1 outside a queue,
    or where /proc cannot say)."""
    pid = os.getpid() if pid is None else pid
    queue = None
    for _ in range(64):  # up the process tree to a queue worker, if any
        found = WORKER.search(_cmdline(pid).decode("utf-8", "replace"))
        if found:
            queue = found.group(1)
            break
        pid = _parent(pid)
        if pid <= 1:
            return 1
    if queue is None:
        return 1
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 1
    nodes = {m.group(0) for p in pids if (m := WORKER.search(_cmdline(p).decode("utf-8", "replace")))
             and m.group(1) == queue}
    return max(1, len(nodes))


def thread_count(environ=os.environ) -> int:
    """The intra-op threads a stage or command uses (see the module's docstring)."""
    given = environ.get(ENV_THREADS, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            from featuremaps.errors import ArgumentError
            raise ArgumentError(f"{ENV_THREADS}={given!r} is not allowed; expected a whole number of threads, "
                                f"at least 1")
        return int(given)
    return max(1, cpu_count() // queue_workers())


def apply_threads() -> int:
    """Set torch's intra-op threads to thread_count(); returns it."""
    import torch
    n = thread_count()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
