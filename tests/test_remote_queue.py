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


def test_queue_runs_experiments(project):
    project.repro()
    project.commit("baseline")
    for lr in ("0.002", "0.004"):
        project.dvc("exp", "run", "--queue", "-S", f"train.lr={lr}")
    project.dvc("queue", "start", "-j", "2")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = project.dvc("queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert "Failed" not in status, status
    rows = json.loads(project.dvc("exp", "show", "--json").stdout)
    text = json.dumps(rows)
    assert "0.002" in text and "0.004" in text
    project.dvc("queue", "stop", check=False)
