"""The runs of a sweep: which ones (the baseline commit and its `dvc exp` experiments, or those
named), and what is read of each through DVC's Python API: only the small files.

Per run: params.yaml, reports/metrics.json and reports/interpretability.json (in git),
data/dataset/meta.json (its sha256 per split: one dataset for all), and of
data/activations/per_image.parquet only the columns of each channel's strongest unit per image
(the representation CKA compares, streamed a chunk of images at a time), with the images' split
and index. No maps, models or images.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from featuremaps import paths
from featuremaps.analysis.store import PER_IMAGE, read_parquet_file
from featuremaps.compare.comparison import flat_params
from featuremaps.compare.representations import KEYS, RepresentationTable, representation_table
from featuremaps.compare.sides import CompareError
from featuremaps.data.store import META, read_meta
from featuremaps.errors import ArtifactError, first_line
from featuremaps.files import read_json
from featuremaps.model.records import read_metrics
from featuremaps.revisions import fetch, open_revision

STAT = "max"  # the representation: each channel's strongest unit per image (featuremaps.compare.REPRESENTATIONS)
_COLUMN = re.compile(rf"(.+)_f\d+_{STAT}")


class SweepError(CompareError):
    """Runs that cannot be read as one study: unknown, too few, or of different datasets."""


@dataclass
class Run:
    name: str                   # as given: the baseline's revision, an experiment name
    commit: str
    params: dict                # params.yaml, nested
    metrics: dict               # reports/metrics.json
    interpretability: dict      # reports/interpretability.json: layer -> metric -> value ({} when absent)
    meta: dict                  # data/dataset/meta.json
    representation: RepresentationTable  # per_image.parquet's strongest-unit columns per layer, to stream

    @property
    def layers(self) -> list:
        return list(self.representation.columns)

    @cached_property
    def flat(self) -> dict:
        """params.yaml as {dotted key: value}."""
        return flat_params(self.params)


def default_names(repo: str | Path, baseline: str = "HEAD") -> list:
    """[baseline, and every experiment of the baseline commit] (the study orders them by their params)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from scmrepo.exceptions import SCMError
    try:
        with Repo(str(repo)) as dvc_repo:
            found = dvc_repo.experiments.ls(rev=baseline)
    except (DvcException, SCMError) as exc:
        raise SweepError(f"{repo}: cannot list the experiments of {baseline} ({first_line(exc)}); run in a git "
                         f"repository of this project with a commit, or name the runs") from None
    return [baseline] + sorted(name for names in found.values() for name, _ in names)


def layers_of(columns) -> list:
    """The layers with a strongest-unit column, in their order."""
    found = []
    for column in columns:
        match = _COLUMN.fullmatch(column)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def read_representation(path: Path) -> RepresentationTable:
    """per_image.parquet's strongest-unit columns of every layer that has them, and its images' keys."""
    import pyarrow.parquet as pq
    columns = read_parquet_file(path, lambda p: pq.read_schema(p).names)
    layers = layers_of(columns)
    if not layers or any(key not in columns for key in KEYS):
        raise ArtifactError(f"{path}: no split, index and <layer>_fNN_{STAT} columns; rerun the extract stage")
    return representation_table(path, {layer: [c for c in columns if (m := _COLUMN.fullmatch(c)) and m.group(1) == layer]
                                       for layer in layers})


def run_from_folder(name: str, commit: str, folder: Path) -> Run:
    """A run from `folder`, laid out as the repository (what read_run fetched, or a pipeline's folder)."""
    def readable(read, *args):
        try:
            return read(*args)
        except ArtifactError as exc:
            raise SweepError(f"{name}: {str(exc).replace(str(folder) + '/', '')}") from None

    representation = readable(read_representation, folder / paths.ACTIVATIONS / PER_IMAGE)
    interpretability = folder / paths.INTERPRETABILITY
    return Run(
        name=name, commit=commit,
        params=yaml.safe_load((folder / paths.PARAMS).read_text()) or {},
        metrics=readable(read_metrics, folder / paths.METRICS),
        interpretability=readable(read_json, interpretability, "attribute") if interpretability.exists() else {},
        meta=readable(read_meta, folder / paths.DATASET),
        representation=representation)


def read_run(repo: str | Path, name: str, folder: Path) -> Run:
    """Run `name` of the repository at `repo`, its small files fetched through DVC into `folder`."""
    fs, commit = open_revision(repo, name)
    for path in (paths.PARAMS, paths.METRICS, paths.DATASET / META, paths.ACTIVATIONS / PER_IMAGE):
        fetch(fs, name, path, folder)
    fetch(fs, name, paths.INTERPRETABILITY, folder, required=False)
    return run_from_folder(name, commit, folder)


def checked_names(names: list) -> list:
    """The names once each, in their order; SweepError when fewer than two runs remain."""
    unique = list(dict.fromkeys(names))
    if len(unique) < 2:
        raise SweepError(f"a sweep reads at least two runs; got {len(unique)} ({', '.join(unique) or 'none'}): "
                         f"name more, or queue experiments (dvc exp run --queue -S 'seed=range(1,5)'; "
                         f"dvc queue start) or fetch a team's (dvc exp pull origin --all)")
    return unique


def check_one_dataset(runs: list, ref: Run) -> None:
    """SweepError unless every run holds the reference's images (the same split sha256) and rows."""
    for run in runs:
        if run.meta.get("sha256") != ref.meta.get("sha256"):
            raise SweepError(f"{run.name} and {ref.name} were made from different datasets "
                             f"({run.meta.get('dataset')} vs {ref.meta.get('dataset')}; their split sha256 in "
                             f"meta.json differ): a sweep compares runs on the same images; sweep each dataset's "
                             f"runs apart")
        if run.representation.keys != ref.representation.keys:
            raise SweepError(f"{run.name} and {ref.name}: the activations cover different images; rerun extract")

