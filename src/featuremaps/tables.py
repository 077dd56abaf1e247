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


class ParquetRowGroups:
    """A Parquet file written a row group at a time, as rows are computed (memory: one group), and
    renamed into place atomically when the block ends without error:

        with ParquetRowGroups(path, metadata) as out:
            out.write({"a": array, ...})    # one call per row group; columns as write_parquet's

    A file written in one call is byte for byte what write_parquet writes."""

    def __init__(self, path: str | Path, metadata: dict):
        self.path, self.metadata, self.writer, self.rows = Path(path), metadata, None, 0

    def __enter__(self):
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, columns: dict) -> None:
        table = pa.table({k: pa.array(v) for k, v in columns.items()})
        table = table.replace_schema_metadata({k.encode(): str(v).encode() for k, v in self.metadata.items()})
        if self.writer is None:
            self.writer = pq.ParquetWriter(self._tmp, table.schema)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def __exit__(self, *exc):
        if self.writer is not None:
            self.writer.close()
        return self._atomic.__exit__(*exc)


def read_parquet(path: str | Path, stage: str) -> pd.DataFrame:
    """A Parquet file written by `stage` as a DataFrame."""
    return read_artifact(path, pd.read_parquet, what="a readable Parquet file", stage=stage,
                         errors=(OSError, pa.ArrowException, ValueError))
