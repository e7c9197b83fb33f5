"""TrackML events as Parquet files: the same tables as from CSV, the same strictness, the
same bytes on every run, and every command reading either format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import make_small_event, shared_path
from tracknet.errors import ConfigError, DataError
from tracknet.events import PART_SCHEMAS
from tracknet.io.trackml import (
    available_parts,
    list_events,
    read_event,
    read_part,
    write_event,
)
from tracknet.simulation.config import SimulationConfig
from tracknet.simulation.simulate import event_rng, simulate_event

SIMULATE = ["simulate", "trackml", "--events", "2", "--seed", "3", "--particles", "300"]


def _simulated(event_id: int = 5):
    config = SimulationConfig(n_particles=300).validate()
    event = simulate_event(config, event_id, event_rng(11, event_id))
    # A CodaLab-style particle_type column and cells, so every column kind is written.
    n = len(event.hits)
    cells = pd.DataFrame(
        {
            "hit_id": np.repeat(event.hits["hit_id"].to_numpy(), 2),
            "ch0": np.arange(2 * n, dtype=np.int32),
            "ch1": np.arange(2 * n, dtype=np.int32)[::-1].copy(),
            "value": np.linspace(0.01, 1.0, 2 * n),
        }
    )
    particles = event.particles.assign(
        particle_type=np.where(event.particles["q"] > 0, 211, -211).astype(np.int64)
    )
    return event.with_parts(cells=cells, particles=particles)


def _assert_same_event(a, b) -> None:
    assert list(a.parts()) == list(b.parts())
    for part, frame in a.parts().items():
        pd.testing.assert_frame_equal(frame, b.parts()[part], check_exact=True)


def test_a_parquet_round_trip_gives_the_csv_tables(tmp_path: Path) -> None:
    event = _simulated()
    write_event(event, tmp_path / "csv")
    written = write_event(event, tmp_path / "pq", fmt="parquet")
    assert [p.name for p in written] == [
        f"event000000005-{part}.parquet" for part in ("hits", "truth", "particles", "cells")
    ]
    parts = ("hits", "truth", "particles", "cells")
    from_csv = read_event(tmp_path / "csv" / "event000000005", parts)
    from_parquet = read_event(tmp_path / "pq" / "event000000005", parts)
    _assert_same_event(from_csv, from_parquet)
    for part, schema in PART_SCHEMAS.items():
        if part in parts:
            frame = from_parquet.parts()[part]
            assert {c: frame[c].dtype for c in schema} == dict(schema)
    assert "particle_type" in from_parquet.particles.columns
    assert from_parquet.particles["particle_type"].dtype == np.int64
    assert available_parts(tmp_path / "pq" / "event000000005") == parts


def _real_directories() -> list[Path]:
    root = shared_path()
    return sorted({p.parent for p in root.rglob("event*-*.csv*")})


@pytest.mark.shared_data
def test_the_real_events_round_trip_through_parquet(tmp_path: Path) -> None:
    """Every part of every real event (cells and the CodaLab particle_type included) reads
    back from Parquet to the very tables read from its CSV files, row order included."""
    seen: set[str] = set()
    for k, directory in enumerate(_real_directories()):
        out = tmp_path / f"d{k}"
        out.mkdir()
        prefixes = list_events(directory) or sorted(
            {directory / p.name.split("-")[0] for p in directory.glob("event*-*.csv*")}
        )
        for prefix in prefixes:
            for part in available_parts(prefix):
                frame = read_part(prefix, part)
                hits = frame if part == "hits" else make_small_event().hits
                event = make_small_event(event_id=int(prefix.name[5:])).with_parts(
                    hits=hits, **({} if part == "hits" else {part: frame})
                )
                write_event(event, out, parts=[part], fmt="parquet")
                back = read_part(out / prefix.name, part)
                pd.testing.assert_frame_equal(frame, back, check_exact=True)
                seen.add(part)
            if list_events(directory):
                parts = available_parts(prefix)
                _assert_same_event(read_event(prefix, parts), read_event(out / prefix.name, parts))
    assert {"hits", "truth", "particles"} <= seen


def test_the_same_event_gives_the_same_bytes_in_two_processes(tmp_path: Path) -> None:
    event = _simulated()
    first = write_event(event, tmp_path / "a", fmt="parquet")
    again = write_event(event, tmp_path / "b", fmt="parquet")
    script = (
        "import sys\n"
        "from tests.io.test_parquet import _simulated\n"
        "from tracknet.io.trackml import write_event\n"
        "write_event(_simulated(), sys.argv[1], fmt='parquet')\n"
    )
    root = Path(__file__).resolve().parents[2]
    env_path = f"{root}:{root / 'src'}"
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "c")],
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for path, other in zip(first, again, strict=True):
        assert path.read_bytes() == other.read_bytes()
        assert path.read_bytes() == (tmp_path / "c" / path.name).read_bytes()
    # No pandas metadata (versions, index) in the file: only the columns.
    metadata = pq.read_metadata(first[0]).metadata or {}
    assert b"pandas" not in metadata


def test_simulate_parquet_twice_gives_identical_directories(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = invoke(*SIMULATE, "--format", "parquet", "--out", str(tmp_path / name))
        assert result.code == 0, result.err
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert [n for n in names if n.endswith(".parquet")] == [
        f"event00000000{k}-{part}.parquet"
        for k in (1, 2)
        for part in ("hits", "particles", "truth")
    ]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    record = json.loads((tmp_path / "a" / "tracknet-simulation.json").read_text())
    assert sorted(record["sha256"]) == [n for n in names if n.endswith(".parquet")]
    assert [p.name for p in list_events(tmp_path / "a")] == ["event000000001", "event000000002"]
    # The same events as the CSV run of the same seed.
    assert invoke(*SIMULATE, "--out", str(tmp_path / "csv")).code == 0
    for prefix in list_events(tmp_path / "csv"):
        _assert_same_event(read_event(prefix), read_event(tmp_path / "a" / prefix.name))


def test_simulate_refuses_gzip_with_parquet_and_an_unknown_format(tmp_path: Path) -> None:
    result = invoke(*SIMULATE, "--format", "parquet", "--gzip", "--out", str(tmp_path / "s"))
    assert_one_line_error(result, "--gzip", "parquet")
    result = invoke(*SIMULATE, "--format", "hdf5", "--out", str(tmp_path / "s"))
    assert_one_line_error(result, "--format", "hdf5")
    assert not (tmp_path / "s").exists()
    with pytest.raises(ConfigError, match="gzip"):
        write_event(make_small_event(), tmp_path / "w", fmt="parquet", compress=True)


# ------------------------------------------------------------------ strictness


def _broken_hits(tmp_path: Path, edit) -> Path:
    """An event whose hits file is a Parquet file written by hand from ``edit(hits)``."""
    event = make_small_event(event_id=1)
    write_event(event, tmp_path, parts=["truth", "particles"], fmt="parquet")
    table = edit(pa.Table.from_pandas(event.hits, preserve_index=False))
    pq.write_table(table, tmp_path / "event000000001-hits.parquet")
    return tmp_path / "event000000001"


def _with(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (lambda t: t.drop_columns(["y"]), ("column 'y'", "missing column")),
        (
            lambda t: _with(t, "volume_id", pa.array(t["volume_id"].to_numpy() + 0.5)),
            ("column 'volume_id'", "expected integers", "double"),
        ),
        (
            lambda t: _with(t, "layer_id", pa.array(t["layer_id"].to_numpy().astype(float))),
            ("column 'layer_id'", "expected integers", "double"),
        ),
        (
            lambda t: _with(t, "z", pa.array(np.where(np.arange(len(t)) == 4, np.nan, t["z"]))),
            ("column 'z'", "row 4", "non-finite value nan"),
        ),
        (
            lambda t: _with(t, "x", pa.array(np.where(np.arange(len(t)) == 2, np.inf, t["x"]))),
            ("column 'x'", "row 2", "non-finite value inf"),
        ),
        (
            lambda t: _with(
                t, "hit_id", pa.array(np.where(np.arange(len(t)) == 6, 3, t["hit_id"]))
            ),
            ("column 'hit_id'", "row 6", "duplicate hit_id 3"),
        ),
        (
            lambda t: _with(
                t,
                "module_id",
                pa.array(np.where(np.arange(len(t)) == 5, np.int64(2**40), t["module_id"])),
            ),
            ("column 'module_id'", "row 5", "out of range for int32"),
        ),
        (
            lambda t: _with(
                t,
                "hit_id",
                pa.array(np.where(np.arange(len(t)) == 1, 2**63, t["hit_id"]).astype(np.uint64)),
            ),
            ("column 'hit_id'", "row 1", "does not fit in int64"),
        ),
        (
            lambda t: _with(t, "y", pa.array([None if i == 3 else 1.0 for i in range(len(t))])),
            ("column 'y'", "row 3", "missing value"),
        ),
        (
            lambda t: _with(t, "x", pa.array([str(v) for v in t["x"].to_pylist()])),
            ("column 'x'", "expected numbers", "string"),
        ),
        (
            lambda t: t.append_column("x", t["x"]),
            ("column 'x'", "twice"),
        ),
    ],
    ids=[
        "missing-column",
        "float-in-int",
        "integral-floats-in-int",
        "nan",
        "inf",
        "duplicate-id",
        "beyond-int32",
        "beyond-int64",
        "null",
        "text",
        "repeated-column",
    ],
)
def test_a_bad_parquet_file_is_one_line_naming_file_and_column(
    tmp_path: Path, edit, fragments: tuple[str, ...]
) -> None:
    prefix = _broken_hits(tmp_path, edit)
    with pytest.raises(DataError) as caught:
        read_event(prefix)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "event000000001-hits.parquet") + ", ")
    for fragment in fragments:
        assert fragment in message
    assert "(line" not in message  # a Parquet file has rows, not lines
    result = invoke("info", str(prefix))
    assert_one_line_error(result, "event000000001-hits.parquet", *fragments)


def test_parquet_accepts_what_holds_the_values_and_drops_extra_columns(tmp_path: Path) -> None:
    """Narrower or unsigned integers and float32 coordinates are read as the schema's
    dtypes; extra columns are dropped, as from CSV."""
    event = make_small_event(event_id=1)
    write_event(event, tmp_path, parts=["truth", "particles"], fmt="parquet")
    hits = event.hits.astype({"hit_id": "uint32", "volume_id": "int8", "x": "float32"})
    table = pa.Table.from_pandas(hits.assign(extra=["a"] * len(hits)), preserve_index=False)
    pq.write_table(table, tmp_path / "event000000001-hits.parquet")
    read = read_event(tmp_path / "event000000001").hits
    assert read.dtypes.to_dict() == dict(PART_SCHEMAS["hits"])
    expected = event.hits.assign(x=event.hits["x"].astype("float32").astype("float64"))
    pd.testing.assert_frame_equal(read, expected)


def test_not_a_parquet_file_is_one_line(tmp_path: Path) -> None:
    write_event(make_small_event(event_id=1), tmp_path)
    (tmp_path / "event000000001-hits.csv").rename(tmp_path / "event000000001-hits.parquet")
    with pytest.raises(DataError, match=r"hits\.parquet: not a readable Parquet file"):
        read_event(tmp_path / "event000000001")


def test_a_part_in_two_formats_is_an_error(tmp_path: Path) -> None:
    event = make_small_event(event_id=1)
    write_event(event, tmp_path)
    write_event(event, tmp_path, parts=["hits"], fmt="parquet")
    expected = "both event000000001-hits.csv and event000000001-hits.parquet are there; keep one"
    with pytest.raises(DataError, match=expected):
        read_event(tmp_path / "event000000001")
    with pytest.raises(DataError, match=expected):
        list_events(tmp_path)
    write_event(event, tmp_path, parts=["hits"], compress=True)
    with pytest.raises(DataError, match="keep one"):
        list_events(tmp_path)


def test_a_mixed_event_reads_and_its_files_name_it(tmp_path: Path) -> None:
    """Each part is looked up on its own: CSV hits with Parquet truth is one event."""
    event = make_small_event(event_id=1)
    write_event(event, tmp_path, parts=["hits"])
    write_event(event, tmp_path, parts=["truth", "particles"], fmt="parquet")
    _assert_same_event(read_event(tmp_path / "event000000001"), event)
    result = invoke("info", str(tmp_path / "event000000001-truth.parquet"), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["parts"] == ["hits", "truth", "particles"]


# ------------------------------------------------------------------ commands


@pytest.fixture(scope="module")
def both_formats(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("formats")
    assert invoke(*SIMULATE, "--out", str(root / "csv"), "--no-progress").code == 0
    result = invoke(
        "convert", "--to", "parquet", "--data-dir", str(root / "csv"), "--out", str(root / "pq")
    )
    assert result.code == 0, result.err
    return root / "csv", root / "pq"


def test_build_and_evaluate_give_the_same_results_from_parquet(
    both_formats: tuple[Path, Path], tmp_path: Path
) -> None:
    summaries = []
    submissions = []
    for directory in both_formats:
        out = tmp_path / f"{directory.name}.csv"
        built = invoke(
            "build", "--data-dir", str(directory), "--out", str(out), "--algorithm", "baseline"
        )
        assert built.code == 0, built.err
        submissions.append(out.read_bytes())
        scored = invoke(
            "evaluate", "--submission", str(out), "--data-dir", str(directory), "--json"
        )
        assert scored.code == 0, scored.err
        summaries.append(json.loads(scored.out))
    assert submissions[0] == submissions[1]
    assert summaries[0]["n_events"] == 2
    assert summaries[0] == summaries[1]


def test_convert_there_and_back_gives_the_same_tables_and_bytes(
    both_formats: tuple[Path, Path], tmp_path: Path
) -> None:
    csv_dir, pq_dir = both_formats
    record = json.loads((pq_dir / "tracknet-convert.json").read_text())
    assert record["format"] == "parquet" and record["n_events"] == 2
    assert sorted(record["sha256"]) == sorted(p.name for p in pq_dir.glob("*.parquet"))
    back = tmp_path / "back"
    result = invoke("convert", "--to", "csv", "--data-dir", str(pq_dir), "--out", str(back))
    assert result.code == 0, result.err
    assert "wrote 2 events as csv" in result.out
    for prefix in list_events(csv_dir):
        for part in available_parts(prefix):
            name = f"{prefix.name}-{part}.csv"
            pd.testing.assert_frame_equal(
                read_part(prefix, part), read_part(back / prefix.name, part)
            )
            # TrackNET's own CSV files come back byte for byte.
            assert (back / name).read_bytes() == (csv_dir / name).read_bytes()
    assert sorted(p.name for p in back.iterdir()) == sorted(
        [p.name for p in csv_dir.glob("*.csv")] + ["tracknet-convert.json"]
    )
    one = tmp_path / "one"
    result = invoke(
        "convert", "--to", "csv", "--gzip", "--data-dir", str(pq_dir), "--out", str(one),
        "--events", "2",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert [p.name for p in list_events(one)] == ["event000000002"]
    assert (one / "event000000002-hits.csv.gz").is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--to", "hdf5", "--data-dir", "{csv}"], ("--to", "hdf5")),
        (["--to", "parquet", "--data-dir", "{o}/nodir"], ("nodir", "no such directory")),
        (["--to", "parquet", "--data-dir", "{o}"], ("no TrackML events", "parquet")),
        (["--to", "parquet", "--gzip", "--data-dir", "{csv}"], ("--gzip",)),
        (["--to", "parquet", "--data-dir", "{csv}", "--events", "9"], ("[9]", "not found")),
        (["--to", "parquet", "--data-dir", "{csv}", "--events", "1,x"], ("--events",)),
    ],
    ids=["unknown-format", "missing-dir", "no-events", "gzip-parquet", "absent-event", "bad-ids"],
)
def test_convert_bad_input_is_one_line_and_leaves_nothing(
    both_formats: tuple[Path, Path], tmp_path: Path, args: list[str], fragments: tuple[str, ...]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = [a.format(csv=both_formats[0], o=empty) for a in args]
    result = invoke("convert", *line, "--out", str(tmp_path / "out"))
    assert_one_line_error(result, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    assert list(empty.iterdir()) == []


def test_convert_into_its_own_directory_is_refused(both_formats: tuple[Path, Path]) -> None:
    csv_dir = both_formats[0]
    before = sorted(p.name for p in csv_dir.iterdir())
    result = invoke("convert", "--to", "parquet", "--data-dir", str(csv_dir), "--out", str(csv_dir))
    assert_one_line_error(result, "--out", "--data-dir")
    assert sorted(p.name for p in csv_dir.iterdir()) == before
