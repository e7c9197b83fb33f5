"""The one scanner of event directories: every command reads the same events of a
directory, says what it skipped, and refuses an event stored twice (issue 18)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import make_small_event
from tracknet.errors import DataError
from tracknet.io.trackml import list_events, write_event


def _ten_digit_directory(root: Path) -> Path:
    """Event 1 as usual, event 2 renamed to a 10-digit id, a particles file of event 3
    without hits."""
    for event_id in (1, 2, 3):
        write_event(make_small_event(event_id=event_id), root)
    for path in root.glob("event000000002-*"):
        path.rename(root / path.name.replace("event000000002", "event1000000000"))
    for path in root.glob("event000000003-*"):
        if not path.name.endswith("-particles.csv"):
            path.unlink()
    return root


NOTE = (
    "note: {root}: skipped 2 event(s) that cannot be read: event000000003 (no hits file), "
    "event1000000000 (its id is not nine digits)"
)


@pytest.mark.parametrize(
    "command",
    [
        "build --data-dir {root} --out {out}/s.csv --algorithm baseline",
        "density --data-dir {root} --output {out}/d.npz",
        "module-map --data-dir {root} --out {out}/m.npz --min-pt 0.001",
    ],
    ids=["build", "density", "module-map"],
)
def test_every_scanner_reads_the_same_events_and_names_what_it_skips(
    tmp_path: Path, command: str
) -> None:
    root = _ten_digit_directory(tmp_path / "events")
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(*command.format(root=root, out=out).split())
    assert result.code == 0, result.err
    assert result.err_lines == [NOTE.format(root=root)]


def test_an_id_beyond_nine_digits_is_refused_by_info_and_the_simulator(tmp_path: Path) -> None:
    root = _ten_digit_directory(tmp_path / "events")
    assert [p.name for p in list_events(root)] == ["event000000001"]
    assert_one_line_error(invoke("info", str(root / "event1000000000")), "event<9 digits>")
    assert_one_line_error(invoke("info", str(root / "event1000000000-hits.csv")), "event<9 digits>")
    simulate = ["simulate", "trackml", "--out", str(tmp_path / "sim"), "--particles", "20"]
    assert_one_line_error(
        invoke(*simulate, "--first-event-id", "999999999", "--events", "2"), "--events"
    )
    assert not (tmp_path / "sim").exists()


def test_a_scan_of_clean_events_says_nothing(tmp_path: Path) -> None:
    write_event(make_small_event(event_id=4), tmp_path)
    (tmp_path / "notes.txt").write_text("not an event\n")
    (tmp_path / "detectors.csv").write_text("volume_id\n")
    out = tmp_path / "s.csv"
    result = invoke(
        "build", "--data-dir", str(tmp_path), "--out", str(out), "--algorithm", "baseline"
    )
    assert result.code == 0 and result.err == "", result.err


@pytest.mark.parametrize("part", ["hits", "truth"])
def test_a_part_both_plain_and_gzipped_is_an_error(tmp_path: Path, part: str) -> None:
    write_event(make_small_event(event_id=5), tmp_path)
    plain = tmp_path / f"event000000005-{part}.csv"
    (tmp_path / f"{plain.name}.gz").write_bytes(gzip.compress(plain.read_bytes()))
    fragments = (f"event000000005-{part}.csv and event000000005-{part}.csv.gz", "keep one")
    if part == "hits":
        with pytest.raises(DataError, match="keep one"):
            list_events(tmp_path)
    out = tmp_path / "out.csv"
    build = ["build", "--data-dir", str(tmp_path), "--out", str(out), "--algorithm", "baseline"]
    assert_one_line_error(invoke(*build), *fragments)
    assert not out.exists()
    assert_one_line_error(invoke("info", str(tmp_path / "event000000005")), *fragments)


def test_no_writer_names_an_event_beyond_nine_digits(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not fit a TrackML file name"):
        write_event(make_small_event(event_id=1_000_000_000), tmp_path / "w")
    assert not (tmp_path / "w").exists()
    source = tmp_path / "source"
    write_event(make_small_event(event_id=3, n_particles=6), source)
    overlay = ["overlay", "--source", str(source), "--out", str(tmp_path / "o"), "--no-progress"]
    overlay += ["--tracks-per-event", "1", "--first-event-id", "999999999"]
    assert_one_line_error(invoke(*overlay, "--events", "2"), "999999999", "event<9 digits>")
    assert_one_line_error(invoke(*overlay, "--events", "1", "--with-singles"), "event<9 digits>")
    assert not (tmp_path / "o").exists()
    assert invoke(*overlay, "--events", "1").code == 0
    assert [p.name for p in list_events(tmp_path / "o")] == ["event999999999"]
