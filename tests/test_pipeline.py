"""End to end: the stages under the real `dvc`, which stages each change reruns, and a queued experiment:
its live progress and diffs."""
import json
import re
import subprocess
import time

from browser import is_blank, open_offline
from conftest import STAGES, queue_workers, ran, wait_for_queue




def stale(project) -> list:
    """The stages `dvc status` lists (whose own dependencies changed), in the pipeline's order."""
    return sorted(project.status(), key=STAGES.index)


def test_pipeline_reruns_only_what_changed(finished, baseline, tmp_path):
    project = baseline  # a copy of `finished`, whose first `dvc repro` ran every stage:
    assert ran(finished.first_repro) == STAGES
    metrics = json.loads((project.path / "reports/metrics.json").read_text())
    assert metrics["epochs"] == 1 and 0 <= metrics["val_accuracy"] <= 1
    assert re.fullmatch(r"cpu \((1 thread|\d+ threads)\)|cuda \(.+\)|mps", metrics["device"])
    history = (project.path / "reports/plots/history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,val_loss,train_accuracy,val_accuracy,lr" and len(history) == 2
    assert (project.path / "reports/plots/confusion.csv").read_text().startswith("actual,predicted")
    for name in ("per_image.parquet", "class_means.npz", "examples.npz", "top_k.parquet", "filters.npz"):
        assert (project.path / "data/activations" / name).exists()
    assert (project.path / "data/visualizations/features.npz").exists()
    assert (project.path / "data/timelapse/timelapse.npz").exists()
    assert ran(project.repro()) == []
    assert project.status() == {}
    shown = project.dvc("metrics", "show").stdout
    assert "val_accuracy" in shown and "reports/metrics.json" in shown

    # Every params edit reruns `check` (the whole file), whose unchanged output reruns nothing.
    project.set_params(render={"cmap": "magma"})
    assert ran(project.repro()) == ["check", "render"]
    # Each of these marks stale only `check`, the stages that read it and render, which shows every setting
    # (`dvc status`, one edit at a time: what its own `dvc repro` runs); together, they rerun the union.
    edits = [({"extract": {"top_k": 3}}, ["extract"]),  # not a setting visualize reads
             ({"visualize": {"steps": 20}}, ["visualize", "timelapse"]),  # the timelapse's ascent too
             ({"visualize": {"seeds": 2}}, ["visualize"]),  # not the timelapse's
             ({"timelapse": {"top_k": 3}}, ["timelapse"]),
             ({"attribute": {"ig_steps": 4}}, ["attribute"]),
             ({"extract": {"activation": "raw"}}, ["extract", "visualize", "timelapse"])]  # attribute reads it not
    before_edits = (project.path / "params.yaml").read_text()
    for sections, stages in edits:
        project.set_params(**sections)
        assert stale(project) == ["check", *stages, "render"], sections
        (project.path / "params.yaml").write_text(before_edits)
    for sections, _ in edits:
        project.set_params(**sections)
    assert ran(project.repro()) == ["check", "extract", "visualize", "attribute", "timelapse", "render"]
    project.commit("six settings")
    # read by train alone: its new model.pt makes stale every stage that reads it, and render the metrics
    project.set_params(train={"lr": 0.002})
    assert ran(project.repro("train")) == ["check", "train"]
    assert stale(project) == ["extract", "visualize", "attribute", "timelapse", "render"]
    project.git("checkout", "--", ".")  # back to the commit: what git keeps, then the outputs DVC caches
    project.dvc("checkout")
    assert project.status() == {}
    # idx has a test split: the dataset is unchanged, so only the report (which lists params) redraws
    project.set_params(data={"val_fraction": 0.2})
    assert ran(project.repro()) == ["check", "download", "render"]
    project.commit("params")

    figures = project.path / "src/featuremaps/report/figures.py"
    figures.write_text(figures.read_text() + "\n# edited\n")
    assert set(project.status()) == {"render"}
    assert ran(project.repro()) == ["render"]
    acts = project.path / "src/featuremaps/analysis/activations.py"
    acts.write_text(acts.read_text() + "\n# edited\n")
    assert set(project.status()) == {"extract"}
    model = project.path / "src/featuremaps/model/network.py"
    model.write_text(model.read_text() + "\n# edited\n")
    # the check stage builds a model other than the builtin one to size it, so it runs network.py too (its
    # output never changes: it reruns alone)
    assert set(project.status()) == {"check", "train", "extract", "visualize", "attribute", "timelapse"}
    weights, metrics = (project.path / "data/model/model.pt").read_bytes(), project.path / "reports/metrics.json"
    timed = metrics.read_bytes()
    assert ran(project.repro("train")) == ["check", "train"]
    # A comment trains the same weights, so what reads them is stale for its own edit alone; render, only
    # when the training time it shows (metrics.json, to the millisecond) came out different, as it nearly
    # always does.
    assert (project.path / "data/model/model.pt").read_bytes() == weights
    redrawn = ["render"] if metrics.read_bytes() != timed else []
    assert stale(project) == ["extract", "visualize", "attribute", "timelapse"] + redrawn

    # dvc plots show writes a page that draws offline, with the figures as images
    out = project.dvc("plots", "show", "-o", str(tmp_path / "plots")).stdout
    assert "index.html" in out
    page = tmp_path / "plots/index.html"
    assert "cdn.jsdelivr" not in page.read_text()
    seen = open_offline(page, tmp_path / "plots.png", graphics=3)
    assert seen["external"] == [] and seen["console_errors"] == []
    assert seen["svg_or_canvas_with_content"] >= 3  # loss, accuracy, confusion
    assert any("conv2_feature_maps" in src and ok for src, ok in seen["images_loaded"])
    assert not is_blank(tmp_path / "plots.png")


def running_epochs(shown: list) -> list:
    """The epochs DVCLive has logged in every running experiment of `dvc exp show --json`."""
    epochs = []
    for commit in shown:
        for exp in commit.get("experiments") or []:
            if (exp.get("executor") or {}).get("state") != "running":
                continue
            for rev in exp.get("revs") or []:
                metrics = ((rev.get("data") or {}).get("metrics") or {}).get("live/metrics.json") or {}
                epoch = (metrics.get("data") or {}).get("epoch")
                if epoch is not None:
                    epochs.append(epoch)
    return epochs


def test_a_queued_experiment_its_live_progress_and_diffs(baseline):
    """A queued experiment: while it trains, `dvc exp show` lists the epoch it has reached (DVCLive's
    live/metrics.json); then it against the baseline through DVC's diffs and `featuremaps compare`."""
    project = baseline  # run and committed
    project.dvc("exp", "run", "--queue", "-n", "long", "-S", "train.epochs=60", "-S", "train.batch_size=16",
                "-S", "train.lr=0.003", "-S", "render.dpi=50", "-S", "seed=1")
    # Not through Project.run: the queue's worker would keep its output pipes open until the queue is done.
    subprocess.run(["dvc", "queue", "start", "-j", "1"], cwd=project.path, env=project.env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    seen, deadline = [], time.monotonic() + 600
    try:
        while time.monotonic() < deadline and queue_workers(project.path):
            shown = project.dvc("exp", "show", "--json", check=False)  # fails while a run's workspace is made
            seen += running_epochs(json.loads(shown.stdout or "[]") if shown.returncode == 0 else [])
            if len(set(seen)) >= 2:  # two different epochs of the run, seen while it ran
                break
            time.sleep(1)
        assert len(set(seen)) >= 2, seen
        status = wait_for_queue(project)
    finally:
        project.dvc("queue", "stop", "--kill", check=False)
    assert status.count("Success") == 1, status
    diff = json.loads(project.dvc("metrics", "diff", "HEAD", "long", "--json").stdout)
    assert diff["reports/metrics.json"]["epochs"] == {"old": 1, "new": 60, "diff": 59}
    assert diff["live/metrics.json"]["epoch"]["new"] == 60

    # the experiment's features against the baseline's, through the installed console script, without exp apply
    out = project.run("featuremaps", "compare", "HEAD", "long").stdout
    assert re.search(r"^conv2 +0\.\d+ +-?0\.\d+ +-?0\.\d+ +\d+/16 ", out, re.M), out  # CKA, debiased, chance
    compared = json.loads((project.path / "reports/compare/HEAD-vs-long/compare.json").read_text())
    assert compared["b"]["revision"] == "long" and compared["a"]["commit"] != compared["b"]["commit"]
    assert {c["key"] for c in compared["changed_params"]} == {"seed", "train.lr", "train.epochs", "train.batch_size",
                                                              "render.dpi"}
    for layer in ("conv1", "conv2"):
        assert 0 < compared["layers"][layer]["cka"] < 0.999
        assert len(compared["layers"][layer]["pairs"]) + len(compared["layers"][layer]["dead"]["a"]) >= 6

    # DVC's diffs of the workspace against HEAD, with the experiment applied
    project.dvc("exp", "apply", "long")
    shown = project.dvc("exp", "show", "--json").stdout
    assert "long" in shown and "0.003" in shown
    params = project.dvc("params", "diff").stdout
    assert "train.lr" in params and "0.003" in params
    metrics = project.dvc("metrics", "diff").stdout
    assert "val_accuracy" in metrics or "val_loss" in metrics
    # the interpretability metrics, old and new: how the experiment changed the network's inner workings
    diff = json.loads(project.dvc("metrics", "diff", "--all", "--json").stdout)["reports/interpretability.json"]
    for layer in ("conv1", "conv2"):
        for key in ("dead_channels", "mean_selectivity", "max_accuracy_drop", "max_drop_channel"):
            entry = diff[f"{layer}.{key}"]
            assert set(entry) >= {"old", "new"} and entry["old"] is not None and entry["new"] is not None, entry
    assert diff["conv2.mean_selectivity"]["old"] != diff["conv2.mean_selectivity"]["new"]
    diff = project.dvc("plots", "diff", "HEAD", "-o", str(project.tmp / "diff")).stdout
    assert "index.html" in diff
    refused = project.dvc("exp", "run", "-S", "train.learning_rate=0.1", check=False)
    assert refused.returncode != 0
    assert "learning_rate" in refused.stderr + refused.stdout
