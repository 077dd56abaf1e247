"""Shared fixtures: small generated IDX datasets and temporary git repos holding a copy
of the project, in which the real `dvc` runs with the project's virtual environment."""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from synthetic import write_idx_folder

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ["check", "download", "train", "extract", "visualize", "attribute", "timelapse", "render"]  # dvc.yaml's, in order
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "src", "images", "models", ".dvc/config", ".dvc/plots", ".dvcignore",
                 ".gitignore", "plots"]


# Each pytest-xdist worker's share of the cores, for the stages the tests start and for torch in the
# worker itself: two workers each taking both cores would slow every torch loop several times over
# (featuremaps.threads). Set in each worker (or the one process of a run without workers), never in
# xdist's controller, whose environment the workers inherit. Fixed for the session: trained weights'
# last bits follow the thread count, and tests compare two runs' bytes. A FEATUREMAPS_THREADS the
# user set is kept.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # xdist's controller: it runs no test
    threads = os.environ.setdefault("FEATUREMAPS_THREADS", str(max(1, len(os.sched_getaffinity(0)) // WORKERS)))
    import torch
    torch.set_num_threads(int(threads))


def ran(proc) -> list:
    """The stages a `dvc repro` ran, from its process or its output."""
    return re.findall(r"Running stage '(\w+)'", getattr(proc, "stdout", proc))


def project_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site-cache"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(tmp / "repo" / "src"),
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    })
    return env


class Project:
    """A temporary git repo holding a copy of the project, driven with the real dvc."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.path = tmp / "repo"
        self.env = project_env(tmp)

    def run(self, *args, check=True, timeout=900) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), cwd=self.path, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def dvc(self, *args, **kw):
        return self.run("dvc", *args, **kw)

    def git(self, *args, **kw):
        return self.run("git", *args, **kw)

    def params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def set_params(self, **sections) -> None:
        """set_params(train={"epochs": 1}) updates the given keys, keeping the rest."""
        p = self.params()
        for section, values in sections.items():
            if isinstance(values, dict):
                p.setdefault(section, {}).update(values)
            else:
                p[section] = values
        (self.path / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))

    def repro(self, *args, **kw):
        return self.dvc("repro", *args, **kw)

    def status(self, *targets) -> dict:
        """`dvc status --json` of the whole pipeline, or of `targets` and the stages they depend on."""
        return json.loads(self.dvc("status", "--json", *targets).stdout or "{}")

    def commit(self, message="update"):
        self.git("add", "-A")
        self.git("commit", "-qm", message, "--allow-empty")


SMALL = dict(train={"epochs": 1, "batch_size": 64, "eval_batch_size": 256},
             extract={"batch_size": 128, "top_k": 4},
             visualize={"steps": 64}, attribute={"ig_steps": 8},
             timelapse={"probe_size": 100, "vis_epochs": [0, "last"], "top_k": 2},
             render={"dpi": 40, "n_samples": 8})


@pytest.fixture
def idx_dir(tmp_path) -> Path:
    return write_idx_folder(tmp_path / "idx", n_train=300, n_test=100, compress=True)


def copied_project(tmp: Path) -> Project:
    """A new git repo under `tmp` holding the project's files, nothing committed."""
    proj = Project(tmp)
    proj.path.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, proj.path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            (proj.path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, proj.path / name)
    proj.git("init", "-q", "-b", "main")
    return proj


def new_project(tmp: Path, idx: Path, **params) -> Project:
    proj = copied_project(tmp)
    proj.set_params(data={"source": "idx", "idx_dir": str(idx)}, **{**SMALL, **params})
    proj.commit("project")
    return proj


@pytest.fixture
def project(tmp_path, idx_dir) -> Project:
    """A fresh repo with the whole project, set to a small generated IDX dataset."""
    return new_project(tmp_path, idx_dir)


def queue_workers(repo: Path) -> list:
    """The pids of the `dvc exp queue-worker` processes running in `repo` (none where there is no /proc)."""
    repo, found = repo.resolve(), []
    for entry in Path("/proc").iterdir() if Path("/proc/self").exists() else []:
        if entry.name.isdigit():
            try:
                if b"queue-worker" in (entry / "cmdline").read_bytes() and Path(os.readlink(entry / "cwd")) == repo:
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours to read
                continue
    return found


def wait_for_queue(proj: Project, minutes: int = 10) -> str:
    """`dvc queue status` once nothing is queued or running; fails (killing the queue) after `minutes`.
    Asks DVC only once the queue's workers have exited, as they do when the queue is empty: each
    `dvc` start costs about a second of CPU that the experiments need."""
    deadline, status = time.monotonic() + minutes * 60, ""
    while True:
        if not queue_workers(proj.path):
            status = proj.dvc("queue", "status").stdout
            if "Queued" not in status and "Running" not in status:
                return status
        if time.monotonic() > deadline:
            proj.dvc("queue", "kill", "--all", check=False)
            pytest.fail(f"the queued experiments were still running after {minutes} minutes:\n{status}")
        time.sleep(0.5)


def exp_show_rows(shown) -> list:
    """(rev, data) of every row of `dvc exp show --json` output (the baseline and each experiment)
    whose data holds params or metrics, however deep DVC nests them."""
    rows = []

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and ("params" in data or "metrics" in data):
                rows.append((data.get("rev", node.get("rev")), data))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(shown)
    return rows


S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3_endpoint():
    """The URL of an S3 API served locally by moto, with an empty bucket `featuremaps` (keys: S3_KEYS)."""
    server_mod = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket="featuremaps")
        yield endpoint
    finally:
        server.stop()


def run_stage(folder: Path, stage: str, check=True) -> subprocess.CompletedProcess:
    """Run one stage script in `folder` (a copy of stages/ and params.yaml), without DVC."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, f"stages/{stage}.py"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"stage {stage} failed:\n{proc.stderr[-4000:]}")
    return proc


def stage_folder(folder: Path, idx: Path, **sections) -> Path:
    """A folder holding stages/ and a params.yaml set to the IDX dataset `idx` and small settings."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "stages", folder / "stages", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(source="idx", idx_dir=str(idx))
    for section, values in {**SMALL, **sections}.items():
        params[section].update(values)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def stage_exit(folder: Path, stage: str, capsys=None) -> tuple:
    """(exit status, stderr: "" without capsys) of stages/<stage>.py's main() run through
    featuremaps.stage.run_stage in this process, in the repo at `folder`, as `python stages/<stage>.py`
    there would end: without another start of Python and torch."""
    from featuremaps.stage import run_stage as run_main
    spec = importlib.util.spec_from_file_location(f"stage_{stage}", folder / "stages" / f"{stage}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import torch
    threads, cwd = torch.get_num_threads(), os.getcwd()
    if capsys:
        capsys.readouterr()
    os.chdir(folder)
    try:
        run_main(module.main)
        status = 0
    except SystemExit as stop:
        status = stop.code
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)  # a stage sets the thread count of the process it runs in
    return status, capsys.readouterr().err if capsys else ""


@pytest.fixture(scope="session")
def stage_outputs(finished) -> Path:
    """A folder where every stage ran once on a small IDX dataset: the finished repo's (never modify)."""
    return finished.path


def snapshot(root: Path) -> dict:
    """sha256 of every file under root, but git's own files, DVC's tmp/ (locks, state), bytecode and
    DVCLive's live/."""
    # live/ is DVCLive's progress, rewritten as each epoch ends by design, even in a run that is then killed
    skip = {".git", "tmp", "__pycache__", "live"}
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (d in skip and (d != "tmp" or dirpath.endswith(".dvc")))]
        for name in filenames:
            path = Path(dirpath, name)
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def locked_stages(lock: Path | bytes, but: str) -> dict:
    """dvc.lock's stage entries, all but one."""
    text = lock if isinstance(lock, bytes) else lock.read_bytes()
    return {name: entry for name, entry in yaml.safe_load(text)["stages"].items() if name != but}


def assert_unchanged(proj: Project, before: dict, lock_before: bytes) -> None:
    """Every file as in `before` (a snapshot), but dvc.lock's `check` entry, which DVC updates
    when that stage passes: it records the params it checked."""
    after = snapshot(proj.path)
    assert sorted(set(before) ^ set(after)) == []
    changed = [name for name in before if before[name] != after[name]]
    assert changed in ([], ["dvc.lock"]), changed
    assert locked_stages(lock_before, "check") == locked_stages(proj.path / "dvc.lock", "check")


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The folder `build(folder)` filled, built once per test session however many pytest-xdist
    workers ask for it: the first to ask builds it under a lock in the workers' shared base
    folder, the others wait for the lock and reuse it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # pytest-of-<user>/pytest-<n>/, above each worker's own popen-gw<i>/
    folder, done = base / name, base / f"{name}.done"
    with FileLock(str(base / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _build_finished(tmp: Path) -> None:
    proj = new_project(tmp, write_idx_folder(tmp / "idx", n_train=300, n_test=100, compress=True))
    (tmp / "first-repro.txt").write_text(proj.repro().stdout)
    proj.commit("pipeline ran")


class Finished(Project):
    @property
    def first_repro(self) -> str:
        """The output of the `dvc repro` that ran the whole pipeline in this repo."""
        return (self.tmp / "first-repro.txt").read_text()


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Finished:
    """A committed repo where every stage ran once under `dvc repro` on a small generated IDX
    dataset (shared by every test and worker: never modify it; copy it with `baseline`)."""
    return Finished(built_once(tmp_path_factory, "finished", _build_finished))


def copy_tree(source: Path, to: Path) -> Path:
    """A copy of a shared run's folder, its git history and DVC cache included; not DVC's tmp/ (its
    locks and state, which a process reading the shared run may be writing), which DVC makes again."""
    shutil.copytree(source, to, symlinks=True, ignore=lambda folder, names: ["tmp"] if folder.endswith(".dvc") else [])
    return to


def copy_project(source: Project, tmp: Path) -> Project:
    """A private copy of a repo (copy_tree) in tmp/repo."""
    copy_tree(source.path, tmp / "repo")
    return Project(tmp)


@pytest.fixture
def baseline(finished, tmp_path) -> Project:
    """A private copy of the finished repo: the whole pipeline ran and committed, DVC cache included."""
    return copy_project(finished, tmp_path)


# ----------------------------------------------------------------------------- markers and order

# What a test uses, told from its source and the helpers of its module that it calls (two levels):
# the real `dvc` (directly or through a fixture that ran it), or headless Chromium.
USES = {
    "dvc": re.compile(r"\.dvc\(|\.repro\(|\[\"dvc\"|\"dvc\",|\.status\(\)"),
    "browser": re.compile(r"\b(offline_page|open_offline)\("),
}
DVC_FIXTURES = {"project", "baseline", "finished", "stage_outputs"}
# Tests that take 20 s or more on a 2-core machine, started first and in this order. pytest-xdist gives
# each worker two tests to start with (the first two, then the next two) and then one at a time: the
# first worker builds the `finished` repo for the two that need it while the second runs two that do not.
SLOW = [
    "test_sweep_team.py::test_two_machines_share_a_grid_and_a_third_reads_it",
    "test_pipeline.py::test_pipeline_reruns_only_what_changed",
    "test_interruption.py::test_sigkill_in_train_and_in_extract_then_repro_gives_the_same_results",
    "test_cost.py::test_the_memory_estimate_bounds_each_stages_measured_peak",
    "test_pipeline.py::test_a_queued_experiment_its_live_progress_and_diffs",
    "test_compare.py::test_compare_under_dvc",
    "test_architecture.py::test_a_short_deep_5x5_run_with_a_one_channel_layer_then_exp_apply_of_a_shallower_one",
    "test_sweep_team.py::test_a_remote_added_after_the_commit",
]


def _called_source(function, depth: int = 2) -> str:
    """The source of `function` and of the functions of its module it calls by name, `depth` levels down."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return ""
    if depth:
        module = sys.modules.get(function.__module__)
        for name in set(re.findall(r"\b(\w+)\(", source)):
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper is not function and helper.__module__ == function.__module__:
                source += _called_source(helper, depth - 1)
    return source


def pytest_collection_modifyitems(config, items):
    for item in items:
        source = _called_source(getattr(item, "function", None))
        if DVC_FIXTURES & set(getattr(item, "fixturenames", ())) or USES["dvc"].search(source):
            item.add_marker(pytest.mark.dvc)
        if USES["browser"].search(source):
            item.add_marker(pytest.mark.browser)
        if f"{item.path.name}::{getattr(item, 'originalname', item.name)}" in SLOW:
            item.add_marker(pytest.mark.slow)
    # pytest-xdist hands tests out in this order: the slow ones first, so no worker starts one at the end
    items.sort(key=lambda item: SLOW.index(f"{item.path.name}::{getattr(item, 'originalname', item.name)}")
               if item.get_closest_marker("slow") else len(SLOW))
