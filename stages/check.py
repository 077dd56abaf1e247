"""Stage check: the whole of params.yaml, before any other stage runs.

    python stages/check.py      (normally run by `dvc repro`)

DVC reruns a stage only when the params it lists change, so a mistyped section
(`trian:` for `train:`) would otherwise be ignored in silence. This stage lists the
whole file and stops `dvc repro` with one line naming the bad key. Its output only says
the file was valid, so it never changes and never makes another stage rerun. It also refuses
settings whose training or analysis would exceed the memory or time budget (featuremaps.cost),
and a dataset that would not fit the free disk, before the download: each torch stage checks the
memory and time again on the real dataset.
"""
from pathlib import Path

from featuremaps import paths
from featuremaps.data.folder import check_names
from featuremaps.cost import check_costs, check_disk
from featuremaps.data.expected import expected_data_shape
from featuremaps.files import write_text
from featuremaps.model.epochs import visualized_epochs
from featuremaps.model.settings import check_model_settings
from featuremaps.params import load_params
from featuremaps.stage import run_stage


def main():
    params = load_params()
    if params.data.source == "folder" and Path(params.data.folder).is_dir():
        check_names(params.data.folder)  # before DVC hashes the folder for download, which such a name stops
    check_model_settings(params)
    shape = expected_data_shape(params)
    measured = None
    if params.model.source != "builtin":  # torch only for a model that must be measured
        from featuremaps.model.sizes import planned_sizes
        measured = planned_sizes(params, shape)
    check_costs(params, shape, measured)
    check_disk(params, shape, paths.DATA)
    visualized_epochs(params.train.epochs, params.train.snapshot_every, params.timelapse.vis_epochs)
    write_text(paths.PARAMS_OK, "params.yaml is valid\n")


if __name__ == "__main__":
    run_stage(main)
