"""Submissions: the rules of their rows, and one streamed from its parts (one event's rows
at a time) into one CSV."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError
from ..events import SUBMISSION_SCHEMA
from .atomic import atomic_path

__all__ = ["check_submission", "write_submission_parts"]


def write_submission_parts(parts: Iterable[np.ndarray], path: str | os.PathLike[str]) -> Path:
    """Write a submission from its parts, one ``(n, 3)`` int64 array of ``event_id, hit_id,
    track_id`` rows after the other, atomically; memory holds one part at a time."""
    path = Path(path)
    if path.is_dir():
        raise DataError("output path is a directory", file=str(path))
    names = list(SUBMISSION_SCHEMA)
    schema = pa.schema([(name, pa.int64()) for name in names])
    options = pacsv.WriteOptions(quoting_header="none", quoting_style="none")
    with atomic_path(path) as tmp:
        sink: Any = (
            pa.CompressedOutputStream(str(tmp), "gzip")
            if path.name.endswith(".gz")
            else pa.OSFile(str(tmp), "wb")
        )
        with sink, pacsv.CSVWriter(sink, schema, write_options=options) as writer:
            for rows in parts:
                rows = np.asarray(rows)
                if rows.ndim != 2 or rows.shape[1] != len(names):
                    raise DataError(f"a submission part must be (n, {len(names)}) rows")
                columns = [pa.array(rows[:, i].astype(np.int64)) for i in range(len(names))]
                writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path


def check_submission(frame: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """The rules of a submission table of int64 ``event_id, hit_id, track_id``: a hit
    appears at most once per event, and ``track_id`` is a non-negative integer (0: on no
    track). Returns ``frame``; raises :class:`DataError` naming ``file``, column and row."""
    track_id = frame["track_id"].to_numpy()
    negative = track_id < 0
    if negative.any():
        row = int(np.flatnonzero(negative)[0])
        raise DataError(
            f"track_id must be >= 0 (0: on no track), found {track_id[row]}",
            file=file,
            column="track_id",
            row=row,
        )
    dup = frame.duplicated(["event_id", "hit_id"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"hit_id {frame['hit_id'].iloc[row]} appears twice "
            f"in event {frame['event_id'].iloc[row]}",
            file=file,
            column="hit_id",
            row=row,
        )
    return frame
