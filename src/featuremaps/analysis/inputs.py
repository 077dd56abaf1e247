"""What every analysis stage opens first: params, its device, the dataset's meta, the trained model
(checked against the dataset) and the conv layers to analyse, each problem one line.

    params = load_params()
    run = analysis_inputs(params, "visualize", params.extract.layers, paths.DATASET, paths.MODEL)
    run.model, run.layers, run.device, run.meta, run.params, run.architecture
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from featuremaps.cost import check_costs
from featuremaps.data.shape import data_shape
from featuremaps.data.store import read_meta
from featuremaps.model.architecture import architecture_record
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.device import select_device
from featuremaps.model.network import dataset_config
from featuremaps.model.seam import chosen_layers, is_builtin
from featuremaps.model.sizes import measured_sizes
from featuremaps.errors import ParamsError
from featuremaps.params import Params, reported_as


@dataclass
class AnalysisInputs:
    params: Params
    device: torch.device
    meta: dict
    model: nn.Module
    layers: list
    architecture: dict  # featuremaps.model.architecture's record, as model.pt holds it


def analysis_inputs(params: Params, section: str, layers, dataset: Path, model_file: Path) -> AnalysisInputs:
    """The inputs of the stage whose params section is `section` (its `device` setting is used): the
    conv layers `layers` (extract.layers) of the model in `model_file`, checked against the dataset
    folder's meta (the stage names the settings and paths it reads, as dvc.yaml does)."""
    setting = getattr(params, section).device
    with reported_as(f"{section}.device", setting):
        device = select_device(setting)
    meta = read_meta(dataset)
    model, ckpt = load_checkpoint(model_file, dataset_config(meta))
    # the builtin network is sized from params; another model from itself
    check_costs(params, data_shape(meta),
                None if params.model.source == "builtin" else measured_sizes(model, meta["image_shape"]))
    if not is_builtin(model) and section == "attribute" and params.attribute.gradcam_map == "rectified":
        raise ParamsError("params.yaml: attribute.gradcam_map = 'rectified' weighs the builtin network's maps after "
                          "its ReLU, which commutes with its pooling; another model's maps are weighed as its layer "
                          "gives them (Captum's convention): use conv")
    with reported_as("extract.layers", layers):
        layers = chosen_layers(model, layers, meta["image_shape"])
    # a model.pt from before the record was kept: recorded from the model, as train would have
    architecture = ckpt.get("architecture") or architecture_record(model, ckpt["config"])
    return AnalysisInputs(params, device, meta, model, layers, architecture)
