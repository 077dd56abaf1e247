"""A stage killed half way leaves no half-written output; the next `dvc repro` completes."""
import os
import signal
import subprocess
import time

import pandas as pd


def kill_during(proc, script, after=1.0, timeout=120):
    """SIGKILL the process group of `proc` `after` seconds into the run of stages/<script>."""
    import psutil
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        children = psutil.Process(proc.pid).children(recursive=True)
        if any(script in " ".join(c.cmdline()) for c in children if c.is_running()):
            time.sleep(after)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.05)
    return False


def test_sigkill_during_extract_then_repro(project):
    project.set_params(extract={"batch_size": 8})
    project.repro("train")
    proc = subprocess.Popen(["dvc", "repro"], cwd=project.path, env=project.env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kill_during(proc, "stages/extract.py")
    per_image = project.path / "data/activations/per_image.parquet"
    if per_image.exists():  # whatever was renamed into place is whole
        assert len(pd.read_parquet(per_image)) == 400
    assert "extract" in project.status()
    project.repro()
    assert project.status() == {}
    assert len(pd.read_parquet(project.path / "data/activations/per_image.parquet")) == 400


def test_two_repros_at_once(project):
    project.repro("download")
    procs = [subprocess.Popen(["dvc", "repro"], cwd=project.path, env=project.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes
    for code, out in zip(codes, outputs):
        if code != 0:
            assert "lock" in out.lower(), out
    assert project.status() == {}
