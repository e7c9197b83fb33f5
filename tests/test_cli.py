"""The command line as a user meets it: exit codes and one-line errors, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_small_event
from tracknet.io.trackml import write_event


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracknet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("info", "evaluate", "simulate"):
        assert command in result.stdout


def test_info_reads_an_event(tmp_path: Path) -> None:
    write_event(make_small_event(event_id=9), tmp_path)
    result = run_cli("info", str(tmp_path / "event000000009"), "--json")
    assert result.returncode == 0, result.stderr
    assert '"n_hits": 23' in result.stdout


def test_bad_hits_files_give_one_line(tmp_path: Path) -> None:
    cases = {
        "dropped": lambda f: f.drop(columns=["y"]),
        "nan": lambda f: f.assign(z=f.z.where(f.index != 4)),
        "dup": lambda f: f.assign(hit_id=f.hit_id.where(f.index != 6, f.hit_id.iloc[2])),
    }
    expected = {
        "dropped": ("column 'y'", "missing column"),
        "nan": ("column 'z'", "row 4"),
        "dup": ("column 'hit_id'", "row 6", "duplicate"),
    }
    for name, corrupt in cases.items():
        directory = tmp_path / name
        write_event(make_small_event(event_id=1), directory)
        hits = directory / "event000000001-hits.csv"
        corrupt(pd.read_csv(hits)).to_csv(hits, index=False)
        result = run_cli("info", str(directory / "event000000001"))
        assert_one_line_error(result, str(hits), *expected[name])


def test_evaluate_json_on_real_event_perfect_and_bad_rows(tmp_path: Path) -> None:
    from tests.conftest import shared_path

    directory = shared_path("event1000-barrel", "ez-0.1")
    truth = pd.read_csv(directory / "event000001000-truth.csv")
    perfect = pd.DataFrame(
        {"event_id": 1000, "hit_id": truth.hit_id, "track_id": truth.particle_id}
    )
    perfect.to_csv(tmp_path / "perfect.csv", index=False)
    result = run_cli(
        "evaluate",
        "--data-dir",
        str(directory),
        "--submission",
        str(tmp_path / "perfect.csv"),
        "--json",
        "--min-pt",
        "1",
    )
    assert result.returncode == 0, result.stderr
    import json

    summary = json.loads(result.stdout)
    for key in (
        "trackml_score",
        "efficiency",
        "perfect_efficiency",
        "fake_rate",
        "duplicate_rate",
        "n_events",
        "n_particles",
        "n_tracks",
    ):
        assert key in summary
    assert summary["trackml_score"] == 1.0
    assert summary["trackml_score_min_pt"] == 1.0
    assert summary["efficiency"] == 1.0 and summary["fake_rate"] == 0.0

    bad = perfect.copy()
    bad.loc[7, "hit_id"] = 10**9
    bad.to_csv(tmp_path / "bad.csv", index=False)
    result = run_cli(
        "evaluate", "--data-dir", str(directory), "--submission", str(tmp_path / "bad.csv")
    )
    assert_one_line_error(result, "hit_id")

    perfect.drop(columns=["track_id"]).to_csv(tmp_path / "nocol.csv", index=False)
    result = run_cli(
        "evaluate", "--data-dir", str(directory), "--submission", str(tmp_path / "nocol.csv")
    )
    assert_one_line_error(result, "nocol.csv", "column 'track_id'", "missing column")


def test_simulate_is_byte_identical_and_readable(tmp_path: Path) -> None:
    from tracknet.io.trackml import iter_events

    args = (
        "simulate",
        "trackml",
        "--events",
        "2",
        "--seed",
        "5",
        "--particles",
        "300",
        "--no-progress",
    )
    first = run_cli(*args, "--out", str(tmp_path / "a"))
    second = run_cli(*args, "--out", str(tmp_path / "b"))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    names_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names_a == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert "tracknet-simulation.json" in names_a
    for name in names_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    events = list(iter_events(tmp_path / "a"))
    assert [e.event_id for e in events] == [1, 2]

    result = run_cli(
        "simulate", "trackml", "--out", str(tmp_path / "a" / names_a[0]), "--events", "1"
    )
    assert_one_line_error(result, "not a directory")
    result = run_cli(
        "simulate", "trackml", "--out", str(tmp_path / "c"), "--events", "1", "--field", "0"
    )
    assert_one_line_error(result, "field")
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = run_cli(
        "demo",
        "--out",
        str(tmp_path / "demo"),
        "--epochs",
        "1",
        "--train-events",
        "6",
        "--test-events",
        "1",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = (tmp_path / "demo" / "report" / "report.md").read_text()
    assert "| metric | TrackNET | baseline |" in report
    assert "Build time per event (s)" in report
    for name in (
        "efficiency_pt.png",
        "efficiency_eta.png",
        "fake_duplicate_eta.png",
        "event_display.html",
    ):
        assert (tmp_path / "demo" / "report" / name).is_file()
    import json

    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert set(summary["algorithms"]) == {"TrackNET", "baseline"}
    assert "report:" in result.stdout


def test_info_accepts_a_file_in_a_dashed_directory(tmp_path: Path) -> None:
    directory = tmp_path / "ez-0.1"
    write_event(make_small_event(event_id=9), directory)
    result = run_cli("info", str(directory / "event000000009-hits.csv"), "--json")
    assert result.returncode == 0, result.stderr
    assert '"event_id": 9' in result.stdout


def test_every_command_is_registered_once_in_help_order() -> None:
    from tracknet import cli
    from tracknet.training.__main__ import app as training_app

    assert [c.name for c in cli.app.registered_commands] == list(cli.HELP_ORDER)
    assert [g.name for g in cli.app.registered_groups] == ["simulate"]
    training = [c.name for c in training_app.registered_commands]
    assert training == ["train", "validate", "density", "export"]


def test_training_on_data_without_truth_is_one_line_before_any_lightning_message(
    tmp_path: Path,
) -> None:
    # A subprocess: Lightning's start-up messages go to the process's own stderr, which an
    # in-process run does not capture; they must not come before the error line.
    data = tmp_path / "hits_only"
    for event_id in (1, 2):
        write_event(make_small_event(event_id=event_id), data)
        for part in ("truth", "particles"):
            (data / f"event{event_id:09d}-{part}.csv").unlink()
    result = run_cli(
        "train", "experiment=trackml", f"data.dir={data}", f"run.output_dir={tmp_path / 'run'}",
        f"data.cache_dir={tmp_path / 'cache'}",
    )  # fmt: skip
    assert_one_line_error(result, "event000000001", "no truth")
    assert not (tmp_path / "run").exists()
