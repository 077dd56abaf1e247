"""What every stage script shares: run main(), its outputs replaced together only when it succeeds,
the project's errors turned into one line."""
from __future__ import annotations

import logging
import os
import resource
import sys
import time

from featuremaps.errors import FeaturemapsError
from featuremaps.files import together

log = logging.getLogger("featuremaps")


def seconds_since_start() -> float | None:
    """How long ago this process started (Linux: /proc), or None where it cannot say."""
    try:
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return None


def peak_memory_mib() -> float:
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space.
    Not getrusage's ru_maxrss, which Linux carries over exec from the process that spawned it (a
    large parent, such as a test runner with torch loaded, would set its floor)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_stage(main) -> None:
    """Run a stage's main(); a FeaturemapsError ends it with one line and exit status 1,
    Ctrl-C with one line and the usual 130. Logs the peak memory and where the time went: the
    start (Python and the imports, torch's above all) and main()."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    started = seconds_since_start()
    begin = time.perf_counter()
    try:
        with together():  # every output replaced only when the whole stage succeeded
            main()
        peak = peak_memory_mib()  # what the cost check's estimate is measured against (featuremaps.cost)
        times = f"; {started:.1f} s to start, {time.perf_counter() - begin:.1f} s to run" if started is not None else ""
        log.info("peak memory %.0f MiB%s", peak, times)
    except FeaturemapsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        # Outputs are renamed into place whole, so there is nothing half-written to report.
        print("interrupted: run `dvc repro` again to finish", file=sys.stderr)
        sys.exit(130)
