"""Input checks shared by the evaluation modules (private).

Evaluation takes plain pandas tables; these helpers turn their columns into numpy arrays
of a known dtype, and raise :class:`~tracknet.errors.DataError` naming the table, the
column and the first offending row when a table cannot be evaluated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.events import SUBMISSION_SCHEMA
from tracknet.io.trackml import check_submission, read_submission

__all__ = [
    "check_event_hits",
    "directory_submission",
    "float_column",
    "int_column",
    "rate",
    "require_columns",
    "submission_tracks",
    "unique_ids",
]


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`DataError` when ``frame`` (called ``what`` in messages) lacks a column."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, not {type(frame).__name__}")
    for column in columns:
        if column not in frame.columns:
            raise DataError(f"{what} has no column '{column}'", column=column)


def int_column(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """The column as int64; float columns are accepted when every value is a whole number."""
    series = frame[column]
    values = series.to_numpy()
    if values.dtype.kind in "iu":
        if values.dtype == np.uint64 and values.size and values.max() > np.iinfo(np.int64).max:
            row = int(np.flatnonzero(values > np.iinfo(np.int64).max)[0])
            raise DataError(f"{what}: id does not fit in int64", column=column, row=row)
        return values.astype(np.int64, copy=False)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{what}: expected whole numbers, found {values[row]!r}", column=column, row=row
            )
        return values.astype(np.int64)
    raise DataError(f"{what}: expected integers, found dtype {values.dtype}", column=column)


def float_column(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """The column as float64; NaN or infinite values raise :class:`DataError`."""
    try:
        values = frame[column].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: expected numbers ({exc})", column=column) from None
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: non-finite value {values[row]!r}", column=column, row=row)
    return values


def unique_ids(ids: np.ndarray, column: str, what: str) -> pd.Index:
    """``ids`` as a :class:`pandas.Index`, raising :class:`DataError` at the first repeat."""
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise DataError(f"{what}: duplicate {column} {ids[row]}", column=column, row=row)
    index: pd.Index = pd.Index(ids)
    return index


def submission_tracks(
    truth_hit_index: pd.Index, submission: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Align a submission with the truth rows.

    Returns ``(track_id, submitted)``: two arrays in the order of the truth rows, the track
    id given to each truth hit and whether the submission mentions the hit at all (a truth
    hit missing from the submission is on no track; its ``track_id`` entry is 0 and must
    be ignored). A submission ``hit_id`` given twice, or absent from the truth, raises
    :class:`DataError` naming the column and the first offending submission row.
    """
    require_columns(submission, ("hit_id", "track_id"), "submission")
    hit_id = int_column(submission, "hit_id", "submission")
    track_id = int_column(submission, "track_id", "submission")
    unique_ids(hit_id, "hit_id", "submission")
    position = truth_hit_index.get_indexer(pd.Index(hit_id))
    missing = position < 0
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"submission: hit_id {hit_id[row]} is not a hit of the event's truth",
            column="hit_id",
            row=row,
        )
    aligned = np.zeros(len(truth_hit_index), dtype=np.int64)
    submitted = np.zeros(len(truth_hit_index), dtype=bool)
    aligned[position] = track_id
    submitted[position] = True
    return aligned, submitted


def rate(numerator: float, denominator: int, empty: float) -> float:
    """``numerator / denominator``, or ``empty`` when there is nothing to divide by."""
    return numerator / denominator if denominator > 0 else empty


def directory_submission(
    submission: str | os.PathLike[str] | pd.DataFrame,
) -> tuple[pd.DataFrame, str | None]:
    """The submission of a directory evaluation and its file name (``None`` for a table).

    A file is read with :func:`~tracknet.io.trackml.read_submission`; a table gets the
    same checks, its rows renumbered 0.. (the rows that messages name). A submission
    without rows names no event and is an error.
    """
    if isinstance(submission, pd.DataFrame):
        source = None
        require_columns(submission, SUBMISSION_SCHEMA, "submission")
        frame = check_submission(
            pd.DataFrame({c: int_column(submission, c, "submission") for c in SUBMISSION_SCHEMA})
        )
    else:
        source = str(submission)
        frame = read_submission(submission)
    if frame.empty:
        raise DataError("the submission has no rows, so it names no event to evaluate", file=source)
    return frame, source


def check_event_hits(
    truth_event: np.ndarray,
    truth_hit: np.ndarray,
    frame: pd.DataFrame,
    source: str | None,
) -> None:
    """Check that ``frame`` (rows of :func:`directory_submission`) lists every hit of the
    events ``(truth_event, truth_hit)`` exactly once, and nothing else.

    The TrackML rule: a submission gives every hit of an event one ``track_id`` (0: on
    no track). The message names the event, the first offending ``hit_id`` and its row.
    """
    truth_keys = pd.MultiIndex.from_arrays(
        [np.asarray(truth_event, dtype=np.int64), np.asarray(truth_hit, dtype=np.int64)]
    )
    sub_event = frame["event_id"].to_numpy()
    sub_hit = frame["hit_id"].to_numpy()
    position = truth_keys.get_indexer(pd.MultiIndex.from_arrays([sub_event, sub_hit]))
    absent = position < 0
    if absent.any():
        first = int(np.flatnonzero(absent)[0])
        raise DataError(
            f"hit_id {sub_hit[first]} is not a hit of event {sub_event[first]}",
            file=source,
            column="hit_id",
            row=int(frame.index[first]),
        )
    covered = np.zeros(len(truth_keys), dtype=bool)
    covered[position] = True
    if not covered.all():
        missing = np.flatnonzero(~covered)
        event = int(truth_keys.get_level_values(0)[missing[0]])
        n_event = int((truth_keys.get_level_values(0) == event).sum())
        n_missing = int((truth_keys.get_level_values(0)[missing] == event).sum())
        raise DataError(
            f"event {event}: {n_missing} of its {n_event} hits have no row (first: hit_id "
            f"{truth_keys.get_level_values(1)[missing[0]]}); a submission lists every hit "
            "of an event once (track_id 0: on no track)",
            file=source,
            column="hit_id",
        )
