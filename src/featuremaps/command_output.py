"""The output folder of a `featuremaps` command (compare, image): checked before any work, built
aside and swapped in whole, never at the cost of a file the command did not write.

    folder = checked_folder(args.out, "image", repo)       # OutputError with one line, before any work
    with command_folder(folder, "image") as (building, scratch):
        ...write into building; fetch revisions into scratch...

A command replaces only a folder that does not exist, an empty one, or one it wrote itself, which
it marks with MARKER (the command and the version). Anything else is refused: a file, a folder of
the user's or of the pipeline (`data`, `reports`, `.`), or a folder inside a pipeline output.

Everything temporary lives in one folder beside the output, `.<name>.<pid>.<random>.tmp`
(TEMP_PATTERN, so DVC and git ignore it): the new folder being built and the scratch space
for files fetched from revisions. A run that is killed leaves it behind; the next run of any
command writing beside it removes it once its process is gone.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from featuremaps import paths
from featuremaps.errors import FeaturemapsError

MARKER = ".featuremaps-output.json"
VERSION = 1  # of the folder's layout; a marker of another version is still the command's own


class OutputError(FeaturemapsError):
    """An output folder that may not be written: not the command's, a file, unwritable."""


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def marker_command(folder: Path) -> str | None:
    """The command named by `folder`'s marker, None when it has none (or an unreadable one)."""
    try:
        found = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return found.get("command") if isinstance(found, dict) else None


def pipeline_outputs(repo: Path) -> dict:
    """{resolved path: stage} of every output dvc.yaml lists (empty when there is none or it is unreadable)."""
    try:
        stages = (yaml.safe_load((repo / "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    found = {}
    for stage, entry in stages.items():
        for key in ("outs", "metrics", "plots"):
            for out in (entry or {}).get(key) or []:
                name = next(iter(out)) if isinstance(out, dict) else out
                if isinstance(name, str):
                    found[(repo / name).resolve()] = stage
    return found


def checked_folder(out: str | Path, command: str, repo: str | Path = ".") -> Path:
    """The resolved output folder of `featuremaps <command>`; OutputError with one line unless the
    command may replace it whole (see the module's docstring)."""
    shown = f"--out {out}" if str(out) else "--out ''"
    try:
        folder = Path(out).resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise OutputError(f"{shown}: cannot be resolved ({exc}); give a new or empty folder") from None
    for output, stage in pipeline_outputs(Path(repo).resolve()).items():
        if folder == output or output in folder.parents:
            raise OutputError(f"{shown}: {'is' if folder == output else 'inside'} {output.relative_to(Path(repo).resolve())}, "
                              f"an output of the pipeline's {stage} stage; give a folder outside the pipeline's outputs")
    data = (Path(repo).resolve() / paths.DATA)
    if data in folder.parents:
        raise OutputError(f"{shown}: inside {paths.DATA}/, the pipeline's data (DVC's outputs and downloads); give a "
                          f"folder outside it")
    if folder.parent == folder:
        raise OutputError(f"{shown}: the root folder; give a new or empty folder")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{shown}: a file, not a folder; give a new or empty folder")
    if folder.is_dir():
        try:
            entries = sorted(os.listdir(folder))
        except OSError as exc:
            raise OutputError(f"{shown}: cannot be read ({_reason(exc)})") from None
        owner = marker_command(folder)
        if entries and owner != command:
            made = f"written by featuremaps {owner}" if owner else "not written by featuremaps"
            sample = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise OutputError(f"{shown}: a folder {made} ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: "
                              f"{sample}); give a new or empty folder, or one an earlier featuremaps {command} wrote")
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path) -> None:
    """Remove the temporary folders that killed runs left beside `folder` (their process is gone)."""
    try:
        candidates = list(folder.parent.glob(f".{folder.name}.*.tmp"))
    except OSError:
        return
    for path in candidates:
        parts = path.name[len(folder.name) + 2:].split(".")
        if len(parts) == 3 and parts[0].isdigit() and path.is_dir() and not _alive(int(parts[0])):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def command_folder(folder: Path, command: str):
    """Yield (the new folder to fill, a scratch folder) under one temporary folder beside `folder`;
    if the block succeeds, the new folder, marked, replaces `folder` whole. OSError -> OutputError."""
    shown = f"--out {folder}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(folder)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", suffix=".tmp", dir=folder.parent))
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {folder.parent} ({_reason(exc)})") from None
    try:
        building, scratch = tmp / "new", tmp / "scratch"
        building.mkdir()
        scratch.mkdir()
        yield building, scratch
        (building / MARKER).write_text(json.dumps({"command": command, "version": VERSION}) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(building, 0o777 & ~umask)  # mkdtemp's 0700 would hide the pages from others
        if folder.exists():
            if marker_command(folder) != command and os.listdir(folder):
                raise OutputError(f"{shown}: something other than featuremaps {command} wrote there while it ran; "
                                  f"nothing replaced (give a new or empty folder)")
            folder.rename(tmp / "old")
        building.rename(folder)
    except OSError as exc:
        raise OutputError(f"{shown}: cannot be written ({_reason(exc)})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
