"""End to end: sharing the cache through a folder remote and a real S3 API (moto), and the queue."""
import json
import shutil
import socket
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_s3_remote_with_moto(project, monkeypatch):
    server_mod = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        project.env.update(keys)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket="featuremaps")
        project.repro()
        project.dvc("remote", "add", "-d", "s3", "s3://featuremaps/cache")
        project.dvc("remote", "modify", "s3", "endpointurl", endpoint)
        push_wipe_pull(project)
    finally:
        server.stop()


def experiment_results(shown, section: str, key: str) -> dict:
    """{params.yaml's section.key: val_accuracy} of every row in `dvc exp show --json` output."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and "params" in data:
                value = data["params"]["params.yaml"]["data"][section][key]
                metrics = (data.get("metrics") or {}).get("reports/metrics.json", {}).get("data", {})
                found.setdefault(value, []).append(metrics.get("val_accuracy"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(shown)
    return found


def test_queue_runs_experiments(project):
    project.repro()
    project.commit("baseline")
    # Settings that rerun render alone keep the test short; the queue runs any experiment the same way.
    for cmap in ("magma", "cividis"):
        project.dvc("exp", "run", "--queue", "-S", f"render.cmap={cmap}")
    # One worker: with two, DVC can report both as Success yet lose one from `exp show` (treeverse/dvc#8014).
    project.dvc("queue", "start", "-j", "1")
    deadline = time.time() + 600
    while True:
        status = project.dvc("queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        if time.time() > deadline:
            project.dvc("queue", "kill", "--all", check=False)
            pytest.fail(f"the queued experiments were still running after 10 minutes:\n{status}")
        time.sleep(5)
    assert status.count("Success") == 2 and "Failed" not in status, status
    results = experiment_results(json.loads(project.dvc("exp", "show", "--json").stdout), "render", "cmap")
    for cmap in ("magma", "cividis"):
        assert results.get(cmap) and all(isinstance(v, float) and 0 <= v <= 1 for v in results[cmap]), results
    project.dvc("queue", "stop", check=False)
