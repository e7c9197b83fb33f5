"""Read and write one table of a TrackML event as a Parquet file.

I/O and column types only: :func:`tracknet.io.trackml.read_table` applies to what
:func:`read_parquet_columns` returns the same value checks as to a CSV file (missing
values, integer ranges, finite coordinates, unique ids). Files are written with fixed
settings, so the same table gives the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import DataError
from .event_files import wanted_columns

__all__ = ["PARQUET_OPTIONS", "read_parquet_columns", "write_parquet"]

#: Writer settings, fixed: no setting depends on the machine, the time or the run.
PARQUET_OPTIONS: dict[str, Any] = {
    # lz4 reads faster than zstd (about 1.4x on a full event) for files about 1.6x larger.
    "compression": "lz4",
    "use_dictionary": False,
    "write_statistics": True,
    "version": "2.6",
    "row_group_size": 1 << 22,
}

_INT64_MAX = np.iinfo(np.int64).max


def _message(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _wide(column: pa.ChunkedArray, dtype: np.dtype, path: Path, name: str) -> pa.ChunkedArray:
    """``column`` as int64 or float64 (or as it is when it has ``dtype`` already), as the CSV
    parser gives it; a column of another kind of type is a one-line error."""
    kind = column.type
    if kind == pa.from_numpy_dtype(dtype):
        return column
    if dtype.kind == "i":
        if not pa.types.is_integer(kind):
            raise DataError(
                f"expected integers ({dtype}), found a column of type {kind}",
                file=str(path),
                column=name,
            )
        if kind == pa.uint64():
            above = pc.greater(column, pa.scalar(_INT64_MAX, pa.uint64()))
            if pc.any(above).as_py():
                row = int(pc.index(above, True).as_py())
                raise DataError(
                    f"value does not fit in int64, found {column[row].as_py()}",
                    file=str(path),
                    column=name,
                    row=row,
                )
        return pc.cast(column, pa.int64(), safe=False)
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        raise DataError(
            f"expected numbers ({dtype}), found a column of type {kind}",
            file=str(path),
            column=name,
        )
    return pc.cast(column, pa.float64())


def read_parquet_columns(
    path: Path, schema: Mapping[str, np.dtype], optional: Mapping[str, np.dtype]
) -> tuple[pa.Table, dict[str, np.dtype]]:
    """The columns of ``schema`` and those of ``optional`` present (other columns are not
    read) as int64, int32 or float64 arrays, and the dtype wanted for each.

    A missing or repeated column, or one of a type that does not hold the column's values
    (floats where integers belong, text, booleans), raises a one-line :class:`DataError`.
    """
    try:
        handle = pq.ParquetFile(path, memory_map=True)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file: {_message(exc)}", file=str(path)) from None
    types = handle.schema_arrow
    names = types.names
    wanted = wanted_columns(names, schema, optional, path, "the file")
    try:
        table = handle.read(columns=list(wanted), use_threads=True)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read Parquet file: {_message(exc)}", file=str(path)) from None
    columns = [
        _wide(table.column(name), np.dtype(dtype), path, name) for name, dtype in wanted.items()
    ]
    return pa.table(columns, names=list(wanted)), {k: np.dtype(v) for k, v in wanted.items()}


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` (numeric columns, its index left out) as one Parquet file."""
    arrays = [pa.array(np.ascontiguousarray(frame[c].to_numpy())) for c in frame.columns]
    schema = pa.schema(
        [
            pa.field(str(c), a.type, nullable=False)
            for c, a in zip(frame.columns, arrays, strict=True)
        ]
    )
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, **PARQUET_OPTIONS)
