"""The model settings that only make sense together, checked from params alone (no torch: the check
stage runs this before anything is downloaded; train checks the model itself when it builds it).

A factory file and a checkpoint lie under MODELS (models/ in the project), the folder DVC watches
for train and every stage that loads the model: a new checkpoint or an edited factory there reruns
train and what follows, and nothing before it.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from featuremaps.errors import ParamsError
from featuremaps.paths import MODELS
from featuremaps.params import Params


def _under_models(key: str, value: str) -> None:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != MODELS.name:
        raise ParamsError(f"params.yaml: {key} = {value!r}: put the file under {MODELS.name}/ (the folder DVC "
                          f"watches for train) and name it from the project, e.g. {MODELS.name}/{path.name}")
    if not Path(value).is_file():
        raise ParamsError(f"params.yaml: {key} = {value!r}: not found")


def check_model_settings(params: Params) -> None:
    """ParamsError with one line for model settings that do not go together."""
    m = params.model
    needs = {"torchvision": ("name", "a classification model of torchvision.models, e.g. resnet18"),
             "module": ("factory", "path/to/file.py:make_net or package.module:make_net")}
    for source, (key, what) in needs.items():
        value = getattr(m, key)
        if m.source == source and not value:
            raise ParamsError(f"params.yaml: model.{key} is empty; model.source {source} needs {what}")
        if m.source != source and value:
            raise ParamsError(f"params.yaml: model.{key} = {value!r} is read only with model.source {source} "
                              f"(model.source is {m.source})")
    if m.source == "builtin" and m.kwargs:
        raise ParamsError("params.yaml: model.kwargs is read only with model.source torchvision or module; "
                          "the builtin network is sized by model.conv_channels, kernel_size, fc_units")
    if m.source == "module":
        where = m.factory.rpartition(":")[0]
        if where.endswith(".py"):
            _under_models("model.factory", where)
    if m.checkpoint:
        _under_models("model.checkpoint", m.checkpoint)
    elif params.train.epochs == 0:
        raise ParamsError("params.yaml: train.epochs = 0 evaluates model.checkpoint as it is, but model.checkpoint "
                          "is empty; name a checkpoint or train for at least 1 epoch")
