"""Parquet tables between stages: written atomically with their metadata, read back with one line
naming the stage to (re)run when a file is missing or unreadable."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from featuremaps.files import atomic_path, read_artifact


def write_parquet(path: str | Path, columns: dict, metadata: dict) -> None:
    """columns: {name: 1-D array or list}; metadata: {key: value}, stored as strings in the schema."""
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    table = table.replace_schema_metadata({k.encode(): str(v).encode() for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet(path: str | Path, stage: str) -> pd.DataFrame:
    """A Parquet file written by `stage` as a DataFrame."""
    return read_artifact(path, pd.read_parquet, what="a readable Parquet file", stage=stage,
                         errors=(OSError, pa.ArrowException, ValueError))
