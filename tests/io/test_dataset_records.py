"""A data set TrackNET wrote is read only as its record describes it (issue 18): events
added beside it or removed from it are an error, not a silent change of the data set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import make_small_event
from tracknet.io.trackml import list_events, write_event
from tracknet.simulation import SimulationConfig
from tracknet.simulation.run import METADATA_FILE, simulate_to_directory


@pytest.fixture
def simulated(tmp_path: Path) -> Path:
    out = tmp_path / "sim"
    simulate_to_directory(SimulationConfig(n_particles=40), out, n_events=2, seed=4, progress=False)
    return out


def _build(data: Path, tmp_path: Path) -> object:
    out = tmp_path / "s.csv"
    return invoke("build", "--data-dir", str(data), "--out", str(out), "--algorithm", "baseline")


def test_a_complete_simulated_data_set_reads(simulated: Path, tmp_path: Path) -> None:
    assert [p.name for p in list_events(simulated)] == ["event000000001", "event000000002"]
    result = _build(simulated, tmp_path)
    assert result.code == 0, result.err  # type: ignore[attr-defined]


def test_an_event_file_the_record_lists_but_is_gone_is_refused(
    simulated: Path, tmp_path: Path
) -> None:
    (simulated / "event000000002-truth.csv").unlink()
    result = _build(simulated, tmp_path)
    assert_one_line_error(result, METADATA_FILE, "missing", "event000000002-truth.csv")  # type: ignore[arg-type]
    assert not (tmp_path / "s.csv").exists()


def test_an_event_added_beside_a_recorded_data_set_is_refused(
    simulated: Path, tmp_path: Path
) -> None:
    write_event(make_small_event(event_id=7), simulated)
    result = _build(simulated, tmp_path)
    assert_one_line_error(result, METADATA_FILE, "not listed", "event000000007")  # type: ignore[arg-type]
    for command in (
        ["density", "--data-dir", str(simulated), "--output", str(tmp_path / "d.npz")],
        [
            "overlay",
            "--source",
            str(simulated),
            "--out",
            str(tmp_path / "o"),
            "--events",
            "1",
            "--tracks-per-event",
            "2",
        ],
    ):
        assert_one_line_error(invoke(*command), METADATA_FILE, "not listed")
    assert not (tmp_path / "d.npz").exists() and not (tmp_path / "o").exists()


def test_events_without_a_record_read_as_they_are(simulated: Path, tmp_path: Path) -> None:
    """Real TrackML folders carry no record: whatever events they hold are the data."""
    plain = tmp_path / "plain"
    shutil.copytree(simulated, plain)
    (plain / METADATA_FILE).unlink()
    write_event(make_small_event(event_id=7), plain)
    assert len(list_events(plain)) == 3
