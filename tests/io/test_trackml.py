"""TrackML reader and writer: formats, dtypes, validation errors and atomic output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event, shared_path
from tracknet.errors import DataError
from tracknet.events import HITS_SCHEMA, PARTICLES_SCHEMA, TRUTH_SCHEMA
from tracknet.io.trackml import (
    iter_events,
    list_events,
    read_detectors,
    read_event,
    read_part,
    read_submission,
    write_event,
    write_submission,
)


def _write(tmp_path: Path) -> Path:
    write_event(make_small_event(event_id=42), tmp_path)
    return tmp_path / "event000000042"


def test_roundtrip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    event = make_small_event(event_id=42)
    written = write_event(event, tmp_path)
    assert sorted(p.name for p in written) == [
        "event000000042-hits.csv",
        "event000000042-particles.csv",
        "event000000042-truth.csv",
    ]
    back = read_event(tmp_path / "event000000042")
    assert back.event_id == 42
    pd.testing.assert_frame_equal(back.hits, event.hits)
    pd.testing.assert_frame_equal(back.truth, event.truth)
    pd.testing.assert_frame_equal(back.particles, event.particles)
    assert dict(back.hits.dtypes) == dict(HITS_SCHEMA)
    assert dict(back.truth.dtypes) == dict(TRUTH_SCHEMA)
    assert dict(back.particles.dtypes) == dict(PARTICLES_SCHEMA)
    assert (tmp_path / "event000000042-hits.csv").read_text().splitlines()[
        0
    ] == "hit_id,x,y,z,volume_id,layer_id,module_id"


def test_gzip_roundtrip_and_byte_identical_rewrites(tmp_path: Path) -> None:
    event = make_small_event(event_id=3)
    write_event(event, tmp_path / "a", compress=True)
    write_event(event, tmp_path / "b")
    write_event(event, tmp_path / "c")
    assert read_event(tmp_path / "a" / "event000000003").hits.equals(event.hits)
    for name in ("hits", "truth", "particles"):
        assert (tmp_path / "b" / f"event000000003-{name}.csv").read_bytes() == (
            tmp_path / "c" / f"event000000003-{name}.csv"
        ).read_bytes()


def test_large_particle_ids_stay_exact(tmp_path: Path) -> None:
    event = make_small_event()
    big = np.int64(4503668346847232 + 2**53 + 1)  # not representable as float64
    truth = event.truth.copy()
    particles = event.particles.copy()
    truth.loc[truth.particle_id == 1000, "particle_id"] = big
    particles.loc[particles.particle_id == 1000, "particle_id"] = big
    write_event(event.with_parts(truth=truth, particles=particles), tmp_path)
    back = read_event(tmp_path / "event000000007")
    assert big in set(back.truth.particle_id.tolist())
    assert back.truth.particle_id.dtype == np.int64


def test_truth_is_reordered_to_hits(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    truth_file = Path(f"{prefix}-truth.csv")
    lines = truth_file.read_text().splitlines()
    truth_file.write_text("\n".join([lines[0], *lines[1:][::-1]]) + "\n")
    back = read_event(prefix)
    assert np.array_equal(back.truth.hit_id.to_numpy(), back.hits.hit_id.to_numpy())


def _corrupt(path: Path, line: int, column: int, value: str) -> None:
    lines = path.read_text().splitlines()
    cells = lines[line].split(",")
    cells[column] = value
    lines[line] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("part", "line", "column", "value", "expected"),
    [
        ("hits", 4, 1, "nan", "column 'x', row 3 (line 5): non-finite value nan"),
        ("hits", 2, 3, "inf", "column 'z', row 1 (line 3): non-finite value inf"),
        ("hits", 6, 2, "abc", "column 'y', row 5 (line 7): expected a number, found 'abc'"),
        ("hits", 3, 0, "1", "column 'hit_id', row 2 (line 4): duplicate hit_id 1"),
        (
            "hits",
            5,
            4,
            "8.5",
            "column 'volume_id', row 4 (line 6): expected an integer, found '8.5'",
        ),
        ("hits", 5, 5, "", "column 'layer_id', row 4 (line 6): missing value"),
        (
            "truth",
            2,
            1,
            "55555",
            "column 'particle_id', row 1 (line 3): particle_id 55555 is not in the particles file",
        ),
        (
            "truth",
            2,
            0,
            "9999",
            "column 'hit_id', row 1 (line 3): hit_id 9999 is not in the hits file",
        ),
        (
            "particles",
            1,
            0,
            "1001",
            "column 'particle_id', row 1 (line 3): duplicate particle_id 1001",
        ),
    ],
)
def test_bad_values_name_file_column_and_row(
    tmp_path: Path, part: str, line: int, column: int, value: str, expected: str
) -> None:
    prefix = _write(tmp_path)
    path = Path(f"{prefix}-{part}.csv")
    _corrupt(path, line, column, value)
    with pytest.raises(DataError) as info:
        read_event(prefix)
    message = str(info.value)
    assert "\n" not in message
    assert message == f"{path}, {expected}"


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    hits = Path(f"{prefix}-hits.csv")
    frame = pd.read_csv(hits).drop(columns=["z"])
    frame.to_csv(hits, index=False)
    with pytest.raises(DataError, match=r"hits\.csv, column 'z': missing column"):
        read_event(prefix)
    other = _write(tmp_path / "other")
    Path(f"{other}-truth.csv").unlink()
    with pytest.raises(DataError, match=r"truth\.csv: file not found"):
        read_event(other, parts=("truth",))


def test_hits_without_truth_rows_are_rejected(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    truth = Path(f"{prefix}-truth.csv")
    truth.write_text("\n".join(truth.read_text().splitlines()[:-2]) + "\n")
    with pytest.raises(DataError, match="has no truth row"):
        read_event(prefix)


def test_directory_listing_and_selection(tmp_path: Path) -> None:
    for event_id in (5, 2, 11):
        write_event(make_small_event(event_id=event_id), tmp_path)
    (tmp_path / "notes.txt").write_text("not an event")
    assert [p.name for p in list_events(tmp_path)] == [
        "event000000002",
        "event000000005",
        "event000000011",
    ]
    assert [e.event_id for e in iter_events(tmp_path, event_ids=[11, 2])] == [2, 11]
    with pytest.raises(DataError, match=r"event\(s\) \[3\] not found"):
        list(iter_events(tmp_path, event_ids=[3]))
    with pytest.raises(DataError, match="no TrackML events"):
        list(iter_events(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path))


def test_submission_roundtrip_and_duplicates(tmp_path: Path) -> None:
    sub = pd.DataFrame({"event_id": [1, 1, 2], "hit_id": [1, 2, 1], "track_id": [5, 5, 9]})
    path = write_submission(sub, tmp_path / "sub.csv")
    assert path.read_text() == "event_id,hit_id,track_id\n1,1,5\n1,2,5\n2,1,9\n"
    pd.testing.assert_frame_equal(read_submission(path), sub.astype("int64"))
    path.write_text("event_id,hit_id,track_id\n1,1,5\n1,1,6\n")
    with pytest.raises(
        DataError, match=r"column 'hit_id', row 1 \(line 3\): hit_id 1 appears twice in event 1"
    ):
        read_submission(path)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    event = make_small_event()
    bad = event.with_parts(particles=event.particles.drop(columns=["q"]))
    with pytest.raises(DataError, match="missing column"):
        write_event(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        write_event(event, tmp_path / "file")


# ------------------------------------------------------------------ real data


@pytest.mark.parametrize("sample", ["ez-0.1", "ez-0.2"])
def test_real_barrel_events_load(sample: str) -> None:
    directory = shared_path("event1000-barrel", sample)
    (event,) = list(iter_events(directory))
    assert event.event_id == 1000
    assert event.n_hits in (5587, 11123)
    assert set(event.hits.volume_id.unique()) <= {8, 13, 17}
    noise = (event.truth.particle_id == 0).mean()
    assert 0.15 < noise < 0.30  # the README says 23% noise
    assert event.truth.weight.sum() == pytest.approx(1.0, abs=1e-6)


def test_real_sample_event_codalab_variant_and_cells() -> None:
    directory = shared_path("sample-event1")
    event = read_event(directory / "event000000001", parts=("hits", "particles", "cells"))
    assert event.n_hits == 5527
    assert "particle_type" in event.particles.columns
    assert event.particles.particle_type.dtype == np.int64
    assert set(event.hits.volume_id.unique()) == {7, 8, 9, 12, 13, 14, 16, 17, 18}
    assert event.cells.hit_id.isin(event.hits.hit_id).all()


def test_real_detectors_with_and_without_index_column() -> None:
    with_index = read_detectors(shared_path("sample-event1", "detectors.csv.gz"))
    without = read_detectors(shared_path("geometry", "detectors.csv"))
    assert len(with_index) == len(without) == 18728
    assert list(with_index.columns) == list(without.columns)
    np.testing.assert_allclose(with_index.cx.to_numpy(), without.cx.to_numpy(), atol=1e-3)


@pytest.mark.parametrize("name", ["event000001001", "event000001003"])
def test_real_unlabeled_events_load(name: str) -> None:
    event = read_event(shared_path("unlabeled", name), parts=("hits", "particles"))
    assert event.n_hits > 90_000
    assert event.truth is None
    assert event.hits.hit_id.is_unique


def test_real_event_rewritten_reads_back_identically(tmp_path: Path) -> None:
    event = read_event(shared_path("event1000-barrel", "ez-0.1", "event000001000"))
    write_event(event, tmp_path, compress=True)
    back = read_event(tmp_path / "event000001000")
    pd.testing.assert_frame_equal(back.hits, event.hits)
    pd.testing.assert_frame_equal(back.truth, event.truth)
    pd.testing.assert_frame_equal(back.particles, event.particles)


def test_real_full_event_particles_table() -> None:
    particles = read_part(shared_path("event1000-particles", "event000001000"), "particles")
    assert len(particles) == 12263
    assert particles.particle_id.dtype == np.int64 and particles.particle_id.is_unique
    assert set(np.unique(particles.q)) <= {-1, 1}


def test_compression_is_told_by_the_bytes_not_the_name(tmp_path: Path) -> None:
    import gzip

    prefix = _write(tmp_path)
    expected = read_event(prefix)
    hits = Path(f"{prefix}-hits.csv")
    hits.write_bytes(gzip.compress(hits.read_bytes()))  # gzip data under a .csv name
    truth = Path(f"{prefix}-truth.csv")
    truth.rename(truth.with_name(truth.name + ".gz"))  # plain text under a .csv.gz name
    back = read_event(prefix)
    pd.testing.assert_frame_equal(back.hits, expected.hits)
    pd.testing.assert_frame_equal(back.truth, expected.truth)


def test_header_spaces_and_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    expected = read_event(prefix)
    hits = Path(f"{prefix}-hits.csv")
    lines = hits.read_text().splitlines()
    lines[0] = "\ufeff" + ", ".join(lines[0].split(","))
    hits.write_text("\n".join(lines) + "\n")
    pd.testing.assert_frame_equal(read_event(prefix).hits, expected.hits)


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("hit_id,x,y,z,volume_id,layer_id,module_id,x", None, ", column 'x': column appears twice"),
        ("\n", None, ": the first line is blank"),
        (
            None,
            "1,0,0,0,8,2,9223372036854775808",
            ", column 'module_id', row 0 (line 2): value does",
        ),
        (None, "1,0,0,0,8,2,4294967296", ", column 'module_id', row 0 (line 2): value 4294967296"),
        (None, "1,0,0,0,8,2,+3", ", column 'module_id', row 0 (line 2): expected an integer"),
        (None, "1,0,0,zero,8,2,3", ", column 'z', row 0 (line 2): expected a number, found 'zero'"),
    ],
)
def test_bad_headers_and_values_are_one_line(
    tmp_path: Path, header: str | None, row: str | None, expected: str
) -> None:
    prefix = _write(tmp_path)
    hits = Path(f"{prefix}-hits.csv")
    lines = hits.read_text().splitlines()
    if header is not None:
        lines[0] = header
    if row is not None:
        lines[1] = row
    hits.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        read_event(prefix, parts=("hits",))
    assert str(info.value).startswith(f"{hits}{expected}")
    assert "\n" not in str(info.value)


def test_a_directory_is_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "sub.csv").mkdir()
    with pytest.raises(DataError, match=r"sub\.csv: is a directory, not a CSV file"):
        read_submission(tmp_path / "sub.csv")


def test_submission_track_ids_are_non_negative(tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    path.write_text("event_id,hit_id,track_id\n1,1,0\n1,2,-1\n")
    with pytest.raises(
        DataError, match=r"column 'track_id', row 1 \(line 3\): track_id must be >= 0"
    ):
        read_submission(path)
    path.write_text("track_id,note,hit_id,event_id\n4,a,1,1\n")  # extra columns are ignored
    assert read_submission(path).to_dict("list") == {
        "event_id": [1],
        "hit_id": [1],
        "track_id": [4],
    }
