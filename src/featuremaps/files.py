"""Files between stages: atomic writes, and reads that stop with one line.

Every output goes to a temporary name in its folder, then is renamed.

A stage killed half way therefore leaves the previous file in place (dvc.yaml marks every
output `persist`, so DVC does not delete it first), never a truncated one. The temporary
names match TEMP_PATTERN, which .dvcignore and .gitignore list, so a leftover from a kill
is never recorded by DVC or git; the next write of the same file removes it.

Every read of another stage's file goes through read_artifact, so a missing file says which
stage to run and an unreadable one which stage to rerun.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from featuremaps.errors import ArtifactError, first_line

TEMP_PATTERN = ".*.tmp*"  # .<name>.<random>.tmp<suffix>, listed in .dvcignore and .gitignore

_UMASK = os.umask(0)
os.umask(_UMASK)


# While a stage runs (featuremaps.stage.run_stage), the renames of its outputs wait here until the whole
# stage has succeeded, so a stage that fails half way replaces none of its outputs (the model beside the
# old metrics would be a mixed state). Only the process that opened it defers: a forked worker's
# output is renamed as it is written.
_together: dict = {"pid": None, "renames": []}


@contextlib.contextmanager
def together():
    """Inside the block, every atomic_path and atomic_folder is renamed into place only when the block
    succeeds, one after another; if it fails, every temporary is removed and nothing is replaced."""
    if _together["pid"] == os.getpid():  # already inside one: the outer block decides
        yield
        return
    _together.update(pid=os.getpid(), renames=[])
    try:
        yield
        for rename in _together["renames"]:
            rename(True)
    except BaseException:
        for rename in _together["renames"]:
            rename(False)
        raise
    finally:
        _together.update(pid=None, renames=[])


def _deferred() -> bool:
    return _together["pid"] == os.getpid()


def _replace_file(tmp: str, path: Path, keep: bool) -> None:
    if keep and os.path.exists(tmp):  # gone: a later write of the same path in the stage replaced it
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    elif os.path.exists(tmp):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it onto `path` if the block succeeds (inside
    together(): when that block succeeds)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = f".{path.name}.", ".tmp" + path.suffix  # matches TEMP_PATTERN
    for stale in glob.glob(os.path.join(glob.escape(str(path.parent)), glob.escape(prefix) + "*" + suffix)):
        os.unlink(stale)  # left by a killed run; DVC's lock means no other writer is running
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    os.close(fd)
    deferred = False
    try:
        yield Path(tmp)
        if _deferred():
            _together["renames"].append(lambda keep: _replace_file(tmp, path, keep))
            deferred = True
        else:
            _replace_file(tmp, path, True)
    finally:
        if not deferred and os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_folder(path: str | Path):
    """Yield an empty temporary folder beside `path`; if the block succeeds it replaces `path` (the
    old folder is renamed aside, the new one into place, the old one removed), else it is removed."""
    import shutil
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = f".{path.name}.", ".tmp"  # matches TEMP_PATTERN
    for stale in glob.glob(os.path.join(glob.escape(str(path.parent)), glob.escape(prefix) + "*" + suffix)):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=path.parent))

    def replace(keep: bool) -> None:
        if not tmp.exists():  # a later write of the same folder in the stage replaced it
            return
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    deferred = False
    try:
        yield tmp
        if _deferred():
            _together["renames"].append(replace)
            deferred = True
        else:
            replace(True)
    finally:
        if not deferred and tmp.exists():
            shutil.rmtree(tmp)


def safe_name(name: str, empty: str = "file") -> str:
    """`name` for a file or folder: every run of characters but letters, digits, '.', '+', '-' as '_'."""
    return re.sub(r"[^\w.+-]+", "_", name).strip("._") or empty


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_npz(path: str | Path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def write_csv(path: str | Path, frame) -> None:
    """A pandas DataFrame as CSV, without its index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_artifact(path: str | Path, read, *, what: str, stage: str, errors=(OSError, ValueError)):
    """read(path); a missing file stops with 'run the <stage> stage first', one of `errors`
    with 'not <what> (<the library's first line>); rerun the <stage> stage'."""
    try:
        return read(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; run the {stage} stage first (dvc repro)") from None
    except errors as exc:
        raise ArtifactError(f"{path}: not {what} ({first_line(exc)}); rerun the {stage} stage") from None


def require(path: str | Path, found, expected: list, noun: str, stage: str) -> None:
    """Stop with one line when any of `expected` (keys, columns, arrays) is not in `found`."""
    missing = [name for name in expected if name not in found]
    if missing:
        raise ArtifactError(f"{path}: missing {noun}{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                            f"expected {', '.join(expected)}; rerun the {stage} stage")


def _load_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def read_arrays(path: str | Path, required, stage: str) -> dict:
    """An NPZ file written by `stage` as {name: array}; missing arrays stop with their names."""
    arrays = read_artifact(path, _load_npz, what="a readable NPZ file", stage=stage,
                           errors=(OSError, ValueError, EOFError, zipfile.BadZipFile))
    require(path, arrays, list(required), "array", stage)
    return arrays


def read_json(path: str | Path, stage: str) -> dict:
    """A JSON object written by `stage`; anything but an object counts as empty (its keys are then missing)."""
    value = read_artifact(path, lambda p: json.loads(Path(p).read_text()), what="valid JSON", stage=stage)
    return value if isinstance(value, dict) else {}
