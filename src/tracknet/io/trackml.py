"""Read and write TrackML-format events and submissions, strictly and fast.

File names are ``event<9 digits>-<part>.csv`` or ``.csv.gz`` with the parts ``hits``,
``truth``, ``particles``, ``cells``, ``blacklist_hits`` and ``blacklist_particles``.
Both variants of the particles table are accepted (the Kaggle one, and the CodaLab one
with an extra ``particle_type`` column), as is a ``detectors.csv`` with or without a
leading unnamed index column.

Every value is parsed with the dtype of :mod:`tracknet.events` (ids are integers, particle
ids 64-bit, never floats). Anything wrong raises :class:`tracknet.errors.DataError` whose
one-line message names the file, the column and, where it applies, the row.

This module only does I/O and format checks; it computes nothing.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError
from ..events import (
    COORDINATE_COLUMNS,
    DETECTORS_SCHEMA,
    PART_SCHEMAS,
    PARTICLES_OPTIONAL,
    SUBMISSION_SCHEMA,
    Event,
)
from .atomic import atomic_path, atomic_paths

__all__ = [
    "ALL_PARTS",
    "DEFAULT_PARTS",
    "EVENT_PATTERN",
    "as_prefix",
    "available_parts",
    "event_prefix",
    "iter_events",
    "list_events",
    "parse_event_id",
    "part_path",
    "read_detectors",
    "read_event",
    "read_part",
    "read_submission",
    "read_table",
    "write_event",
    "write_submission",
]

DEFAULT_PARTS: tuple[str, ...] = ("hits", "truth", "particles")
ALL_PARTS: tuple[str, ...] = tuple(PART_SCHEMAS)
EVENT_PATTERN = re.compile(r"^event(\d{9})-hits\.csv(\.gz)?$")
_PREFIX_PATTERN = re.compile(r"event(\d+)$")

_ARROW_TYPES = {
    np.dtype("int64"): pa.int64(),
    np.dtype("int32"): pa.int64(),  # parsed wide, range-checked on the cast
    np.dtype("float64"): pa.float64(),
    np.dtype("float32"): pa.float64(),
}


# --------------------------------------------------------------------------- names


def event_prefix(directory: str | os.PathLike[str], event_id: int) -> Path:
    """``directory/event000001000`` for event 1000."""
    return Path(directory) / f"event{int(event_id):09d}"


def as_prefix(path: str | os.PathLike[str]) -> Path:
    """The event prefix of a prefix or of one of its files (``.../event000001000-hits.csv``)."""
    path = Path(path)
    for suffix in (".csv.gz", ".csv"):
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)].rsplit("-", 1)[0])
    return path


def parse_event_id(prefix: str | os.PathLike[str]) -> int:
    """The event id of a prefix such as ``.../event000001000``."""
    match = _PREFIX_PATTERN.search(Path(prefix).name)
    if match is None:
        raise DataError(f"not an event prefix (expected 'event<9 digits>'): {prefix}")
    return int(match.group(1))


def part_path(prefix: str | os.PathLike[str], part: str) -> Path | None:
    """The existing file of ``part`` for ``prefix`` (``.csv`` preferred over ``.csv.gz``)."""
    base = Path(prefix)
    for suffix in (".csv", ".csv.gz"):
        candidate = base.with_name(f"{base.name}-{part}{suffix}")
        if candidate.is_file():
            return candidate
    return None


def available_parts(prefix: str | os.PathLike[str]) -> tuple[str, ...]:
    """The parts present on disk for ``prefix``."""
    return tuple(p for p in ALL_PARTS if part_path(prefix, p) is not None)


def list_events(directory: str | os.PathLike[str]) -> list[Path]:
    """The event prefixes of a directory (those with a hits file), sorted by event id."""
    root = Path(directory)
    if not root.is_dir():
        raise DataError("no such directory", file=str(root))
    prefixes: dict[int, Path] = {}
    for entry in os.scandir(root):
        match = EVENT_PATTERN.match(entry.name)
        if match:
            event_id = int(match.group(1))
            prefixes.setdefault(event_id, root / f"event{match.group(1)}")
    return [prefixes[k] for k in sorted(prefixes)]


# --------------------------------------------------------------------------- tables


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            line = handle.readline()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(f"cannot read file: {exc}", file=str(path)) from None
    if not line.strip():
        raise DataError("file is empty (no header line)", file=str(path))
    return [name.strip() for name in line.rstrip("\r\n").split(",")]


def _locate_bad_value(path: Path, column: str, dtype: np.dtype) -> DataError:
    """Slow path, only after a failed fast parse: find the first value that is wrong."""
    names = _header(path)
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, include_columns=[column]
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        return DataError(f"cannot parse file: {exc}", file=str(path), column=column)
    raw = table.column(0).to_pandas()
    values = pd.to_numeric(raw, errors="coerce")
    bad = (
        values.isna()
        & raw.notna()
        & ~raw.str.strip().str.lower().isin(["nan", "-nan", "inf", "-inf"])
    )
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        return DataError(
            f"expected {'an integer' if dtype.kind == 'i' else 'a number'}, "
            f"found {raw.iloc[row]!r}",
            file=str(path),
            column=column,
            row=row,
        )
    if dtype.kind == "i":
        finite = values.to_numpy(dtype=np.float64, na_value=np.nan)
        not_int = (
            ~np.isfinite(finite)
            | (finite != np.round(finite))
            | raw.str.contains(r"[.eE]", regex=True).fillna(False).to_numpy()
        )
        if not_int.any():
            row = int(np.flatnonzero(not_int)[0])
            return DataError(
                f"expected an integer, found {raw.iloc[row]!r}",
                file=str(path),
                column=column,
                row=row,
            )
    return DataError("cannot parse column", file=str(path), column=column)


def read_table(
    path: str | os.PathLike[str],
    schema: Mapping[str, np.dtype],
    *,
    optional: Mapping[str, np.dtype] | None = None,
    finite: Sequence[str] = (),
    unique: str | None = None,
) -> pd.DataFrame:
    """Read one CSV table with the columns of ``schema`` (in that order) and their dtypes.

    Columns in ``optional`` are kept when present; other extra columns are dropped.
    ``finite`` columns may not hold NaN or inf; ``unique`` names a column that may not
    repeat a value. Raises :class:`DataError` naming the file, column and row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=str(path))
    optional = dict(optional or {})
    names = _header(path)
    for column in schema:
        if column not in names:
            raise DataError("missing column", file=str(path), column=column)
    wanted = {**schema, **{k: v for k, v in optional.items() if k in names}}
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={c: _ARROW_TYPES[np.dtype(t)] for c, t in wanted.items()},
                include_columns=list(wanted),
                # Only an empty field is missing; "nan" is a (non-finite) number.
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc)
        match = re.search(r"CSV column #(\d+)", message)
        if match is not None and int(match.group(1)) < len(names):
            column = names[int(match.group(1))]
            if column in wanted:
                raise _locate_bad_value(path, column, np.dtype(wanted[column])) from None
        raise DataError(f"cannot parse file: {message.splitlines()[0]}", file=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc}", file=str(path)) from None

    data: dict[str, np.ndarray] = {}
    for column, dtype in wanted.items():
        array = table.column(column)
        if array.null_count:
            row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError("missing value", file=str(path), column=column, row=row)
        values = array.to_numpy()
        dtype = np.dtype(dtype)
        if dtype.kind == "i" and values.dtype != dtype and len(values):
            info = np.iinfo(dtype)
            out = (values < info.min) | (values > info.max)
            if out.any():
                row = int(np.flatnonzero(out)[0])
                raise DataError(
                    f"value {values[row]} out of range for {dtype}",
                    file=str(path),
                    column=column,
                    row=row,
                )
        data[column] = values.astype(dtype, copy=False)
    for column in finite:
        if column in data:
            bad = ~np.isfinite(data[column])
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"non-finite value {data[column][row]}", file=str(path), column=column, row=row
                )
    if unique is not None:
        values = data[unique]
        order = np.argsort(values, kind="stable")
        dup = values[order[1:]] == values[order[:-1]]
        if dup.any():
            row = int(order[1:][dup].min())
            raise DataError(
                f"duplicate {unique} {values[row]}", file=str(path), column=unique, row=row
            )
    return pd.DataFrame(data, copy=False)


_UNIQUE = {
    "hits": "hit_id",
    "truth": "hit_id",
    "particles": "particle_id",
    "blacklist_hits": "hit_id",
    "blacklist_particles": "particle_id",
}


def read_part(prefix: str | os.PathLike[str], part: str) -> pd.DataFrame:
    """Read one part of an event on its own (e.g. a particles file without hits)."""
    if part not in PART_SCHEMAS:
        raise DataError(f"unknown event part {part!r}; known: {list(PART_SCHEMAS)}")
    return _read_part(Path(prefix), part)[0]


def _read_part(prefix: Path, part: str) -> tuple[pd.DataFrame, Path]:
    path = part_path(prefix, part)
    if path is None:
        raise DataError("file not found (also tried .csv.gz)", file=f"{prefix}-{part}.csv")
    frame = read_table(
        path,
        PART_SCHEMAS[part],
        optional=PARTICLES_OPTIONAL if part == "particles" else None,
        finite=COORDINATE_COLUMNS.get(part, ()),
        unique=_UNIQUE.get(part),
    )
    return frame, path


def _first_missing(values: np.ndarray, reference: np.ndarray) -> int | None:
    missing = ~np.isin(values, reference)
    return int(np.flatnonzero(missing)[0]) if missing.any() else None


def read_event(
    prefix: str | os.PathLike[str],
    parts: Iterable[str] = DEFAULT_PARTS,
) -> Event:
    """Read the requested parts of one event, given its prefix (``dir/event000001000``).

    Cross-checks: truth rows must be exactly the hits (they are re-ordered to the hits'
    order), truth particles other than noise (id 0) and TrackNET's reserved negative ids
    must be in the particles table when both are read, cells must name known hits.
    """
    prefix = as_prefix(prefix)
    event_id = parse_event_id(prefix)
    wanted = list(dict.fromkeys(parts))
    unknown = [p for p in wanted if p not in PART_SCHEMAS]
    if unknown:
        raise DataError(f"unknown event part(s) {unknown}; known: {list(PART_SCHEMAS)}")
    if "hits" not in wanted:
        wanted.insert(0, "hits")
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, Path] = {}
    for part in wanted:
        frames[part], paths[part] = _read_part(prefix, part)

    hits = frames["hits"]
    hit_ids = hits["hit_id"].to_numpy()
    truth = frames.get("truth")
    if truth is not None:
        truth_ids = truth["hit_id"].to_numpy()
        row = _first_missing(truth_ids, hit_ids)
        if row is not None:
            raise DataError(
                f"hit_id {truth_ids[row]} is not in the hits file",
                file=str(paths["truth"]),
                column="hit_id",
                row=row,
            )
        if len(truth_ids) != len(hit_ids):
            row = _first_missing(hit_ids, truth_ids)
            raise DataError(
                f"hit_id {hit_ids[row]} of the hits file has no truth row",
                file=str(paths["truth"]),
                column="hit_id",
            )
        particles = frames.get("particles")
        if particles is not None:
            # Checked in the truth file's own row order, so the row named is the file's.
            pids = truth["particle_id"].to_numpy()
            orphan = (pids > 0) & ~np.isin(pids, particles["particle_id"].to_numpy())
            if orphan.any():
                row = int(np.flatnonzero(orphan)[0])
                raise DataError(
                    f"particle_id {pids[row]} is not in the particles file",
                    file=str(paths["truth"]),
                    column="particle_id",
                    row=row,
                )
        if not np.array_equal(truth_ids, hit_ids):
            order = pd.Index(truth_ids).get_indexer(hit_ids)
            truth = truth.iloc[order].reset_index(drop=True)
        frames["truth"] = truth
    cells = frames.get("cells")
    if cells is not None:
        row = _first_missing(cells["hit_id"].to_numpy(), hit_ids)
        if row is not None:
            raise DataError(
                f"hit_id {cells['hit_id'].iloc[row]} is not in the hits file",
                file=str(paths["cells"]),
                column="hit_id",
                row=row,
            )

    return Event(
        event_id=event_id,
        hits=hits,
        truth=frames.get("truth"),
        particles=frames.get("particles"),
        cells=frames.get("cells"),
        blacklist_hits=frames.get("blacklist_hits"),
        blacklist_particles=frames.get("blacklist_particles"),
        meta={"detector": "trackml", "source": str(prefix)},
    )


def iter_events(
    directory: str | os.PathLike[str],
    parts: Iterable[str] = DEFAULT_PARTS,
    event_ids: Iterable[int] | None = None,
) -> Iterator[Event]:
    """Read the events of a directory one after the other (optionally only some ids)."""
    prefixes = list_events(directory)
    if not prefixes:
        raise DataError(
            "no TrackML events (event<9 digits>-hits.csv[.gz]) in directory", file=str(directory)
        )
    if event_ids is not None:
        wanted = {int(e) for e in event_ids}
        found = {parse_event_id(p) for p in prefixes}
        missing = sorted(wanted - found)
        if missing:
            raise DataError(f"event(s) {missing} not found in directory", file=str(directory))
        prefixes = [p for p in prefixes if parse_event_id(p) in wanted]
    parts = tuple(parts)
    for prefix in prefixes:
        yield read_event(prefix, parts)


def read_detectors(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a TrackML ``detectors.csv[.gz]`` (a leading unnamed index column is dropped)."""
    return read_table(path, DETECTORS_SCHEMA, finite=("cx", "cy", "cz"))


def read_submission(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a submission ``event_id,hit_id,track_id``; a hit may appear once per event."""
    frame = read_table(path, SUBMISSION_SCHEMA)
    dup = frame.duplicated(["event_id", "hit_id"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"hit_id {frame['hit_id'].iloc[row]} appears twice "
            f"in event {frame['event_id'].iloc[row]}",
            file=str(path),
            column="hit_id",
            row=row,
        )
    return frame


# --------------------------------------------------------------------------- writing


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pacsv.WriteOptions(quoting_header="none", quoting_style="none")
    if path.name.endswith(".gz"):
        with pa.CompressedOutputStream(str(path), "gzip") as stream:
            pacsv.write_csv(table, stream, options)
    else:
        pacsv.write_csv(table, path, options)


def _ordered(frame: pd.DataFrame, part: str) -> pd.DataFrame:
    schema = PART_SCHEMAS[part]
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise DataError(f"cannot write {part}: missing column(s) {missing}")
    columns = list(schema)
    if part == "particles" and "particle_type" in frame.columns:
        columns.insert(1, "particle_type")
    return frame[columns].astype({c: schema[c] for c in schema})


def write_event(
    event: Event,
    directory: str | os.PathLike[str],
    parts: Iterable[str] | None = None,
    *,
    compress: bool = False,
) -> list[Path]:
    """Write the (present) parts of ``event`` as TrackML CSV files into ``directory``.

    All files of the event are written to temporary names first and renamed only when
    every one of them was written, so a failure leaves no half-written event behind.
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise DataError("output path exists and is not a directory", file=str(root))
    present = event.parts()
    names = list(parts) if parts is not None else list(present)
    for name in names:
        if name not in present:
            raise DataError(f"event {event.event_id} has no {name} to write")
    frames = {name: _ordered(present[name], name) for name in names}
    suffix = ".csv.gz" if compress else ".csv"
    finals = [root / f"{event.prefix}-{name}{suffix}" for name in names]
    with atomic_paths(finals) as temps:
        for name, tmp in zip(names, temps, strict=True):
            target = tmp.with_name(tmp.name + (".gz" if compress else ""))
            _write_csv(frames[name], target)
            if compress:
                os.replace(target, tmp)
    return finals


def write_submission(submission: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``event_id,hit_id,track_id`` atomically."""
    path = Path(path)
    if path.is_dir():
        raise DataError("output path is a directory", file=str(path))
    missing = [c for c in SUBMISSION_SCHEMA if c not in submission.columns]
    if missing:
        raise DataError(f"submission lacks column(s) {missing}")
    frame = submission[list(SUBMISSION_SCHEMA)].astype(dict(SUBMISSION_SCHEMA))
    with atomic_path(path) as tmp:
        target = tmp.with_name(tmp.name + (".gz" if path.name.endswith(".gz") else ""))
        _write_csv(frame, target)
        if target != tmp:
            os.replace(target, tmp)
    return path
