"""The thread policy a stage applies (featuremaps.threads): the free cores, shared among the running
workers of a `dvc queue` (found by walking up to the `dvc exp queue-worker` process, as DVC names
it), less those other processes keep busy; FEATUREMAPS_THREADS overrides."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import featuremaps.threads as threads
from featuremaps.errors import ArgumentError

SRC = str(Path(__file__).resolve().parents[1] / "src")

# What a stage applies: select_device('cpu') sets torch's threads by the policy.
STAGE = ("import torch\n"
         "from featuremaps.model.device import select_device\n"
         "select_device('cpu')\n"
         "print(torch.get_num_threads())")


def env(**extra) -> dict:
    return {**{k: v for k, v in os.environ.items() if k != threads.ENV_THREADS}, "PYTHONPATH": SRC, **extra}


@pytest.mark.parametrize("running, workers, expected", [
    ("1/300", 1, 4),   # only this process runs: every core
    ("3/300", 1, 2),   # two others busy
    ("9/300", 1, 1),   # more busy than there are cores: still one
    ("1/300", 2, 2),   # dvc queue start -j 2: half each
    ("1/300", 3, 1),
    ("4/300", 2, 1),
])
def test_thread_count_from_the_free_cores_and_the_queue(tmp_path, monkeypatch, running, workers, expected):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.50 0.40 0.30 {running} 12345\n")
    monkeypatch.setattr(threads, "LOADAVG", loadavg)
    monkeypatch.setattr(threads, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "queue_workers", lambda: workers)
    assert threads.thread_count({}) == expected
    assert threads.thread_count({threads.ENV_THREADS: "3"}) == 3


def test_bad_override_is_one_line():
    with pytest.raises(ArgumentError, match=f"^{threads.ENV_THREADS}='many' is not allowed; expected a whole"):
        threads.thread_count({threads.ENV_THREADS: "many"})


def test_a_stage_applies_the_policy_and_sees_a_busy_core():
    out = subprocess.run([sys.executable, "-c", STAGE], env=env(**{threads.ENV_THREADS: "1"}), capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert out.split() == ["1"]
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 60  # until the spinner is running
        while threads.busy_cores() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threads.busy_cores() >= 1
    finally:
        spinner.kill()
        spinner.wait()


# A stand-in for `dvc exp queue-worker dvc-exp-<hash>-<n>@localhost`: runs a stage as its child
# (as the worker runs an experiment's stages) and prints what the stage found.
WORKER = ("import subprocess, sys\n"
          "print(subprocess.run([sys.executable, '-c', sys.argv[1]], capture_output=True, text=True).stdout, end='')\n")
FOUND = "from featuremaps.threads import queue_workers; print(queue_workers())"
IDLE = "import time; time.sleep(600)"


def test_inside_a_queue_its_running_workers_are_counted():
    queue = ["exp", "queue-worker"]
    others = [subprocess.Popen([sys.executable, "-c", IDLE, *queue, f"dvc-exp-0123abcd-{n}@localhost"])
              for n in (2, 3)]
    stranger = subprocess.Popen([sys.executable, "-c", IDLE, *queue, "dvc-exp-ffff0000-1@localhost"])  # another repo's
    try:
        deadline = time.monotonic() + 60  # until /proc shows their command lines
        while time.monotonic() < deadline and not all(
                b"queue-worker" in Path(f"/proc/{p.pid}/cmdline").read_bytes() for p in [*others, stranger]):
            time.sleep(0.05)
        out = subprocess.run([sys.executable, "-c", WORKER, FOUND, *queue, "dvc-exp-0123abcd-1@localhost"],
                             env=env(), capture_output=True, text=True, timeout=300, check=True).stdout
        assert out.split() == ["3"]
    finally:
        for proc in [*others, stranger]:
            proc.kill()
            proc.wait()
    assert threads.queue_workers() == 1  # this test process is in no queue


def test_analyses_do_not_depend_on_the_thread_count():
    """What extract, visualize and attribute compute (the forward pass, each conv layer's output and
    the gradient with respect to the input) is bit-identical on one thread and on two, so a busy
    machine changes only their speed; training's weight gradients may differ in the last bits,
    which is why metrics.json names the thread count."""
    import torch

    from featuremaps.model.network import ConvNet
    torch.manual_seed(0)
    model = ConvNet().eval()
    images = torch.rand(512, 1, 28, 28)
    before = torch.get_num_threads()

    def computed(n: int) -> list:
        torch.set_num_threads(n)
        x = images.clone().requires_grad_(True)
        logits = model(x)
        logits.max(1).values.sum().backward()
        return [logits.detach(), model.features(images, upto="conv1").detach(),
                model.features(images, upto="conv2").detach(), x.grad]

    try:
        one, two = computed(1), computed(2)
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, two):
        assert torch.equal(a, b)
