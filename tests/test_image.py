"""`featuremaps image`: a dataset image gives the pipeline's own answer, polarity and aspect are
handled, and bad files and models are refused one line each."""
import json
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from browser import open_offline
from featuremaps.cli import main
from featuremaps.command_output import MARKER
from featuremaps.data.decode import opened_image
from featuremaps.image.prepare import prepared_input
from featuremaps.image.response import response
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.network import normalised_images


def image_command(*args, capsys):
    status = main(["image", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_dataset_image_gives_the_pipelines_own_answer(stage_outputs, tmp_path, capsys):
    examples = np.load(stage_outputs / "data/activations/examples.npz")
    split = str(examples["split"])
    c = int(np.flatnonzero(examples["index"] >= 0)[0])
    index, pixels = int(examples["index"][c]), examples["input"][c]
    Image.fromarray(pixels).save(tmp_path / "digit.png")
    model_path = stage_outputs / "data/model/model.pt"
    status, out, err = image_command(tmp_path / "digit.png", "--model", model_path, "--out", tmp_path / "out",
                                     "--repo", stage_outputs, capsys=capsys)
    assert status == 0, err
    assert "digit.png: " in out and "used as it is" in out
    record = json.loads((tmp_path / "out/images.json").read_text())["images"][0]

    per_image = pd.read_parquet(stage_outputs / "data/activations/per_image.parquet")
    row = per_image[(per_image["split"] == split) & (per_image["index"] == index)].iloc[0]
    assert record["class"] == int(row["pred"])
    model, ckpt = load_checkpoint(model_path)
    with torch.no_grad():
        expected = torch.softmax(model(normalised_images(model, pixels[None])), 1)[0].numpy()
    assert np.allclose(list(record["probabilities"].values()), expected, atol=1e-5)

    prepared, notes = prepared_input(opened_image(tmp_path / "digit.png"), tuple(pixels.shape), 4)
    assert np.array_equal(prepared, pixels)
    seen = response(model, prepared[None], "relu", ["conv1", "conv2"])
    for layer in ("conv1", "conv2"):
        assert np.allclose(seen.maps[layer][0], examples[layer][c], atol=1e-5)
        assert seen.gradcam[layer].shape == (1, *pixels.shape) and (seen.gradcam[layer] >= 0).all()
    assert (tmp_path / "out/digit.png").stat().st_size > 10_000
    seen = open_offline(tmp_path / "out/index.html", tmp_path / "page.png")
    assert seen["external"] == [] and seen["console_errors"] == []
    assert seen["images_loaded"] == [["digit.png", True]]


def ring(size, width=8) -> Image.Image:
    """A light ring on black filling the whole image."""
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).ellipse([0, 0, size[0] - 1, size[1] - 1], outline=255, width=width)
    return image


@pytest.mark.parametrize("size", [(120, 90), (28, 28)])
def test_dark_on_light_and_light_on_dark_give_the_same_input(size):
    light = ring(size, width=max(2, size[0] // 12))
    a, notes_a = prepared_input(light, (28, 28), 4)
    b, notes_b = prepared_input(ImageOps.invert(light), (28, 28), 4)
    assert np.array_equal(a, b) and a.max() > 200
    assert "inverted (dark on light)" in notes_b and "inverted (dark on light)" not in notes_a


def test_a_wide_image_is_padded_not_stretched():
    prepared, notes = prepared_input(ring((280, 140)), (28, 28), 4)
    rows, cols = np.flatnonzero(prepared.max(1) > 0), np.flatnonzero(prepared.max(0) > 0)
    # the ink's longer side fills the 20-pixel box; the shorter keeps the 2:1 aspect
    assert len(cols) == 20 and len(rows) == 10
    assert rows.min() >= 4 and rows.max() <= 23 and prepared[:rows.min()].max() == 0


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds no pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) \
        + chunk(b"IEND", b"")


def test_bad_images_are_refused_one_line_each_and_the_others_done(stage_outputs, tmp_path, capsys):
    ring((90, 90)).save(tmp_path / "good.png")
    whole = (tmp_path / "good.png").read_bytes()
    files = {"notes.txt": b"not an image\n", "empty.png": b"", "truncated.png": whole[:len(whole) // 2],
             "huge.png": png_header(20000, 20000), "tall.png": png_header(100, 12000)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.png").mkdir()
    bad = list(files) + ["folder.png"]
    status, out, err = image_command(*(tmp_path / n for n in ["good.png"] + bad), "--out", tmp_path / "out",
                                     "--model", stage_outputs / "data/model/model.pt", capsys=capsys)
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == len(bad)
    for name, line in zip(bad, lines):
        assert name in line, (name, line)
    assert "refused before decoding" in lines[bad.index("huge.png")]
    assert "refused before decoding" in lines[bad.index("tall.png")]
    assert "truncated" in lines[bad.index("truncated.png")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([MARKER, "good.png", "images.json",
                                                                           "index.html"])
    assert [r["file"] for r in json.loads((tmp_path / "out/images.json").read_text())["images"]] == ["good.png"]


def test_a_missing_or_foreign_model_is_refused(tmp_path, capsys):
    ring((90, 90)).save(tmp_path / "good.png")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    (tmp_path / "text.pt").write_text("not a model")
    for model, expected in (("missing.pt", "not found"), ("foreign.pt", "not a featuremaps checkpoint"),
                            ("text.pt", "not a loadable featuremaps checkpoint")):
        status, out, err = image_command(tmp_path / "good.png", "--model", tmp_path / model, "--out",
                                         tmp_path / "out", capsys=capsys)
        assert status == 1 and expected in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main(["image", str(tmp_path / "good.png"), "--margin", "11"])
    assert "from 0 to 10" in capsys.readouterr().err


def test_a_16_bit_image_is_scaled_not_clipped(stage_outputs, tmp_path, capsys):
    # the dataset image saved at 16 bits (each level x 257): the command sees the same pixels and answers the same
    examples = np.load(stage_outputs / "data/activations/examples.npz")
    pixels = examples["input"][int(np.flatnonzero(examples["index"] >= 0)[0])]
    Image.fromarray(pixels).save(tmp_path / "eight.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    assert Image.open(tmp_path / "sixteen.png").mode == "I;16"
    assert np.array_equal(prepared_input(opened_image(tmp_path / "sixteen.png"), pixels.shape, 4)[0], pixels)
    status, out, err = image_command(tmp_path / "eight.png", tmp_path / "sixteen.png", "--model",
                                     stage_outputs / "data/model/model.pt", "--out", tmp_path / "out",
                                     "--repo", stage_outputs, capsys=capsys)
    assert status == 0, err
    eight, sixteen = json.loads((tmp_path / "out/images.json").read_text())["images"]
    assert sixteen["probabilities"] == eight["probabilities"] and "used as it is" in out.split("sixteen.png")[1]
