"""Weights trained elsewhere (params.yaml: model.checkpoint), read safely and fitted to the model:

    state = read_state_dict(path)     # {name: tensor}
    load_weights(model, state, path)  # strict: every key of the model, and no other

- `.safetensors`: read with safetensors (tensors only, by its format).
- `.pt` / `.pth` (or any other name): torch.load(..., weights_only=True, map_location="cpu"), which
  refuses a pickled whole model (it could run code when loaded): save `model.state_dict()` instead.
  A TorchScript file is refused too: forward hooks do not run inside it.
- The usual wrappers are opened: {"state_dict": ...}, {"model": ...}, {"model_state_dict": ...}
  (with anything beside them, such as an optimizer's state or an epoch, left alone), and the
  prefixes of nn.DataParallel / DistributedDataParallel (`module.`) and torch.compile
  (`_orig_mod.`) are taken off every key that has them.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from featuremaps.errors import ArgumentError, first_line
from featuremaps.model.normalisation import MEAN, STD

WRAPPERS = ("state_dict", "model_state_dict", "model")
PREFIXES = ("module.", "_orig_mod.")
SHOWN = 3  # keys named in a message at most


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _loaded(path: Path):
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(path, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ArgumentError(f"{path}: not a readable safetensors file ({first_line(exc)})") from None
    if _is_torchscript(path):
        raise ArgumentError(f"{path}: a TorchScript file; forward hooks do not run inside one, so its layers cannot "
                            f"be shown. Save the model's state_dict() and name its code with model.source")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # no pickled object was refused: not a pickle at all (text, an image...)
            raise ArgumentError(f"{path}: not a file torch.save wrote ({first_line(exc)})") from None
        raise ArgumentError(f"{path}: refused: it holds pickled Python objects (a whole model?), which could run "
                            f"code when loaded; save the weights with torch.save(model.state_dict(), path)") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise ArgumentError(f"{path}: not a file torch.save wrote ({first_line(exc)})") from None


def _unwrapped(loaded) -> dict:
    """The state dict inside `loaded`: itself, or under one of WRAPPERS."""
    while isinstance(loaded, dict) and not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        inner = next((loaded[k] for k in WRAPPERS if isinstance(loaded.get(k), dict)), None)
        if inner is None:
            break
        loaded = inner
    return loaded


def _without_prefixes(state: dict) -> dict:
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if state and all(k.startswith(prefix) for k in state):
                state, changed = {k[len(prefix):]: v for k, v in state.items()}, True
    return state


def read_state_dict(path) -> dict:
    """{name: tensor} from a checkpoint file; ArgumentError with one line for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ArgumentError(f"{path}: not found")
    state = _unwrapped(_loaded(path))
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        kinds = sorted(state)[:SHOWN] if isinstance(state, dict) else type(state).__name__
        raise ArgumentError(f"{path}: not a state dict of tensors (found {kinds}); save model.state_dict()")
    return _without_prefixes(state)


def _named(keys: list) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:SHOWN]) + (f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else "")


def _prefix_hint(missing: list, unexpected: list) -> str:
    """A prefix that unexpected keys carry and the model's do not (or the other way round)."""
    for extra, lacking in ((unexpected, missing), (missing, unexpected)):
        for key in extra:
            for other in lacking:
                if key != other and key.endswith("." + other):
                    head = key[:-len(other)]
                    side = "the checkpoint's" if extra is unexpected else "the model's"
                    return f"; {side} keys start with {head!r}: save the inner model's state_dict()"
    return ""


def load_weights(model: nn.Module, state: dict, path) -> None:
    """`state` into `model`, every key matched and every shape equal; ArgumentError naming the first
    few keys (and a prefix the two sides differ by) otherwise. The input normalisation featuremaps
    keeps beside the weights (MEAN, STD) is no part of this: see normalisation_of."""
    own = {k: v for k, v in model.state_dict().items() if k not in (MEAN, STD)}
    state = {k: v for k, v in state.items() if k not in (MEAN, STD)}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = ([f"missing keys {_named(missing)}"] if missing else []) + (
            [f"unexpected keys {_named(unexpected)}"] if unexpected else [])
        raise ArgumentError(f"{path}: does not fit the model: {'; '.join(parts)}{_prefix_hint(missing, unexpected)}")
    wrong = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise ArgumentError(f"{path}: {k} has shape {list(state[k].shape)}, the model's {list(own[k].shape)}"
                            + (f" ({len(wrong) - 1} more differ)" if len(wrong) > 1 else ""))
    model.load_state_dict(state, strict=False)


def normalisation_of(state: dict) -> tuple | None:
    """(mean, std) a featuremaps model file carries beside its weights, else None."""
    if MEAN in state and STD in state:
        return state[MEAN].tolist(), state[STD].tolist()
    return None
