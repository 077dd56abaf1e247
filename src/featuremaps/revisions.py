"""Files of a revision (a commit, branch, tag, `dvc exp` name, or the workspace) through DVC's
Python API, for the commands that read results instead of making them.

dvc.api.DVCFileSystem serves each file from the DVC cache, fetching from the remote that the
revision's .dvc/config names what the cache lacks; nothing is checked out.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from featuremaps.errors import FeaturemapsError, first_line

WORKSPACE = "workspace"
UPSTREAM = "auto-generated-upstream"  # the remote DVCFileSystem adds for the local cache: not the revision's


class RevisionError(FeaturemapsError):
    """A revision that is unknown, or a file it lacks or whose data is nowhere to be found."""


def open_revision(repo: str | Path, name: str):
    """(DVC's file system of revision `name` of the repository at `repo`, the commit it resolves to)."""
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException
    try:
        fs = DVCFileSystem(str(repo), rev=None if name == WORKSPACE else name)
        return fs, fs.repo.get_rev()  # the revision is resolved here
    except DvcException as exc:
        raise RevisionError(f"{name}: {first_line(exc)}; give a commit, branch, tag, experiment name "
                            f"(dvc exp list) or {WORKSPACE}") from None


def running_dvc(repo: str | Path) -> str | None:
    """The command of a DVC process that holds a write lock in the repository now (a `dvc repro` or `dvc exp
    run` writing its outputs), from DVC's .dvc/tmp/rwlock; None when none runs."""
    try:
        locks = json.loads((Path(repo) / ".dvc/tmp/rwlock").read_text() or "{}")
    except (OSError, ValueError):
        return None
    for info in (locks.get("write") or {}).values():
        try:
            os.kill(int(info["pid"]), 0)
        except (OSError, KeyError, TypeError, ValueError):
            continue  # a lock left by a process that is gone
        return str(info.get("cmd") or "dvc")
    return None


def workspace_warning(repo: str | Path) -> str | None:
    """One line when the workspace's outputs may not belong together: a DVC command is writing them now, or
    `dvc status` lists stages whose outputs are older than their params, code or data; None when current."""
    running = running_dvc(repo)
    if running:
        return (f"the workspace is being written by a running `{running}`: its outputs may mix two runs; "
                f"compare it when that ends")
    from dvc.repo import Repo
    try:
        with Repo(str(repo)) as dvc_repo:
            stale = sorted(name.split(":")[-1] for name in dvc_repo.status())
    except Exception:  # noqa: BLE001: a status DVC cannot give is no reason to stop a read
        return None
    if not stale:
        return None
    return (f"the workspace is not up to date (dvc status: {', '.join(stale)} changed): its outputs may mix "
            f"runs; run `dvc repro` first")


def locked_output(fs, path: Path) -> str | None:
    """The output in the revision's dvc.lock that holds `path` (itself or a folder above it), None if none."""
    import yaml
    try:
        with fs.open("dvc.lock") as fh:
            stages = (yaml.safe_load(fh.read()) or {}).get("stages") or {}
    except Exception:  # noqa: BLE001: no dvc.lock, or one that is not YAML: nothing is listed
        return None
    wanted = path.as_posix()
    for entry in stages.values():
        for out in (entry or {}).get("outs") or []:
            name = out.get("path") if isinstance(out, dict) else None
            if isinstance(name, str) and (wanted == name or wanted.startswith(name.rstrip("/") + "/")):
                return name
    return None


def named_remote(fs) -> str | None:
    """The default DVC remote of the revision (its .dvc/config, and this clone's config.local), None if none."""
    try:
        remote = fs.repo.config["core"].get("remote")
    except Exception:  # noqa: BLE001
        remote = None
    return None if remote == UPSTREAM else remote


def remote_words(fs) -> str:
    """'the remote that revision names (<name>)', or that it names none."""
    remote = named_remote(fs)
    return f"the remote that revision names ({remote})" if remote else "a remote (that revision names none)"


def missing_data_fix(fs, name: str) -> str:
    """What to do about data of revision `name` that neither the cache nor its remote holds."""
    import shlex
    name = shlex.quote(name)
    if named_remote(fs) is None:
        return (f"a remote added after {name} was committed is not in it: add it in this clone "
                f"(`dvc remote add --local -d <name> <url>`), then `dvc pull` or `dvc exp pull <git remote> {name}`")
    return (f"get it with `dvc pull` where {name} is checked out (or `dvc exp pull <git remote> {name}` for an "
            f"experiment), or push it from the machine that made it (`dvc push`, or `dvc exp push <git remote> "
            f"{name}`)")


def fetch(fs, name: str, path: Path, folder: Path, required: bool = True) -> bool:
    """Copy the revision's `path` to the same path under `folder`; False when absent and not required."""
    from dvc.exceptions import DvcException
    target = folder / path
    if target.exists():
        return True
    try:
        exists = fs.isfile(path.as_posix())
    except DvcException as exc:
        raise RevisionError(f"{name}: {path}: {first_line(exc)}") from None
    if not exists:
        locked = locked_output(fs, path)
        if locked is not None:
            raise RevisionError(f"{name}: its dvc.lock lists {locked}, but its data is in neither this DVC cache nor "
                                f"{remote_words(fs)}; {missing_data_fix(fs, name)}")
        if not required:
            return False
        raise RevisionError(f"{name}: has no {path}; run the pipeline there first (dvc repro, or dvc exp run)")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fs.get_file(path.as_posix(), str(target))
    except (DvcException, OSError) as exc:
        raise RevisionError(f"{name}: {path} is in neither the DVC cache nor {remote_words(fs)} "
                            f"({first_line(exc)}); {missing_data_fix(fs, name)}") from None
    return True
