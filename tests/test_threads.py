"""The thread policy a stage applies: OpenMP threads that sleep instead of spinning, set before
torch loads; every core outside a queue; cores / workers inside `dvc queue start -j N` (found by
walking up to the `dvc exp queue-worker` process, as DVC names it); FEATUREMAPS_THREADS overrides."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from featuremaps.errors import ArgumentError
from featuremaps.threads import ENV_THREADS, cpu_count, queue_workers, thread_count

SRC = str(Path(__file__).resolve().parents[1] / "src")

# What a stage reports: the wait policy in its environment and the threads torch got.
STAGE = ("import os, featuremaps, torch\n"
         "from featuremaps.model.device import select_device\n"
         "select_device('cpu')\n"
         "print(os.environ['OMP_WAIT_POLICY'], torch.get_num_threads())")


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", ENV_THREADS, "OMP_NUM_THREADS")}
    return {**env, "PYTHONPATH": SRC, **extra}


def stage_report(env: dict, prefix=()) -> tuple[str, int]:
    out = subprocess.run([*prefix, sys.executable, "-c", STAGE], env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()
    return out[0], int(out[1])


def test_outside_a_queue_every_core_and_passive_waiting():
    assert stage_report(clean_env()) == ("PASSIVE", cpu_count())
    # a wait policy the user set is theirs; FEATUREMAPS_THREADS sets the count
    assert stage_report(clean_env(OMP_WAIT_POLICY="ACTIVE", **{ENV_THREADS: "1"})) == ("ACTIVE", 1)


def test_bad_override_is_one_line():
    with pytest.raises(ArgumentError, match=f"^{ENV_THREADS}='many' is not allowed; expected a whole number"):
        thread_count({ENV_THREADS: "many"})


# A stand-in for `dvc exp queue-worker dvc-exp-<hash>-<n>@localhost`: runs the stage as its child
# (as the worker runs an experiment's stages) and prints what the stage reported.
WORKER = ("import subprocess, sys\n"
          "print(subprocess.run([sys.executable, '-c', sys.argv[1]], capture_output=True, text=True).stdout, end='')\n")
IDLE = "import time; time.sleep(600)"


def test_inside_a_queue_the_cores_are_shared_among_its_workers():
    queue = ["exp", "queue-worker"]
    others = [subprocess.Popen([sys.executable, "-c", IDLE, *queue, f"dvc-exp-0123abcd-{n}@localhost"])
              for n in (2, 3)]
    stranger = subprocess.Popen([sys.executable, "-c", IDLE, *queue, "dvc-exp-ffff0000-1@localhost"])  # another repo's
    try:
        deadline = time.monotonic() + 60  # until /proc shows their command lines
        while time.monotonic() < deadline and not all(
                b"queue-worker" in Path(f"/proc/{p.pid}/cmdline").read_bytes() for p in [*others, stranger]):
            time.sleep(0.05)
        out = subprocess.run([sys.executable, "-c", WORKER, STAGE, *queue, "dvc-exp-0123abcd-1@localhost"],
                             env=clean_env(), capture_output=True, text=True, timeout=300, check=True).stdout.split()
        assert out == ["PASSIVE", str(max(1, cpu_count() // 3))]
    finally:
        for proc in [*others, stranger]:
            proc.kill()
            proc.wait()
    assert queue_workers() == 1  # this test process is in no queue
