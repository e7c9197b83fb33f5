"""The straw command functions as the CLI runs them: outputs and one-line errors."""

from __future__ import annotations

from pathlib import Path

from tests.straw.helpers import assert_one_line_error, make_app, run
from tracknet.io.straw import StrawDataset, read_dataset_record
from tracknet.simulation.straw.commands import straw
from tracknet.viz.commands import display_straw

APP = make_app(simulate_straw=straw, display_straw=display_straw)


def test_simulate_straw_writes_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "straw"
    code, text = run(
        APP, "simulate", "straw", "--out", str(out), "--events", "300", "--seed", "5",
        "--tracks-mean", "3", "--tracks-max", "6", "--noise-rate", "0.002",
        "--crosstalk", "0.05", "--time-in-fill", "30", "--events-per-chunk", "128",
        "--no-progress",
    )  # fmt: skip
    assert code == 0, text
    record = read_dataset_record(out)
    assert record["seed"] == 5 and record["n_events"] == 300 and len(record["chunks"]) == 3
    config = record["parameters"]["config"]
    assert config["occupancy"]["mean"] == 3.0 and config["occupancy"]["time_in_fill_us"] == 30.0
    assert config["response"]["crosstalk"] == 0.05
    events = StrawDataset.open(out).read_all()
    assert events.events["n_tracks"].max() <= 6
    assert set(events.events["time_in_fill_us"]) == {30.0}
    code, text = run(
        APP,
        "simulate",
        "straw",
        "--out",
        str(tmp_path / "line"),
        "--events",
        "3",
        "--straight",
        "--no-progress",
    )
    assert (
        code == 0
        and read_dataset_record(tmp_path / "line")["parameters"]["config"]["gun"]["straight"]
        is True
    )

    code, text = run(
        APP,
        "display-straw",
        "--data-dir",
        str(out),
        "--event",
        "7",
        "--out",
        str(tmp_path / "e.png"),
        "--dpi",
        "30",
    )
    assert code == 0, text and (tmp_path / "e.png").is_file()
    code, text = run(
        APP, "display-straw", "--geometry-only", "--out", str(tmp_path / "g.png"), "--dpi", "30"
    )
    assert code == 0, text and (tmp_path / "g.png").is_file()


def test_errors_are_one_line(tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    sim = ("simulate", "straw", "--out", out, "--no-progress")
    assert_one_line_error(run(APP, *sim, "--events", "-1"), "--events")
    assert_one_line_error(
        run(APP, *sim, "--events", "5", "--noise-rate", "2"), "noise_rate must be <= 1.0, got 2"
    )
    assert_one_line_error(run(APP, *sim, "--events", "5", "--crosstalk", "-0.1"), "crosstalk")
    assert_one_line_error(
        run(APP, *sim, "--events", "5", "--tracks-min", "5", "--tracks-max", "2"), "min_tracks"
    )
    assert_one_line_error(
        run(APP, *sim, "--events", "5", "--distribution", "gauss"), "distribution"
    )
    assert_one_line_error(
        run(APP, *sim, "--events", "5", "--time-in-fill-max", "9"), "time_in_fill"
    )
    assert_one_line_error(run(APP, *sim, "--events", "5", "--seed", "-3"), "--seed")
    (tmp_path / "file").write_text("x")
    assert_one_line_error(
        run(APP, "simulate", "straw", "--out", str(tmp_path / "file"), "--events", "2"),
        "not a directory",
    )
    png = str(tmp_path / "x.png")
    assert_one_line_error(run(APP, "display-straw", "--out", png), "--data-dir and --event")
    assert_one_line_error(
        run(APP, "display-straw", "--out", str(tmp_path / "x.jpg"), "--geometry-only"), ".png"
    )
    assert_one_line_error(
        run(APP, "display-straw", "--data-dir", str(tmp_path), "--event", "1", "--out", png),
        "tracknet-dataset.json",
    )
    run(APP, *sim, "--events", "4")
    assert_one_line_error(
        run(APP, "display-straw", "--data-dir", out, "--event", "99", "--out", png),
        "not in the dataset",
    )
