"""The overlay command function as the CLI runs it: straw and TrackML, one-line errors."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_small_event
from tests.straw.helpers import assert_one_line_error, make_app, run
from tracknet.augment.commands import overlay
from tracknet.io.straw import StrawDataset, read_dataset_record
from tracknet.io.trackml import list_events, write_event

APP = make_app(overlay=overlay)


def test_overlay_straw_and_trackml(
    tmp_path: Path, straw_source: Path, straw_background: Path
) -> None:
    out = tmp_path / "synthetic"
    code, text = run(
        APP, "overlay", "--source", str(straw_source), "--out", str(out),
        "--events", "50", "--tracks-per-event", "2", "--noise-rate", "0.002",
        "--crosstalk", "0.02", "--seed", "3", "--with-singles", "--no-progress",
    )  # fmt: skip
    assert code == 0, text
    assert "synthetic straw events" in text
    record = read_dataset_record(out)
    assert record["parameters"]["library"]["criteria"]["max_tracks"] == 1 and record["seed"] == 3
    assert len(StrawDataset.open(out)) == record["n_events"] > 50
    code, text = run(
        APP, "overlay", "--source", str(straw_source), "--out", str(tmp_path / "semi"),
        "--events", "5", "--tracks-per-event", "1", "--background", str(straw_background),
        "--no-progress",
    )  # fmt: skip
    assert code == 0, text and read_dataset_record(tmp_path / "semi")["kind"] == "semi-synthetic"
    source = tmp_path / "tml"
    write_event(make_small_event(event_id=3, n_particles=6), source)
    code, text = run(
        APP,
        "overlay",
        "--source",
        str(source),
        "--out",
        str(tmp_path / "t"),
        "--events",
        "3",
        "--tracks-per-event",
        "2",
        "--no-progress",
    )
    assert code == 0, text and len(list_events(tmp_path / "t")) == 3


def test_overlay_errors_are_one_line(tmp_path: Path, straw_source: Path) -> None:
    source = tmp_path / "tml"
    write_event(make_small_event(event_id=3), source)
    base = ("overlay", "--out", str(tmp_path / "o"), "--no-progress")
    assert_one_line_error(
        run(APP, *base, "--source", str(source), "--events", "2", "--tracks-per-event", "9"),
        "holds 4 track",
    )
    assert_one_line_error(
        run(APP, *base, "--source", str(source), "--events", "2", "--tracks-per-event", "0"),
        "--tracks-per-event",
    )
    assert_one_line_error(
        run(APP, *base, "--source", str(source), "--events", "-2", "--tracks-per-event", "1"),
        "--events",
    )
    assert_one_line_error(
        run(
            APP,
            *base,
            "--source",
            str(source),
            "--events",
            "2",
            "--tracks-per-event",
            "1",
            "--crosstalk",
            "0.1",
        ),
        "straw events only",
    )
    assert_one_line_error(
        run(
            APP,
            *base,
            "--source",
            str(source),
            "--events",
            "2",
            "--tracks-per-event",
            "1",
            "--background",
            str(straw_source),
        ),
        "background holds straw",
    )
    assert_one_line_error(
        run(
            APP,
            *base,
            "--source",
            str(tmp_path / "nope"),
            "--events",
            "2",
            "--tracks-per-event",
            "1",
        ),
        "no such directory",
    )
    assert_one_line_error(
        run(
            APP,
            *base,
            "--source",
            str(straw_source),
            "--events",
            "2",
            "--tracks-per-event",
            "1",
            "--noise-rate",
            "1.5",
        ),
        "noise_rate must be <= 1.0, got 1.5",
    )
    assert_one_line_error(
        run(
            APP,
            *base,
            "--source",
            str(straw_source),
            "--events",
            "2",
            "--tracks-per-event",
            "1",
            "--min-hits",
            "0",
        ),
        "min_hits",
    )
