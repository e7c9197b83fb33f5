"""The evaluation report: its files, its numbers and its plots agree with the summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event, split_submission, truth_submission
from tracknet.errors import DataError
from tracknet.evaluation import ParticleSelection
from tracknet.evaluation.files import evaluate_submission
from tracknet.evaluation.report import ReportEntry, build_meta_path, rate_binned, write_report
from tracknet.io.trackml import write_event


@pytest.fixture
def event_dir(tmp_path: Path) -> Path:
    write_event(make_small_event(event_id=4, n_particles=6, hits_per_particle=6), tmp_path / "data")
    return tmp_path / "data"


def test_report_files_and_numbers(tmp_path: Path, event_dir: Path) -> None:
    from tracknet.io.trackml import read_event

    event = read_event(event_dir / "event000000004")
    selection = ParticleSelection(min_hits=3)
    truth = evaluate_submission(event_dir, truth_submission(event), selection)
    split = evaluate_submission(event_dir, split_submission(event), selection)
    path = write_report(
        tmp_path / "report",
        [ReportEntry("truth", truth, {4: 0.25}), ReportEntry("split", split)],
        selection=selection,
    )
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [
        "efficiency_eta.png",
        "efficiency_pt.png",
        "fake_duplicate_eta.png",
        "metrics.json",
        "report.html",
        "report.md",
    ]
    for png in path.parent.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((path.parent / "metrics.json").read_text())
    assert metrics["algorithms"]["truth"]["trackml_score"] == 1.0
    assert metrics["algorithms"]["truth"]["build_seconds_per_event"] == {"4": 0.25}
    # 6 particles of 6 hits split 3 + 3: no half holds more than half -> none found,
    # 6 duplicates of 12
    assert metrics["algorithms"]["split"]["efficiency"] == 0.0
    assert metrics["algorithms"]["split"]["duplicate_rate"] == 0.5
    text = path.read_text()
    assert "| Tracking efficiency (double majority) | 1.0000 | 0.0000 |" in text
    assert "| Build time per event (s) | 0.2500 | n/a |" in text


def test_per_track_duplicates_match_the_summary(event_dir: Path) -> None:
    from tracknet.io.trackml import read_event

    event = read_event(event_dir / "event000000004")
    result = evaluate_submission(event_dir, split_submission(event), ParticleSelection(min_hits=3))
    assert int(result.per_track["duplicate"].sum()) == result.summary["n_duplicate"]
    assert np.isfinite(result.per_track["eta"]).all()


def test_rate_binned_by_hand() -> None:
    tracks = pd.DataFrame(
        {
            "eta": [-1.5, -1.2, 0.1, 0.2, 0.3, 2.5],
            "considered": [True] * 5 + [False],
            "fake": [True, False, False, False, True, True],
        }
    )
    table = rate_binned(tracks, "eta", [-2, -1, 0, 1], "fake", "considered")
    assert table["n_total"].tolist() == [2, 0, 3]
    assert (
        table["rate"].iloc[0] == 0.5
        and np.isnan(table["rate"].iloc[1])
        and table["rate"].iloc[2] == pytest.approx(1 / 3)
    )


def test_report_refuses_a_file_as_directory(tmp_path: Path, event_dir: Path) -> None:
    from tracknet.io.trackml import read_event

    (tmp_path / "taken").write_text("x")
    result = evaluate_submission(
        event_dir, truth_submission(read_event(event_dir / "event000000004"))
    )
    with pytest.raises(DataError, match="not a directory"):
        write_report(
            tmp_path / "taken", [ReportEntry("truth", result)], selection=ParticleSelection()
        )


def test_build_meta_path() -> None:
    assert build_meta_path("/x/sub.csv") == Path("/x/sub.build.json")
    assert build_meta_path("/x/sub.csv.gz") == Path("/x/sub.build.json")
