from pathlib import Path

import pytest
import yaml

from featuremaps.errors import ParamsError
from featuremaps.params import Params, load_params, params_as_dict, params_from_dict

ROOT = Path(__file__).resolve().parents[1]


def test_project_params_load_and_match_defaults():
    p = load_params(ROOT / "params.yaml")
    assert p.train.lr == 1e-3 and p.train.batch_size == 256 and p.train.epochs == 15
    assert p.extract.layers == "all"
    assert p.model.conv_channels == (6, 16) and p.model.fc_units == (120, 84) and p.model.kernel_size == 3
    # params.yaml states every setting; the declared defaults are the same values.
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    defaults = params_as_dict(Params())
    for section, values in raw.items():
        if isinstance(values, dict):
            assert set(values) == set(defaults[section]), section
    assert p.model == Params().model and p.train == Params().train


def test_missing_keys_take_defaults():
    p = params_from_dict({"train": {"lr": 0.01}})
    assert p.train.lr == 0.01 and p.train.epochs == 15 and p.render.dpi == 100


@pytest.mark.parametrize("raw, message", [
    ({"trian": {}}, "unknown key trian; allowed keys: seed, data, model, train, extract, visualize, attribute, "
                    "timelapse, render"),
    ({"attribute": {"split": "test"}}, "attribute.split = 'test' is not allowed; expected one of val, train"),
    ({"attribute": {"ig_steps": 0}}, "attribute.ig_steps = 0 is not allowed; expected an integer in [1, 256]"),
    ({"attribute": {"n_misclassified": -1}}, "attribute.n_misclassified = -1 is not allowed"),
    ({"attribute": {"batch_size": 0}}, "attribute.batch_size = 0 is not allowed"),
    ({"visualize": {"steps": 0}}, "visualize.steps = 0 is not allowed; expected an integer in [1, 2000]"),
    ({"visualize": {"seeds": 0}}, "visualize.seeds = 0 is not allowed; expected an integer in [1, 16]"),
    ({"visualize": {"lr": 0}}, "visualize.lr = 0 is not allowed; expected a number in (0.0, 10.0]"),
    ({"visualize": {"lr": -0.1}}, "visualize.lr = -0.1 is not allowed"),
    ({"visualize": {"objective": "logit"}}, "visualize.objective = 'logit' is not allowed; expected one of channel, "
                                            "neuron"),
    ({"visualize": {"jitter": 9}}, "visualize.jitter = 9 is not allowed; expected an integer in [0, 8]"),
    ({"visualize": {"tv": -1}}, "visualize.tv = -1 is not allowed; expected a number in [0.0, 100.0]"),
    ({"visualize": {"l1": -0.5}}, "visualize.l1 = -0.5 is not allowed; expected a number in [0.0, 100.0]"),
    ({"visualize": {"diversity": -2}}, "visualize.diversity = -2 is not allowed; expected a number in [0.0, 100.0]"),
    ({"visualize": {"rotate": 90}}, "visualize.rotate = 90 is not allowed; expected a number in [0.0, 45.0]"),
    ({"visualize": {"parametrisation": "cppn"}}, "visualize.parametrisation = 'cppn' is not allowed; expected one of "
                                                 "sigmoid, fourier"),
    ({"attribute": {"gradcam_map": "pooled"}}, "attribute.gradcam_map = 'pooled' is not allowed; expected one of conv, "
                                               "rectified"),
    ({"attribute": {"ablate_k": 0}}, "attribute.ablate_k = 0 is not allowed; expected an integer in [1, 64]"),
    ({"extract": {"top_k_by": "mean"}}, "extract.top_k_by = 'mean' is not allowed; expected one of max, sum"),
    ({"train": {"learning_rate": 1}}, "unknown key train.learning_rate; allowed keys in train: epochs"),
    ({"train": {"lr": 0}}, "train.lr = 0 is not allowed; expected a number in (0.0, 10.0]"),
    ({"train": {"lr": -0.1}}, "train.lr = -0.1 is not allowed"),
    ({"train": {"lr": "fast"}}, "train.lr = 'fast' is not allowed; expected a number"),
    ({"train": {"epochs": -1}}, "train.epochs = -1 is not allowed; expected an integer in [0, 1000]"),
    ({"train": {"epochs": 2.5}}, "train.epochs = 2.5 is not allowed; expected an integer"),
    ({"train": {"batch_size": -4}}, "train.batch_size = -4 is not allowed"),
    ({"train": {"epochs": True}}, "train.epochs = True is not allowed"),
    ({"train": {"rescore_train": 1}}, "train.rescore_train = 1 is not allowed; expected true or false"),
    ({"train": {"device": "tpu"}}, "train.device = 'tpu' is not allowed; expected one of auto, cpu, cuda, mps"),
    ({"model": {"dropout": 1.0}}, "model.dropout = 1.0 is not allowed; expected a number in [0.0, 1.0)"),
    ({"model": {"dropout2d": -0.1}}, "model.dropout2d = -0.1 is not allowed"),
    ({"data": {"val_fraction": 1}}, "data.val_fraction = 1 is not allowed; expected a number in (0.0, 1.0)"),
    ({"data": {"val_fraction": 0.0}}, "data.val_fraction = 0.0 is not allowed"),
    ({"data": {"source": "s3"}}, "data.source = 's3' is not allowed; expected one of auto, torchvision, npm, idx"),
    ({"extract": {"layers": []}}, "extract.layers = [] is not allowed; expected all or a list of at least 1 string"),
    ({"extract": {"layers": "conv1"}}, "extract.layers = 'conv1' is not allowed"),
    ({"extract": {"layers": ["conv1", "conv1"]}}, "extract.layers = ['conv1', 'conv1'] lists 'conv1' twice; "
                                                  "expected distinct values"),
    ({"model": {"conv_channels": []}}, "model.conv_channels = [] is not allowed; expected a list of 1 to 6 integers "
                                       "in [1, 256]"),
    ({"model": {"conv_channels": [6, 16, 32, 32, 32, 32, 32]}}, "model.conv_channels = [6, 16, 32, 32, 32, 32, 32] is "
                                                                 "not allowed; expected a list of 1 to 6 integers"),
    ({"model": {"conv_channels": [6, 0]}}, "model.conv_channels = [6, 0] is not allowed"),
    ({"model": {"conv_channels": [6, 2.5]}}, "model.conv_channels = [6, 2.5] is not allowed"),
    ({"model": {"conv_channels": [6, True]}}, "model.conv_channels = [6, True] is not allowed"),
    ({"model": {"conv_channels": 16}}, "model.conv_channels = 16 is not allowed"),
    ({"model": {"kernel_size": 4}}, "model.kernel_size = 4 is not allowed; expected one of 3, 5"),
    ({"model": {"batch_norm": "yes"}}, "model.batch_norm = 'yes' is not allowed; expected true or false"),
    ({"model": {"fc_units": [120, 84, 64, 32, 16]}}, "model.fc_units = [120, 84, 64, 32, 16] is not allowed; "
                                                     "expected a list of at most 4 integers in [1, 4096]"),
    ({"model": {"conv1_channels": 6}}, "unknown key model.conv1_channels; allowed keys in model: source, name, "
                                       "factory, kwargs, checkpoint, input_mean, input_std, conv_channels, "
                                       "kernel_size, batch_norm, fc_units"),
    ({"model": {"kwargs": {"not an identifier": 1}}}, "model.kwargs = {'not an identifier': 1} is not allowed; "
                                                       "expected a mapping of keyword arguments"),
    ({"model": {"input_std": [0.5, 0]}}, r"model.input_std = [0.5, 0] is not allowed; expected auto or a list of 1 "
                                         r"to 3 numbers in (0.0, 1000.0]"),
    ({"model": {"source": "timm"}}, "model.source = 'timm' is not allowed; expected one of builtin, torchvision, module"),
    ({"render": {"cmap": "virdis"}}, "render.cmap = 'virdis' is not allowed; expected a matplotlib colour map; "
                                     "closest: viridis"),
    ({"render": {"diverging_cmap": "notacmap"}}, "render.diverging_cmap = 'notacmap' is not allowed; expected a "
                                                 "matplotlib colour map, e.g. viridis"),
    ({"train": 3}, "train must be a mapping"),
    ({"seed": -1}, "seed = -1 is not allowed"),
])
def test_bad_values_name_key_value_and_what_is_allowed(raw, message):
    with pytest.raises(ParamsError) as info:
        params_from_dict(raw)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_list_settings_keep_their_order_and_allow_repeats():
    p = params_from_dict({"model": {"conv_channels": [8, 16, 16], "fc_units": []}, "extract": {"layers": ["conv3", "conv1"]}})
    assert p.model.conv_channels == (8, 16, 16) and p.model.fc_units == () and p.extract.layers == ("conv3", "conv1")


def test_file_errors(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")
