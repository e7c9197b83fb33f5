"""Straw datasets on disk: same seed same bytes, the record, strict reading, atomicity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import make_small_event
from tracknet.errors import DataError
from tracknet.io.straw import (
    DATASET_FILE,
    StrawDataset,
    is_straw_dataset,
    read_dataset_record,
    sha256_file,
    source_kind,
    write_straw_dataset,
)
from tracknet.io.trackml import write_event
from tracknet.simulation.straw import StrawConfig, iter_straw_batches, simulate_straw_batch

CONFIG = StrawConfig()


def _write(directory: Path, n: int = 250, seed: int = 4, per_chunk: int = 100) -> Path:
    return write_straw_dataset(
        iter_straw_batches(CONFIG, n, seed, events_per_batch=per_chunk),
        directory,
        kind="straw",
        parameters={"config": CONFIG.to_dict()},
        seed=seed,
        generator="test",
    )


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "a")
    _write(tmp_path / "b")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a == b
    assert sorted(a) == sorted(
        [DATASET_FILE]
        + [f"{t}-{i:06d}.parquet" for t in ("events", "hits", "particles") for i in range(3)]
    )
    _write(tmp_path / "c", seed=5)
    assert _digests(tmp_path / "c")["hits-000000.parquet"] != a["hits-000000.parquet"]


def test_record_and_round_trip(tmp_path: Path) -> None:
    _write(tmp_path)
    record = read_dataset_record(tmp_path)
    assert record["kind"] == "straw" and record["seed"] == 4 and record["n_events"] == 250
    assert [c["n_events"] for c in record["chunks"]] == [100, 100, 50]
    for name, digest in record["sha256"].items():
        assert sha256_file(tmp_path / name) == digest
    assert is_straw_dataset(tmp_path) and source_kind(tmp_path) == "straw"
    dataset = StrawDataset.open(tmp_path)
    assert len(dataset) == 250 and dataset.n_chunks == 3
    read = dataset.read_all()
    generated = simulate_straw_batch(CONFIG, 250, seed=4)
    for table in ("events", "hits", "particles"):
        for column, values in getattr(generated, table).items():
            assert np.array_equal(getattr(read, table)[column], values, equal_nan=True), (
                table,
                column,
            )
    assert np.array_equal(dataset.event_ids(), np.arange(250))
    event = dataset.read_event(123)
    expected = generated.event(123)
    assert (
        event.hits.equals(expected.hits)
        and event.truth.equals(expected.truth)
        and event.particles.equals(expected.particles)
    )
    assert [e.event_id for e in dataset.iter_events([5, 150, 249])] == [5, 150, 249]
    with pytest.raises(DataError, match="not in the dataset"):
        dataset.read_event(250)


def test_rewrite_removes_stale_chunks(tmp_path: Path) -> None:
    _write(tmp_path, n=250)
    _write(tmp_path, n=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [DATASET_FILE, "events-000000.parquet", "hits-000000.parquet", "particles-000000.parquet"]
    )
    assert len(StrawDataset.open(tmp_path).read_all()) == 50


def test_failure_leaves_no_record(tmp_path: Path) -> None:
    _write(tmp_path, n=100)

    def broken():
        yield from iter_straw_batches(CONFIG, 100, 1, events_per_batch=50)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_straw_dataset(
            broken(), tmp_path, kind="straw", parameters={}, seed=1, generator="test"
        )
    assert not (tmp_path / DATASET_FILE).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(DataError, match="no dataset record"):
        StrawDataset.open(tmp_path)


def _rewrite_hits(directory: Path, change) -> None:
    path = directory / "hits-000000.parquet"
    table = change(pq.read_table(path))
    pq.write_table(table, path)
    record = json.loads((directory / DATASET_FILE).read_text())
    record["sha256"][path.name] = sha256_file(path)
    (directory / DATASET_FILE).write_text(json.dumps(record))


def _repeat_a_hit_id(table: pa.Table) -> pa.Table:
    hit_id = table.column("hit_id").to_numpy().copy()
    event = table.column("event_id").to_numpy()
    row = int(np.flatnonzero(event[1:] == event[:-1])[0]) + 1
    hit_id[row] = hit_id[row - 1]
    return table.set_column(table.schema.get_field_index("hit_id"), "hit_id", pa.array(hit_id))


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (
            lambda t: t.drop_columns(["drift_mm"]),
            ("hits-000000.parquet", "column 'drift_mm'", "missing column"),
        ),
        (lambda t: t.append_column("extra", pa.array(np.zeros(len(t)))), ("unexpected column",)),
        (
            lambda t: t.set_column(
                t.schema.get_field_index("straw_id"),
                "straw_id",
                t.column("straw_id").cast(pa.int64()),
            ),
            ("column 'straw_id'", "int32"),
        ),
        (
            lambda t: t.set_column(
                t.schema.get_field_index("x"),
                "x",
                pa.array(np.where(np.arange(len(t)) == 3, np.nan, t.column("x").to_numpy())),
            ),
            ("column 'x'", "row 3", "non-finite"),
        ),
        (_repeat_a_hit_id, ("column 'hit_id'", "repeats or is out of order")),
        (
            lambda t: t.set_column(
                t.schema.get_field_index("particle_id"),
                "particle_id",
                pa.array(np.where(np.arange(len(t)) == 0, 99, t.column("particle_id").to_numpy())),
            ),
            ("particle_id 99", "row 0"),
        ),
    ],
)
def test_bad_files_give_one_line(tmp_path: Path, change, fragments: tuple[str, ...]) -> None:
    _write(tmp_path, n=40, per_chunk=40)
    _rewrite_hits(tmp_path, change)
    with pytest.raises(DataError) as info:
        StrawDataset.open(tmp_path).read_all()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_checksums_and_record_problems(tmp_path: Path) -> None:
    _write(tmp_path, n=40, per_chunk=40)
    path = tmp_path / "particles-000000.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="SHA-256 differs"):
        StrawDataset.open(tmp_path).read_all()
    with pytest.raises(DataError, match="SHA-256 differs"):
        StrawDataset.open(tmp_path).verify_checksums()
    path.unlink()
    with pytest.raises(DataError, match="missing"):
        StrawDataset.open(tmp_path)
    (tmp_path / DATASET_FILE).write_text('{"format": "tracknet-dataset", "format_version": 99}')
    with pytest.raises(DataError, match="format_version"):
        StrawDataset.open(tmp_path)
    (tmp_path / DATASET_FILE).write_text("{not json")
    with pytest.raises(DataError, match="cannot read dataset record"):
        StrawDataset.open(tmp_path)


def test_source_kind(tmp_path: Path) -> None:
    write_event(make_small_event(), tmp_path / "trackml")
    assert source_kind(tmp_path / "trackml") == "trackml"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="neither a straw dataset"):
        source_kind(tmp_path / "empty")
    with pytest.raises(DataError, match="no such directory"):
        source_kind(tmp_path / "missing")
