"""End to end: sharing the cache through a folder remote (an S3 API and the queue, as a team uses
them: test_sweep_team.py)."""
import shutil


def push_wipe_pull(project):
    project.dvc("push")
    shutil.rmtree(project.path / ".dvc/cache")
    for out in ("data/dataset", "data/model", "data/activations"):
        shutil.rmtree(project.path / out)
    project.dvc("pull")
    assert project.status() == {}
    assert "Running stage" not in project.repro().stdout
    assert (project.path / "data/model/model.pt").exists()


def test_folder_remote(baseline):
    project = baseline
    project.dvc("remote", "add", "-d", "shared", str(project.tmp / "remote"))
    push_wipe_pull(project)
