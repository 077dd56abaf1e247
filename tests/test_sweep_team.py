"""End to end, the team workflow: clones of one project share a bare git repository (the git
remote) and an S3 API served by moto (the DVC remote); two run their share of a grid of queued
experiments and `dvc exp push` them; a third pulls them and reads them all with
`featuremaps sweep` through DVC, with no stage rerun. And the pitfalls, each one line."""
import json
import subprocess

import pytest

from conftest import S3_KEYS, Project, copy_project, exp_show_rows, wait_for_queue


def clone(origin, tmp, env_from: Project) -> Project:
    proj = Project(tmp)
    proj.env.update({k: v for k, v in env_from.env.items() if k.startswith("AWS_")})
    tmp.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(proj.path)], check=True, env=proj.env,
                   capture_output=True, timeout=120)
    return proj


def run_share(proj: Project, *grid: str) -> list:
    """Queue `grid` (-S settings), run it with one worker, push the experiments; their names."""
    before = set(proj.dvc("exp", "list", "--name-only").stdout.split())
    proj.dvc("exp", "run", "--queue", *(a for setting in grid for a in ("-S", setting)))
    proj.dvc("queue", "start", "-j", "1")
    status = wait_for_queue(proj)
    assert "Failed" not in status, status
    proj.dvc("queue", "stop", check=False)
    names = sorted(set(proj.dvc("exp", "list", "--name-only").stdout.split()) - before)
    assert status.count("Success") == len(names), status  # none lost between the queue and the refs (#8014)
    proj.dvc("exp", "push", "origin", *names)
    return names


def shown_metrics(shown) -> dict:
    """{commit: reports/metrics.json's values} of every row of `dvc exp show --json`."""
    return {rev: data["metrics"]["reports/metrics.json"]["data"] for rev, data in exp_show_rows(shown)
            if data.get("metrics")}


def featuremaps(proj: Project, *args) -> subprocess.CompletedProcess:
    return proj.run("featuremaps", *args, check=False)


def one_line(proc, *fragments) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_two_machines_share_a_grid_and_a_third_reads_it(tmp_path, finished, s3_endpoint):
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    lead = copy_project(finished, tmp_path / "lead")  # the baseline, run
    lead.env.update(S3_KEYS)
    lead.dvc("remote", "add", "-d", "s3", "s3://featuremaps/cache")
    lead.dvc("remote", "modify", "s3", "endpointurl", s3_endpoint)
    lead.commit("the team's DVC remote")
    lead.dvc("push")
    lead.git("remote", "add", "origin", str(origin))
    lead.git("push", "-q", "origin", "main")

    a = clone(origin, tmp_path / "a", lead)
    a.dvc("pull")
    seeds = run_share(a, "seed=1")  # a's share: one run of another seed (a full retrain)
    b = clone(origin, tmp_path / "b", lead)
    b.dvc("pull")
    cmaps = run_share(b, "render.cmap=choice(magma,cividis)")  # b's: a grid of two (render only)
    assert len(seeds) == 1 and len(cmaps) == 2
    # an experiment pushed without its data: the classic way to leave a teammate nothing to read
    b.dvc("exp", "run", "-S", "extract.top_k=3", "-n", "no-data")  # new activations, not pushed
    b.dvc("exp", "push", "--no-cache", "origin", "no-data")

    c = clone(origin, tmp_path / "c", lead)
    c.dvc("exp", "pull", "--no-cache", "origin")  # the experiments' commits only: their data stays on the remote
    listed = set(c.dvc("exp", "list", "--name-only").stdout.split())
    assert listed == set(seeds + cmaps + ["no-data"])
    one_line(featuremaps(c, "sweep"), "no-data: its dvc.lock lists data/",
             "the remote that revision names (s3)", "dvc exp push <git remote> no-data")

    runs = ["HEAD", *seeds, *cmaps]
    proc = featuremaps(c, "sweep", *runs)
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads((c.path / "reports/sweep/sweep.json").read_text())
    assert [r["name"] for r in numbers["runs"]] == ["HEAD", *cmaps, *seeds] or \
        sorted(r["name"] for r in numbers["runs"]) == sorted(runs)
    assert len({r["name"] for r in numbers["runs"]}) == len(runs)
    assert numbers["changed_params"] == ["render.cmap", "seed"]  # not extract.top_k: no-data is not read
    by = {r["name"]: r for r in numbers["runs"]}
    assert [by[n]["params"]["seed"] for n in seeds] == [1]
    assert sorted(by[n]["params"]["render.cmap"] for n in cmaps) == ["cividis", "magma"]
    # the metrics, as `dvc exp show --json` has them
    shown = shown_metrics(json.loads(c.dvc("exp", "show", "--json").stdout))
    for run in numbers["runs"]:
        assert run["metrics"] == shown[run["commit"]], run["name"]
    # known answers: a render-only change is the same model (CKA exactly 1), another seed is not
    for name in cmaps:
        assert by[name]["cka_to_reference"] == {"conv1": 1.0, "conv2": 1.0}
    for name in seeds:
        assert all(v < 1 for v in by[name]["cka_to_reference"].values()), by[name]
    floor = numbers["seed_floor"]
    assert len(floor) == 1 and sorted(floor[0]["runs"]) == sorted(["HEAD", *seeds])
    assert floor[0]["setting"] == {"render.cmap": "viridis"}
    assert all(0 < v < 1 for values in floor[0]["cka"].values() for v in values)
    page = (c.path / "reports/sweep/index.html").read_text()
    for name in runs[1:]:
        assert f"featuremaps compare HEAD {name}" in page
    assert "reports/sweep" not in c.git("status", "--porcelain", "--untracked-files=no").stdout
    assert c.git("status", "--porcelain", "--untracked-files=no").stdout == ""  # read, never checked out

    # and a run itself: its data pulled, applied, nothing to rerun
    c.dvc("exp", "pull", "origin", seeds[0])
    c.dvc("exp", "apply", seeds[0])
    c.dvc("pull")
    assert c.status() == {}


def test_a_remote_added_after_the_commit(baseline, tmp_path):
    project = baseline  # run and committed, no DVC remote yet
    remote = tmp_path / "remote"
    project.dvc("remote", "add", "-d", "shared", str(remote))  # after the commit, never committed
    project.dvc("push")
    project.dvc("exp", "run", "-S", "render.cmap=magma", "-n", "magma")
    c = clone(project.path, tmp_path / "c", project)
    c.dvc("exp", "pull", "--no-cache", "origin", "magma")
    one_line(featuremaps(c, "sweep"), "HEAD: its dvc.lock lists data/", "a remote (that revision names none)",
             "dvc remote add --local -d")
    c.dvc("remote", "add", "--local", "-d", "shared", str(remote))  # the fix the line gives
    proc = featuremaps(c, "sweep")
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads((c.path / "reports/sweep/sweep.json").read_text())
    assert [r["name"] for r in numbers["runs"]] == ["HEAD", "magma"]
    assert numbers["runs"][1]["cka_to_reference"] == {"conv1": 1.0, "conv2": 1.0}


@pytest.mark.parametrize("args, fragments", [
    (["HEAD", "no-such-exp"], ["no-such-exp: ", "give a commit, branch, tag, experiment name"]),
    (["HEAD"], ["a sweep reads at least two runs; got 1 (HEAD)"]),
    ([], ["a sweep reads at least two runs; got 1 (HEAD)", "dvc exp run --queue"]),
    (["HEAD", "workspace", "--metrics", "conv9.cka"], ["--metrics conv9.cka: no run has it; choose from"]),
    (["HEAD", "workspace", "--out", "reports"], ["--out reports", "not written by featuremaps"]),
    (["HEAD", "workspace", "--out", "data/activations"], ["an output of the pipeline's extract stage"]),
])
def test_bad_sweeps_end_with_one_line(finished, tmp_path, args, fragments):
    out = [] if "--out" in args else ["--out", str(tmp_path / "sweep-out")]
    one_line(featuremaps(finished, "sweep", *args, *out), *fragments)
