"""End to end: sharing the cache through a folder remote and a real S3 API (moto), and the queue."""
import json
import shutil

from conftest import S3_KEYS, exp_show_rows, wait_for_queue


def push_wipe_pull(project):
    project.dvc("push")
    shutil.rmtree(project.path / ".dvc/cache")
    for out in ("data/dataset", "data/model", "data/activations"):
        shutil.rmtree(project.path / out)
    project.dvc("pull")
    assert project.status() == {}
    assert "Running stage" not in project.repro().stdout
    assert (project.path / "data/model/model.pt").exists()


def test_folder_remote(project):
    project.repro()
    project.dvc("remote", "add", "-d", "shared", str(project.tmp / "remote"))
    push_wipe_pull(project)


def test_s3_remote_with_moto(project, s3_endpoint):
    project.env.update(S3_KEYS)
    project.repro()
    project.dvc("remote", "add", "-d", "s3", "s3://featuremaps/cache")
    project.dvc("remote", "modify", "s3", "endpointurl", s3_endpoint)
    push_wipe_pull(project)


def experiment_results(shown, section: str, key: str) -> dict:
    """{params.yaml's section.key: [val_accuracy]} of every row in `dvc exp show --json` output."""
    found = {}
    for _, data in exp_show_rows(shown):
        value = data["params"]["params.yaml"]["data"][section][key]
        metrics = (data.get("metrics") or {}).get("reports/metrics.json", {}).get("data", {})
        found.setdefault(value, []).append(metrics.get("val_accuracy"))
    return found


def test_queue_runs_experiments(project):
    project.repro()
    project.commit("baseline")
    # Settings that rerun render alone keep the test short; the queue runs any experiment the same way.
    for cmap in ("magma", "cividis"):
        project.dvc("exp", "run", "--queue", "-S", f"render.cmap={cmap}")
    # One worker: with two, DVC can report both as Success yet lose one from `exp show` (treeverse/dvc#8014).
    project.dvc("queue", "start", "-j", "1")
    status = wait_for_queue(project)
    assert status.count("Success") == 2 and "Failed" not in status, status
    results = experiment_results(json.loads(project.dvc("exp", "show", "--json").stdout), "render", "cmap")
    for cmap in ("magma", "cividis"):
        assert results.get(cmap) and all(isinstance(v, float) and 0 <= v <= 1 for v in results[cmap]), results
    project.dvc("queue", "stop", check=False)
