"""Straw events on disk: chunked Parquet files and the dataset record ``tracknet-dataset.json``.

:class:`StrawDataset` reads a directory chunk by chunk; :func:`write_straw_dataset` writes
the chunks and the record (:func:`write_dataset_record`). The reader guarantees the columns, dtypes,
sort orders and checksums of the record, or raises a one-line
:class:`~tracknet.errors.DataError` naming the file; writes are atomic and deterministic.

See ``docs/architecture.md`` (Input and output) for the layout and the record.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tracknet.errors import DataError
from tracknet.events import Event
from tracknet.io.atomic import atomic_paths, write_json_atomic
from tracknet.simulation.straw.batch import EVENT_COLUMNS, HIT_COLUMNS, PARTICLE_COLUMNS, StrawBatch

__all__ = [
    "CHUNK_TABLES",
    "DATASET_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "StrawDataset",
    "is_straw_dataset",
    "read_dataset_record",
    "read_straw_events",
    "sha256_file",
    "source_kind",
    "write_dataset_record",
    "write_straw_dataset",
]

DATASET_FILE = "tracknet-dataset.json"
FORMAT = "tracknet-dataset"
FORMAT_VERSION = 1
KINDS = ("straw", "synthetic", "semi-synthetic")
#: The tables of a chunk and their columns, in file order.
CHUNK_TABLES: dict[str, dict[str, np.dtype]] = {
    "events": EVENT_COLUMNS,
    "hits": HIT_COLUMNS,
    "particles": PARTICLE_COLUMNS,
}
_CHUNK_FILE = re.compile(r"^(events|hits|particles)-(\d{6})\.parquet$")
_ARROW = {
    np.dtype("int64"): pa.int64(),
    np.dtype("int32"): pa.int32(),
    np.dtype("float64"): pa.float64(),
}
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": False,
    "write_statistics": True,
    "version": "2.6",
    "row_group_size": 1 << 22,
}


def _schema(columns: Mapping[str, np.dtype]) -> pa.Schema:
    return pa.schema([pa.field(c, _ARROW[np.dtype(t)], nullable=False) for c, t in columns.items()])


_SCHEMAS = {name: _schema(cols) for name, cols in CHUNK_TABLES.items()}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- the record


def write_dataset_record(
    directory: str | os.PathLike[str],
    *,
    kind: str,
    detector: str,
    generator: str,
    seed: int | None,
    parameters: Mapping[str, Any],
    n_events: int,
    files: Iterable[str | os.PathLike[str]],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``DIR/tracknet-dataset.json`` with the SHA-256 of ``files`` (names in DIR)."""
    if kind not in KINDS:
        raise DataError(f"dataset kind must be one of {list(KINDS)}, got {kind!r}")
    root = Path(directory)
    sums = {Path(f).name: sha256_file(root / Path(f).name) for f in files}
    record: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "detector": detector,
        "generator": generator,
        "writer": f"pyarrow {pa.__version__}",
        "seed": seed,
        "parameters": dict(parameters),
        "n_events": int(n_events),
        **dict(extra or {}),
        "sha256": dict(sorted(sums.items())),
    }
    try:
        json.dumps(record, allow_nan=False)
    except ValueError as exc:
        raise DataError(f"dataset record is not strict JSON: {exc}") from None
    return write_json_atomic(root / DATASET_FILE, record)


def read_dataset_record(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The record of a dataset directory, checked for its required fields."""
    path = Path(directory) / DATASET_FILE
    if not path.is_file():
        raise DataError(
            "no dataset record (tracknet-dataset.json) in directory", file=str(directory)
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            f"cannot read dataset record: {str(exc).splitlines()[0]}", file=str(path)
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DataError(f"not a {FORMAT} record (field 'format')", file=str(path))
    if record.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"unsupported format_version {record.get('format_version')!r} "
            f"(this reader knows {FORMAT_VERSION})",
            file=str(path),
        )
    for key, kind in (
        ("kind", str),
        ("detector", str),
        ("sha256", dict),
        ("n_events", int),
        ("parameters", dict),
    ):
        if not isinstance(record.get(key), kind):
            raise DataError(f"field '{key}' is missing or not a {kind.__name__}", file=str(path))
    if record["kind"] not in KINDS:
        raise DataError(f"unknown dataset kind {record['kind']!r}", file=str(path))
    return record


def is_straw_dataset(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a straw dataset record (not checked further)."""
    path = Path(directory) / DATASET_FILE
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(record, dict) and record.get("detector") == "straw" and "chunks" in record


def source_kind(directory: str | os.PathLike[str]) -> str:
    """``"straw"`` for a straw dataset, ``"trackml"`` for a directory of TrackML events."""
    root = Path(directory)
    if not root.is_dir():
        raise DataError("no such directory", file=str(root))
    if is_straw_dataset(root):
        return "straw"
    from tracknet.io.event_files import EVENT_FILES
    from tracknet.io.trackml import list_events

    if list_events(root):
        return "trackml"
    raise DataError(
        f"neither a straw dataset (tracknet-dataset.json) nor TrackML events ({EVENT_FILES})",
        file=str(root),
    )


# --------------------------------------------------------------------------- writing


def _chunk_names(index: int) -> dict[str, str]:
    return {name: f"{name}-{index:06d}.parquet" for name in CHUNK_TABLES}


def _arrow_table(batch: StrawBatch, name: str) -> pa.Table:
    columns = getattr(batch, name)
    schema = _SCHEMAS[name]
    arrays = [pa.array(np.ascontiguousarray(columns[f.name]), type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_straw_dataset(
    batches: Iterable[StrawBatch],
    directory: str | os.PathLike[str],
    *,
    kind: str,
    parameters: Mapping[str, Any],
    seed: int | None,
    generator: str,
    extra: Mapping[str, Any] | None = None,
    on_chunk: Callable[[StrawBatch], object] | None = None,
    extra_files: Callable[[], Iterable[str]] | None = None,
) -> Path:
    """Write each batch as one chunk into ``directory``, then the record; return its path.

    A chunk's three files are written together atomically. An existing record is removed
    first (a failure half-way leaves no record that names files of two runs), and chunk
    files of an earlier, longer run are removed at the end. ``extra_files``, called once
    every chunk is written, may write more files into ``directory`` and returns their
    names: they are checksummed in the record too (an overlay's provenance table).
    ``on_chunk`` is called with each batch once written (its return value is ignored).
    """
    if kind not in KINDS:
        raise DataError(f"dataset kind must be one of {list(KINDS)}, got {kind!r}")
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise DataError("output path exists and is not a directory", file=str(root))
    root.mkdir(parents=True, exist_ok=True)
    (root / DATASET_FILE).unlink(missing_ok=True)
    chunks: list[dict[str, Any]] = []
    files: list[str] = []
    n_events = 0
    last_id: int | None = None
    for index, batch in enumerate(batches):
        batch.validate()
        if len(batch) and last_id is not None and batch.events["event_id"][0] <= last_id:
            raise DataError("chunks must hold increasing event ids")
        names = _chunk_names(index)
        with atomic_paths([root / n for n in names.values()]) as temps:
            for table, tmp in zip(names, temps, strict=True):
                pq.write_table(_arrow_table(batch, table), tmp, **_PARQUET_OPTIONS)
        ids = batch.events["event_id"]
        chunks.append(
            {
                **names,
                "n_events": len(batch),
                "first_event_id": int(ids[0]) if len(ids) else None,
                "last_event_id": int(ids[-1]) if len(ids) else None,
            }
        )
        files.extend(names.values())
        n_events += len(batch)
        if len(ids):
            last_id = int(ids[-1])
        if on_chunk is not None:
            on_chunk(batch)
    keep = set(files)
    if extra_files is not None:
        files.extend(Path(name).name for name in extra_files())
    for entry in os.scandir(root):
        if _CHUNK_FILE.match(entry.name) and entry.name not in keep:
            os.unlink(entry.path)
    return write_dataset_record(
        root,
        kind=kind,
        detector="straw",
        generator=generator,
        seed=seed,
        parameters=parameters,
        n_events=n_events,
        files=files,
        extra={**dict(extra or {}), "chunks": chunks},
    )


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class StrawDataset:
    """A straw dataset directory: its record and chunk-wise access to its events.

    ``verify`` checks each file's SHA-256 against the record before it
    is parsed.
    """

    directory: Path
    record: dict[str, Any]
    verify: bool = True

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, verify: bool = True) -> StrawDataset:
        root = Path(directory)
        if not root.is_dir():
            raise DataError("no such directory", file=str(root))
        record = read_dataset_record(root)
        path = str(root / DATASET_FILE)
        if record["detector"] != "straw":
            raise DataError(f"not a straw dataset (detector {record['detector']!r})", file=path)
        chunks = record.get("chunks")
        if not isinstance(chunks, list):
            raise DataError("field 'chunks' is missing or not a list", file=path)
        total = 0
        for i, chunk in enumerate(chunks):
            if not isinstance(chunk, dict) or any(
                not isinstance(chunk.get(t), str) for t in CHUNK_TABLES
            ):
                raise DataError(
                    f"chunk {i} does not name its {list(CHUNK_TABLES)} files", file=path
                )
            for table in CHUNK_TABLES:
                name = chunk[table]
                if Path(name).name != name:
                    raise DataError(
                        f"chunk {i}: file name {name!r} must not contain a directory", file=path
                    )
                if name not in record["sha256"]:
                    raise DataError(f"chunk {i}: no checksum for {name}", file=path)
                if not (root / name).is_file():
                    raise DataError(
                        "data file named by the record is missing", file=str(root / name)
                    )
            if not isinstance(chunk.get("n_events"), int):
                raise DataError(f"chunk {i}: field 'n_events' is missing", file=path)
            total += chunk["n_events"]
        if total != record["n_events"]:
            raise DataError(
                f"chunks hold {total} events, the record says {record['n_events']}", file=path
            )
        return cls(root, record, verify)

    @property
    def kind(self) -> str:
        return str(self.record["kind"])

    @property
    def labelled(self) -> bool:
        """False for production events, whose truth lies in a separate dataset."""
        return bool(self.record.get("labelled", True))

    @property
    def n_chunks(self) -> int:
        return len(self.record["chunks"])

    def __len__(self) -> int:
        return int(self.record["n_events"])

    def geometry_parameters(self) -> dict[str, Any]:
        """The straw geometry parameters of the record (empty when absent)."""
        params = self.record["parameters"]
        geometry = params.get("geometry", params.get("config", {}).get("geometry", {}))
        return dict(geometry) if isinstance(geometry, dict) else {}

    def verify_checksums(self) -> None:
        """Check every data file against the record."""
        for name in self.record["sha256"]:
            self._check_file(self.directory / name)

    def _check_file(self, path: Path) -> None:
        expected = self.record["sha256"].get(path.name)
        if expected is None:
            raise DataError("file is not in the dataset record", file=str(path))
        if sha256_file(path) != expected:
            raise DataError(
                "SHA-256 differs from the dataset record (file changed or corrupt)", file=str(path)
            )

    def _read_table(self, path: Path, name: str) -> dict[str, np.ndarray]:
        if self.verify:
            self._check_file(path)
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(
                f"cannot read Parquet file: {str(exc).splitlines()[0]}", file=str(path)
            ) from None
        expected = _SCHEMAS[name]
        names = table.schema.names
        for field in expected:
            if field.name not in names:
                raise DataError("missing column", file=str(path), column=field.name)
        extra = [n for n in names if n not in expected.names]
        if extra:
            raise DataError(f"unexpected column(s) {extra}", file=str(path))
        out: dict[str, np.ndarray] = {}
        for field in expected:
            column = table.column(field.name)
            if column.type != field.type:
                raise DataError(
                    f"expected type {field.type}, found {column.type}",
                    file=str(path),
                    column=field.name,
                )
            if column.null_count:
                row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
                raise DataError("missing value", file=str(path), column=field.name, row=row)
            out[field.name] = column.to_numpy()
        return out

    def read_chunk(self, index: int) -> StrawBatch:
        """Chunk ``index`` as a checked :class:`StrawBatch`."""
        chunk = self.record["chunks"][index]
        tables = {
            name: self._read_table(self.directory / chunk[name], name) for name in CHUNK_TABLES
        }
        batch = StrawBatch(
            tables["events"], tables["hits"], tables["particles"], {"kind": self.kind}
        )
        batch.validate(where=str(self.directory / chunk["hits"]))
        if len(batch) != chunk["n_events"]:
            raise DataError(
                f"holds {len(batch)} events, the record says {chunk['n_events']}",
                file=str(self.directory / chunk["events"]),
            )
        return batch

    def iter_batches(self) -> Iterator[StrawBatch]:
        for index in range(self.n_chunks):
            yield self.read_chunk(index)

    def read_all(self) -> StrawBatch:
        """Every event as one batch."""
        return StrawBatch.concat(self.iter_batches())

    def iter_events(self, event_ids: Iterable[int] | None = None) -> Iterator[Event]:
        """The events (or only ``event_ids``) as :class:`~tracknet.events.Event` objects."""
        wanted = (
            None if event_ids is None else np.unique(np.asarray(list(event_ids), dtype=np.int64))
        )
        found = 0
        for index, chunk in enumerate(self.record["chunks"]):
            if wanted is not None:
                lo, hi = chunk.get("first_event_id"), chunk.get("last_event_id")
                if lo is None or not np.any((wanted >= lo) & (wanted <= hi)):
                    continue
            batch = self.read_chunk(index)
            if wanted is not None:
                rows = np.flatnonzero(np.isin(batch.events["event_id"], wanted))
                batch = batch.take(rows)
                found += len(rows)
            yield from batch.iter_events()
        if wanted is not None and found != len(wanted):
            raise DataError(
                f"{len(wanted) - found} requested event id(s) are not in the dataset",
                file=str(self.directory),
            )

    def event_ids(self) -> np.ndarray:
        """Every event id, in order."""
        ids = [
            self._read_table(self.directory / c["events"], "events")["event_id"]
            for c in self.record["chunks"]
        ]
        return np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)

    def read_event(self, event_id: int) -> Event:
        """One event by id."""
        events = list(self.iter_events([int(event_id)]))
        return events[0]


def read_straw_events(
    directory: str | os.PathLike[str], event_ids: Iterable[int] | None = None
) -> Iterator[Event]:
    """Shortcut: the events of a straw dataset directory."""
    return StrawDataset.open(directory).iter_events(event_ids)
