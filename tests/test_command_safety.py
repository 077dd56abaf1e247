"""The `featuremaps` command as a careless or hostile user drives it, through the installed command:
an --out that is not the command's own is refused in one line with every file left as it was, a
killed run's temporary folder is removed by the next, a file that cannot be used never stops the
others, and figures keep to render's pixel budget."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import BIN, Project, snapshot
from featuremaps.cli import main
from featuremaps.command_output import MARKER
from featuremaps.image.prepare import NO_INK
from featuremaps.model.checkpoint import load_checkpoint, save_checkpoint
from featuremaps.model.network import build_model


@pytest.fixture
def repo(baseline) -> Project:
    return baseline


def featuremaps(proj: Project, *args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "featuremaps"), *map(str, args)], cwd=proj.path, env=proj.env,
                          capture_output=True, text=True, timeout=timeout)


def featuremaps_here(proj: Project, capsys, *args) -> subprocess.CompletedProcess:
    """`featuremaps *args` run in this process, in the project: its exit status and output, as the
    console script's would be (for the cases that end before any work: no torch to import again)."""
    cwd = os.getcwd()
    capsys.readouterr()
    os.chdir(proj.path)
    try:
        status = main(list(map(str, args)))
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out.out, out.err)


def one_error(proc, *fragments) -> str:
    """The single `error:` line the command printed, holding every fragment; exit status 1."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def digit(path: Path, size=(60, 60)) -> Path:
    image = Image.new("L", size, 255)
    pixels = np.array(image)
    pixels[size[0] // 4:-size[0] // 4, size[1] // 2 - 3:size[1] // 2 + 3] = 0  # a dark "1" on white paper
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("out, expect", [
    ("data", "a folder not written by featuremaps"),
    ("reports", "not written by featuremaps"),
    (".", "not written by featuremaps"),
    ("params.yaml", "a file, not a folder"),
    ("data/model/mine", "inside data/model, an output of the pipeline's train stage"),
    ("data/newdir", "inside data/, the pipeline's data (DVC's outputs and downloads); give a folder outside it"),
    ("reports/figures", "is reports/figures, an output of the pipeline's render stage"),
])
def test_compare_refuses_an_out_it_did_not_make(repo, out, expect):
    before = snapshot(repo.path)
    proc = featuremaps(repo, "compare", "HEAD", "workspace", "--out", out)
    one_error(proc, f"--out {out}", expect)
    assert snapshot(repo.path) == before


def test_image_refuses_an_out_it_did_not_make(repo, tmp_path, capsys):
    picture = digit(tmp_path / "one.png")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/todo.txt").write_text("mine\n")
    before, mine = snapshot(repo.path), snapshot(tmp_path / "notes")
    for out, expect in (("reports", "not written by featuremaps"), ("params.yaml", "a file, not a folder"),
                        (tmp_path / "notes", "not written by featuremaps (1 entry: todo.txt)"),
                        ("/sys/featuremaps-out", "cannot write in /sys")):
        one_error(featuremaps_here(repo, capsys, "image", picture, "--out", out), expect)
    assert snapshot(repo.path) == before and snapshot(tmp_path / "notes") == mine

    # A folder compare wrote is not image's either; an empty one and image's own are replaced whole.
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / MARKER).write_text(json.dumps({"command": "compare", "version": 1}))
    one_error(featuremaps_here(repo, capsys, "image", picture, "--out", tmp_path / "cmp"),
              "written by featuremaps compare")
    (tmp_path / "empty").mkdir()
    for _ in range(2):
        proc = featuremaps(repo, "image", picture, "--out", tmp_path / "empty")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert sorted(os.listdir(tmp_path / "empty")) == sorted([MARKER, "index.html", "images.json", "one.png"])
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_killed_compare_leaves_a_folder_the_next_run_removes(repo):
    target = repo.path / "reports/compare/HEAD-vs-workspace"
    pattern = f".{target.name}.*.tmp"
    (repo.tmp / "system-tmp").mkdir()
    repo.env["TMPDIR"] = str(repo.tmp / "system-tmp")  # nothing may land in the system's temporary folder
    proc = subprocess.Popen([str(BIN / "featuremaps"), "compare", "HEAD", "workspace"], cwd=repo.path, env=repo.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it once it has started writing: once its temporary folder holds a fetched file.
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if any(any((p / "scratch").rglob("*.parquet")) for p in target.parent.glob(pattern)):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "compare ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(target.parent.glob(pattern))) == 1
    proc = featuremaps(repo, "compare", "HEAD", "workspace")
    assert proc.returncode == 0, proc.stderr
    assert list(target.parent.glob(pattern)) == [] and (target / "compare.json").is_file()
    assert [p.name for p in (repo.tmp / "system-tmp").iterdir() if p.name.startswith("featuremaps")] == []


def test_compare_names_outputs_missing_from_the_cache(repo):
    shutil.rmtree(repo.path / ".dvc/cache")
    proc = featuremaps(repo, "compare", "HEAD", "workspace", "--out", repo.tmp / "c")
    one_error(proc, "HEAD: its dvc.lock lists data/", "neither this DVC cache nor a remote (that revision names none)",
              "dvc remote add --local -d")


def test_names_that_are_not_utf8_and_a_failure_in_one_figure_never_stop_the_rest(stage_outputs, tmp_path,
                                                                                   monkeypatch, capsys):
    good = digit(tmp_path / "good.png")
    odd = tmp_path / os.fsdecode(b"caf\xe9.png")
    shutil.copy(good, odd)
    proj = Project.__new__(Project)
    proj.path, proj.env = stage_outputs, {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = featuremaps(proj, "image", good, odd, "--out", tmp_path / "out")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    names = [r["file"] for r in json.loads((tmp_path / "out/images.json").read_text())["images"]]
    assert names == ["good.png", "caf\ufffd.png"]
    assert "caf\ufffd.png" in (tmp_path / "out/index.html").read_text()

    # Whatever fails while drawing one image is that image's line; the others are still done.
    import featuremaps.image.report as report
    from featuremaps.cli import main
    real = report.image_figure

    def failing(path, *args, **kw):
        if "bad" in str(path):
            raise RuntimeError("the drawing library gave up")
        return real(path, *args, **kw)
    monkeypatch.setattr(report, "image_figure", failing)
    shutil.copy(good, tmp_path / "bad.png")
    status = main(["image", str(good), str(tmp_path / "bad.png"), "--out", str(tmp_path / "out2"),
                   "--model", str(stage_outputs / "data/model/model.pt"), "--repo", str(stage_outputs)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1 and "bad.png: its figure could not be drawn (RuntimeError" in err[0]
    assert [r["file"] for r in json.loads((tmp_path / "out2/images.json").read_text())["images"]] == ["good.png"]


def test_blank_images_looping_links_and_palette_transparency(stage_outputs, tmp_path):
    Image.new("L", (40, 40), 255).save(tmp_path / "white.png")
    Image.new("L", (28, 28), 0).save(tmp_path / "black.png")
    Image.new("L", (1, 1), 128).save(tmp_path / "dot.png")
    palette = Image.new("P", (50, 50), 0)
    palette.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    pixels = np.zeros((50, 50), np.uint8)
    pixels[10:40, 22:28] = 1
    palette = Image.fromarray(pixels, "P")
    palette.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    palette.info["transparency"] = b"\x00" + b"\xff" * 255  # bytes transparency: Pillow warns on convert
    palette.save(tmp_path / "palette.png", transparency=b"\x00" + b"\xff" * 255)
    os.symlink(tmp_path / "loop.png", tmp_path / "loop.png")
    proj = Project.__new__(Project)
    proj.path, proj.env = stage_outputs, {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = featuremaps(proj, "image", *(tmp_path / n for n in ("white.png", "black.png", "dot.png", "palette.png",
                                                                "loop.png")), "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'loop.png'}: a symbolic link that loops back "
                                                f"on itself"]
    records = {r["file"]: r for r in json.loads((tmp_path / "out/images.json").read_text())["images"]}
    for name in ("white.png", "black.png", "dot.png"):
        assert NO_INK in records[name]["notes"], records[name]
    assert NO_INK not in records["palette.png"]["notes"]


def wide_model(path: Path, like: Path, conv2: int) -> Path:
    _, ckpt = load_checkpoint(like)
    config = {**ckpt["config"], "conv_channels": [ckpt["config"]["conv_channels"][0], conv2]}
    save_checkpoint(path, build_model(config), config, ckpt["classes"])
    return path


def test_image_and_compare_figures_keep_to_the_pixel_budget(stage_outputs, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(stage_outputs / "stages", folder / "stages")
    shutil.copytree(stage_outputs / "data/model", folder / "data/model")
    params = yaml.safe_load((stage_outputs / "params.yaml").read_text())
    params["render"]["dpi"] = 600
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    model = wide_model(tmp_path / "wide.pt", stage_outputs / "data/model/model.pt", 128)
    proj = Project.__new__(Project)
    proj.path, proj.env = folder, {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    line = one_error(featuremaps(proj, "image", digit(tmp_path / "one.png"), "--model", model,
                                 "--out", tmp_path / "out"), "render.dpi = 600 make", "every figure fits at render.dpi <=")
    assert not (tmp_path / "out").exists()
    allowed = int(line.rsplit("<= ", 1)[1].rstrip(";. "))
    params["render"]["dpi"] = allowed
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    proc = featuremaps(proj, "image", tmp_path / "one.png", "--model", model, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "out/one.png") as drawn:
        assert max(drawn.size) <= 8000 and drawn.size[0] * drawn.size[1] <= 40_000_000


def test_the_largest_accepted_image_is_prepared_and_a_larger_one_refused(tmp_path):
    from featuremaps.data.decode import MAX_SIDE, WORK_SIDE, ImageError, opened_image
    from featuremaps.image.prepare import prepared_input
    big = np.zeros((MAX_SIDE, MAX_SIDE), np.uint8)
    big[2000:8000, 4500:5500] = 255
    Image.fromarray(big).save(tmp_path / "big.png")
    del big
    grey, notes = prepared_input(opened_image(tmp_path / "big.png"), (28, 28), 4)
    factor = -(-MAX_SIDE // WORK_SIDE)  # the whole factor that brings it to WORK_SIDE at most
    assert notes[:2] == ["10000x10000", f"reduced to {MAX_SIDE // factor}x{MAX_SIDE // factor}"]
    assert grey.shape == (28, 28) and grey.max() > 200
    with open(tmp_path / "wide.png", "wb") as fh:  # a header claiming 10,001 x 10 pixels
        Image.new("L", (MAX_SIDE + 1, 10)).save(fh, format="PNG")
    with pytest.raises(ImageError, match="refused before decoding"):
        opened_image(tmp_path / "wide.png")


def test_a_comparison_too_large_to_draw_is_refused_before_drawing(tmp_path):
    from types import SimpleNamespace

    from featuremaps.compare.output import check_figure_budget
    from featuremaps.errors import ParamsError
    from featuremaps.params import RenderParams
    side = SimpleNamespace(layers=["conv1", "conv2"])
    c = SimpleNamespace(a=side, b=side, layers=["conv1", "conv2"],
                        matches={"conv1": SimpleNamespace(correlation=np.zeros((256, 256))),
                                 "conv2": SimpleNamespace(correlation=np.zeros((256, 256)))})
    with pytest.raises(ParamsError) as info:  # (2 + 256 + 256) x 0.32 + 7.5 = 172 inches: 17,200 px at 100 dpi
        check_figure_budget(c, RenderParams(), tmp_path)
    assert "similarity.png 17,198 x" in str(info.value) and "render.dpi <= 46" in str(info.value)
    check_figure_budget(c, RenderParams(dpi=46), tmp_path)
