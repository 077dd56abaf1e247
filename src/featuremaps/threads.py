"""How many CPU threads torch uses: one policy, applied by select_device wherever a stage or
command runs torch on the CPU.

torch's OpenMP team waits for its slowest thread at the end of each of the hundreds of small
parallel regions in a batch. With as many threads as cores and one core taken by another process,
every region waits for a thread that is not running: 3 to 10 times slower (measured:
benchmarks/contention.py). So a stage takes the cores that are free when it starts:

- the cores this process may run on, divided among the `dvc exp queue-worker` processes of the
  same queue running now (`dvc queue start -j 2` runs two experiments on a core each);
- less the cores other processes keep busy at that moment (runnable tasks in /proc/loadavg,
  sampled a few times, the fewest taken), at least one;
- FEATUREMAPS_THREADS=N overrides both.

OMP_WAIT_POLICY is left as the user has it: PASSIVE halves the damage of a load that arrives
mid-run, but costs a fifth of the quiet machine's speed (measured), and the count above already
keeps the team off taken cores.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

ENV_THREADS = "FEATUREMAPS_THREADS"
LOADAVG = Path("/proc/loadavg")
WORKER = re.compile(r"exp\x00queue-worker\x00(dvc-exp-[0-9a-f]+)-\d+@")  # dvc's queue worker, by node name


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


def busy_cores(samples: int = 5, interval: float = 0.01) -> int:
    """Cores other processes keep busy now: the fewest runnable tasks /proc/loadavg shows over a few
    samples, less this process (0 where it cannot say)."""
    seen = []
    for i in range(samples):
        try:
            running = int(LOADAVG.read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return 0
        seen.append(running)
        if i + 1 < samples:
            time.sleep(interval)
    return max(0, min(seen) - 1)


def thread_count(environ=os.environ) -> int:
    """The intra-op threads a stage or command uses (see the module's docstring)."""
    given = environ.get(ENV_THREADS, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            from featuremaps.errors import ArgumentError
            raise ArgumentError(f"{ENV_THREADS}={given!r} is not allowed; expected a whole number of threads, "
                                f"at least 1")
        return int(given)
    cores = cpu_count()
    return max(1, min(cores // queue_workers(), cores - busy_cores()))


def apply_threads() -> int:
    """Set torch's intra-op threads to thread_count(); returns it."""
    import torch
    n = thread_count()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
