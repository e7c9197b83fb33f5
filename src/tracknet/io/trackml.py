"""Read and write TrackML-format events (CSV or Parquet) and submissions, strictly and fast.

The reader guarantees the columns and dtypes of :mod:`tracknet.events` (ids integers,
particle ids 64-bit); anything else raises a one-line :class:`tracknet.errors.DataError`
naming the file, the column and the row. I/O and format checks only; it computes nothing.

See ``docs/architecture.md`` (Input and output) for file names and accepted variants.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import ConfigError, DataError
from ..events import (
    COORDINATE_COLUMNS,
    DETECTORS_SCHEMA,
    MAX_EVENT_ID,
    PART_SCHEMAS,
    PARTICLES_OPTIONAL,
    SUBMISSION_SCHEMA,
    Event,
)
from .atomic import atomic_path, atomic_paths
from .event_files import (
    EVENT_FILES,
    EVENT_PATTERN,
    as_prefix,
    available_parts,
    event_prefix,
    list_events,
    parse_event_id,
    part_path,
    wanted_columns,
)
from .parquet import read_parquet_columns, write_parquet
from .submissions import check_submission

__all__ = [
    "ALL_PARTS",
    "DEFAULT_PARTS",
    "EVENT_FORMATS",
    "EVENT_PATTERN",
    "as_prefix",
    "available_parts",
    "check_submission",
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

_ARROW_TYPES = {
    np.dtype("int64"): pa.int64(),
    np.dtype("int32"): pa.int64(),  # parsed wide, range-checked on the cast
    np.dtype("float64"): pa.float64(),
    np.dtype("float32"): pa.float64(),
}


# --------------------------------------------------------------------------- tables


_GZIP_MAGIC = b"\x1f\x8b"
_INT_TEXT = r"\s*-?(?:\d+|0[xX][0-9a-fA-F]+)\s*"
_INT64_DIGITS = {False: str(np.iinfo(np.int64).max), True: str(-np.iinfo(np.int64).min)}


def _is_gzip(path: Path) -> bool:
    """Whether the file holds gzip data, by its first bytes (not by its name)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None


def _stream(path: Path) -> pa.NativeFile:
    """The file's bytes for the CSV parser, gunzipped when they are gzip data."""
    return pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)


def _header(path: Path) -> list[str]:
    """The column names of the first line: quoted or not, a UTF-8 byte-order mark and
    spaces around the names stripped."""
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                first = gzip.GzipFile(fileobj=raw, mode="rb").readline(1 << 20)
            else:
                first = raw.readline(1 << 20)
            line = first.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read file: {exc}", file=str(path)) from None
    except UnicodeDecodeError:
        raise DataError(
            "not a CSV text file: the first line is not UTF-8", file=str(path)
        ) from None
    if not first:
        raise DataError("file is empty (no header line)", file=str(path))
    if not line.strip():
        raise DataError("the first line is blank; expected the header line", file=str(path))
    if "\x00" in line:
        raise DataError("not a CSV text file: the first line holds NUL bytes", file=str(path))
    try:
        # Spreadsheets and other tools write quoted names, and some a space after each comma.
        fields = next(csv.reader([line.rstrip("\r\n")], skipinitialspace=True))
        return [name.strip() for name in fields]
    except csv.Error as exc:
        raise DataError(f"cannot parse the header line: {exc}", file=str(path)) from None


def _first_line(message: str, limit: int = 200) -> str:
    """The first line of a parser's message, cut to ``limit`` characters."""
    line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _out_of_int64(raw: pd.Series) -> np.ndarray:
    """Which decimal integer strings lie outside int64 (compared digit by digit)."""
    text = raw.fillna("").str.strip()
    negative = text.str.startswith("-").to_numpy()
    digits = text.str.lstrip("-").str.lstrip("0")
    decimal = text.str.fullmatch(r"-?\d+").fillna(False).to_numpy(dtype=bool)
    length = digits.str.len().to_numpy()
    limit = np.where(negative, _INT64_DIGITS[True], _INT64_DIGITS[False])
    longer = length > len(_INT64_DIGITS[False])
    same = length == len(_INT64_DIGITS[False])
    above = same & (digits.to_numpy(dtype=object) > limit)
    out: np.ndarray = decimal & (longer | above)
    return out


#: A value quoted after spaces (``1, "2"``), which the fast parser takes for text.
_SPACED_QUOTE = r'^\s+"(.*)"\s*$'


def _read_spaced_quotes(
    path: Path, names: list[str], wanted: Mapping[str, np.dtype], failed: str
) -> pa.Table:
    """Second try after the fast parse failed on column ``failed``: the wanted columns as
    text, values quoted after spaces unquoted, then cast; a value that still does not
    convert raises the one-line error of :func:`_locate_bad_value`."""
    try:
        text = pacsv.read_csv(
            _stream(path),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in wanted}, include_columns=list(wanted)
            ),
        )
    except (pa.ArrowInvalid, OSError):
        raise _locate_bad_value(path, names, failed, np.dtype(wanted[failed])) from None
    columns = []
    for column, dtype in wanted.items():
        raw = pc.replace_substring_regex(
            text.column(column), pattern=_SPACED_QUOTE, replacement=r"\1"
        )
        values = pc.utf8_trim_whitespace(raw)
        # An empty field is a missing value, as in the fast parse.
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        try:
            columns.append(pc.cast(values, _ARROW_TYPES[np.dtype(dtype)]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _locate_bad_value(path, names, column, np.dtype(dtype)) from None
    return pa.table(columns, names=list(wanted))


def _locate_bad_value(path: Path, names: list[str], column: str, dtype: np.dtype) -> DataError:
    """Slow path, only after a failed fast parse: find the first value that is wrong."""
    try:
        table = pacsv.read_csv(
            _stream(path),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, include_columns=[column]
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        return DataError(f"cannot parse file: {_first_line(str(exc))}", file=str(path))
    raw = table.column(0).to_pandas().str.replace(_SPACED_QUOTE, r"\1", regex=True)
    if dtype.kind == "i":
        out = _out_of_int64(raw)
        # An empty field is a missing value, reported as such by the fast path.
        blank = raw.fillna("").str.strip().eq("").to_numpy(dtype=bool)
        not_int = ~raw.str.fullmatch(_INT_TEXT).fillna(True).to_numpy(dtype=bool) & ~blank
        bad = out | not_int
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = "value does not fit in int64" if out[row] else "expected an integer"
            return DataError(
                f"{what}, found {raw.iloc[row]!r}", file=str(path), column=column, row=row
            )
    else:
        values = pd.to_numeric(raw, errors="coerce")
        special = raw.str.strip().str.lower().isin(["nan", "-nan", "inf", "-inf"])
        bad = (values.isna() & raw.notna() & ~special).to_numpy(dtype=bool)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            return DataError(
                f"expected a number, found {raw.iloc[row]!r}",
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
    """Read one table with the columns of ``schema`` (in that order) and their dtypes: CSV
    (gzipped or not), or Parquet when the name ends in ``.parquet``.

    Columns in ``optional`` are kept when present; other extra columns are dropped.
    ``finite`` columns may not hold NaN or inf; ``unique`` names a column that may not
    repeat a value. Raises :class:`DataError` naming the file, column and row.
    """
    path = Path(path)
    parquet = path.name.endswith(".parquet")
    if path.is_dir():
        raise DataError(
            f"is a directory, not a {'Parquet' if parquet else 'CSV'} file", file=str(path)
        )
    if not path.is_file():
        raise DataError("file not found", file=str(path))
    optional = dict(optional or {})
    if parquet:
        table, wanted = read_parquet_columns(path, schema, optional)
    else:
        table, wanted = _read_csv_columns(path, schema, optional)
    return _checked_frame(path, table, wanted, finite, unique)


def _read_csv_columns(
    path: Path, schema: Mapping[str, np.dtype], optional: Mapping[str, np.dtype]
) -> tuple[pa.Table, dict[str, np.dtype]]:
    """The wanted columns of a CSV file, ints as int64 and floats as float64."""
    names = _header(path)
    wanted = wanted_columns(names, schema, optional, path, "the header")
    try:
        table = pacsv.read_csv(
            _stream(path),
            # The names of _header: stripped of spaces and of a byte-order mark.
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
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
        column = names[int(match.group(1))] if match and int(match.group(1)) < len(names) else ""
        if column not in wanted:
            raise DataError(f"cannot parse file: {_first_line(message)}", file=str(path)) from None
        table = _read_spaced_quotes(path, names, wanted, column)
    except OSError as exc:
        raise DataError(f"cannot read file: {_first_line(str(exc))}", file=str(path)) from None
    return table, wanted


def _checked_frame(
    path: Path,
    table: pa.Table,
    wanted: Mapping[str, np.dtype],
    finite: Sequence[str],
    unique: str | None,
) -> pd.DataFrame:
    """The checks of every table, CSV or Parquet: no missing value, integers in range,
    ``finite`` columns finite, ``unique`` values unique."""
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
        # Ids in increasing order (as written) are unique without a sort.
        if not np.all(values[1:] > values[:-1]):
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
        raise DataError(
            "file not found (also tried .csv.gz and .parquet)", file=f"{prefix}-{part}.csv"
        )
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
    if hits.empty:
        # Every recorded event has hits; a header-only file is a cut or broken export.
        raise DataError("the event has no hits (a header only)", file=str(paths["hits"]))
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
        raise DataError(f"no TrackML events ({EVENT_FILES}) in directory", file=str(directory))
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
    """Read a submission ``event_id,hit_id,track_id`` (other columns are ignored) and
    :func:`check_submission` it; rows keep their file order (index = data row)."""
    return check_submission(read_table(path, SUBMISSION_SCHEMA), file=str(path))


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


#: The formats :func:`write_event` writes, by name: the ending of each file.
EVENT_FORMATS = {"csv": ".csv", "parquet": ".parquet"}


def write_event(
    event: Event,
    directory: str | os.PathLike[str],
    parts: Iterable[str] | None = None,
    *,
    compress: bool = False,
    fmt: str = "csv",
) -> list[Path]:
    """Write the (present) parts of ``event`` as TrackML files into ``directory``: CSV
    (``compress``: ``.csv.gz``) or, with ``fmt="parquet"``, Parquet files.

    All files of the event are written to temporary names first and renamed only when
    every one of them was written, so a failure leaves no half-written event behind.
    """
    if fmt not in EVENT_FORMATS or (compress and fmt != "csv"):
        raise ConfigError(
            f"cannot write events as {fmt!r}{' gzipped' if compress else ''}; "
            f"formats: {list(EVENT_FORMATS)} (gzip: csv only)"
        )
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise DataError("output path exists and is not a directory", file=str(root))
    if not 0 <= event.event_id <= MAX_EVENT_ID:
        raise DataError(
            f"event id {event.event_id} does not fit a TrackML file name "
            f"(event<9 digits>, ids 0 to {MAX_EVENT_ID})"
        )
    present = event.parts()
    names = list(parts) if parts is not None else list(present)
    for name in names:
        if name not in present:
            raise DataError(f"event {event.event_id} has no {name} to write")
    frames = {name: _ordered(present[name], name) for name in names}
    suffix = EVENT_FORMATS[fmt] + (".gz" if compress else "")
    finals = [root / f"{event.prefix}-{name}{suffix}" for name in names]
    with atomic_paths(finals) as temps:
        for name, tmp in zip(names, temps, strict=True):
            if fmt == "parquet":
                write_parquet(frames[name], tmp)
                continue
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
