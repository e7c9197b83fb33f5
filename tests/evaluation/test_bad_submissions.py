"""``tracknet evaluate`` on every kind of bad or poor submission, in process.

A bad submission (or option) is one line ``error: ...`` naming the file, column or
option, exit status 2 and no report left behind; a valid but poor one is evaluated.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import CliResult, assert_one_line_error, invoke
from tests.conftest import make_small_event, shared_path, truth_submission
from tracknet.io.trackml import write_event

EVENT_ID = 1
HEADER = "event_id,hit_id,track_id"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small events (ids 1 and 2) written as TrackML files."""
    root = tmp_path_factory.mktemp("data")
    for event_id in (EVENT_ID, 2):
        write_event(make_small_event(event_id=event_id, n_particles=6, n_noise=4), root)
    return root


def _rows(event_id: int = EVENT_ID) -> list[str]:
    sub = truth_submission(make_small_event(event_id=event_id, n_particles=6, n_noise=4))
    return [f"{e},{h},{t}" for e, h, t in sub.itertuples(index=False)]


def _text(rows: list[str], header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _replace(row: int, value: str) -> Callable[[], bytes]:
    """The perfect submission of event 1 with the track_id of ``row`` set to ``value``."""

    def make() -> bytes:
        rows = _rows()
        rows[row] = rows[row].rsplit(",", 1)[0] + "," + value
        return _text(rows)

    return make


def _evaluate(data_dir: Path, submission: Path, *options: str) -> CliResult:
    return invoke(
        "evaluate", "--data-dir", str(data_dir), "--submission", str(submission), *options
    )


def _summary(result: CliResult) -> dict[str, float | int | None]:
    assert result.code == 0, result.err
    summary: dict[str, float | int | None] = json.loads(result.out)
    return summary


#: name -> (the file's bytes, fragments the error line must hold besides the file name).
BAD_FILES: dict[str, tuple[Callable[[], bytes], tuple[str, ...]]] = {
    "missing track_id column": (
        lambda: _text([r.rsplit(",", 1)[0] for r in _rows()], "event_id,hit_id"),
        ("column 'track_id'", "missing column"),
    ),
    "missing event_id column": (
        lambda: _text([r.split(",", 1)[1] for r in _rows()], "hit_id,track_id"),
        ("column 'event_id'", "missing column"),
    ),
    "column twice": (
        lambda: _text([r + ",1" for r in _rows()], HEADER + ",track_id"),
        ("column 'track_id'", "twice"),
    ),
    "hit absent from the event": (
        lambda: _text([*_rows(), f"{EVENT_ID},999999,1"]),
        ("column 'hit_id'", "row 34", "hit_id 999999 is not a hit of event 1"),
    ),
    "hit of another event": (
        # Event 2 has hits 1..34 only; hit 33 of event 1 exists, 40 exists nowhere.
        lambda: _text([*_rows(), *_rows(2)[:-1], "2,40,1"]),
        ("column 'hit_id'", "row 67", "hit_id 40 is not a hit of event 2"),
    ),
    "duplicate hit": (
        lambda: _text([*_rows(), _rows()[3]]),
        ("column 'hit_id'", "row 34", "appears twice in event 1"),
    ),
    "negative track id": (_replace(5, "-3"), ("column 'track_id'", "row 5", ">= 0", "-3")),
    "float track id": (_replace(5, "1.5"), ("column 'track_id'", "row 5", "found '1.5'")),
    "integral float track id": (_replace(5, "2.0"), ("row 5", "expected an integer")),
    "text track id": (_replace(5, "abc"), ("column 'track_id'", "row 5", "found 'abc'")),
    "track id beyond int64": (
        _replace(7, str(2**63)),
        ("column 'track_id'", "row 7", "does not fit in int64"),
    ),
    "track id below int64": (
        _replace(7, str(-(2**63) - 1)),
        ("column 'track_id'", "row 7", "does not fit in int64"),
    ),
    "NaN track id": (_replace(2, "nan"), ("column 'track_id'", "row 2", "found 'nan'")),
    "empty track id": (_replace(2, ""), ("column 'track_id'", "row 2", "missing value")),
    "NaN hit id": (
        lambda: _text([*_rows()[:4], f"{EVENT_ID},nan,1", *_rows()[5:]]),
        ("column 'hit_id'", "row 4", "found 'nan'"),
    ),
    "empty file": (lambda: b"", ("file is empty",)),
    "header only": (lambda: _text([]), ("has no rows",)),
    "event absent from the data dir": (
        lambda: _text([*_rows(), "77,1,1"]),
        ("column 'event_id'", "[77]", "not in"),
    ),
    "an uncovered hit": (
        lambda: _text(_rows()[:-1]),
        ("column 'hit_id'", "event 1: 1 of its 34 hits have no row", "hit_id 34"),
    ),
    "binary garbage": (
        lambda: bytes(np.random.default_rng(5).integers(128, 256, 4000, dtype=np.uint8)),
        ("not a CSV text file",),
    ),
    "NUL bytes": (lambda: b"\x00" * 64, ("not a CSV text file",)),
    "truncated gzip": (lambda: gzip.compress(_text(_rows()))[:60], ("cannot read file",)),
    "a row too long": (
        lambda: _text([*_rows()[:3], f"{EVENT_ID},4,1,9", *_rows()[4:]]),
        ("cannot parse file", "Expected 3 columns"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_submission_file_is_one_line(data_dir: Path, tmp_path: Path, case: str) -> None:
    content, fragments = BAD_FILES[case]
    path = tmp_path / "sub.csv"
    path.write_bytes(content())
    report = tmp_path / "report"
    result = _evaluate(data_dir, path, "--report", str(report))
    assert_one_line_error(result, f"error: {path}", *fragments)
    assert not report.exists()


def test_a_directory_or_a_missing_file_as_submission(data_dir: Path, tmp_path: Path) -> None:
    assert_one_line_error(_evaluate(data_dir, tmp_path), str(tmp_path), "is a directory")
    missing = tmp_path / "none.csv"
    assert_one_line_error(_evaluate(data_dir, missing), str(missing), "file not found")


@pytest.mark.parametrize(
    ("option", "value", "fragments"),
    [
        ("--min-hits", "-1", ("--min-hits", "min_hits must be >= 0", "-1")),
        ("--min-pt", "nan", ("--min-pt", "finite", "nan")),
        ("--min-pt", "-0.5", ("--min-pt", ">= 0")),
        ("--max-eta", "-1", ("--max-eta", ">= 0", "-1")),
        ("--max-eta", "nan", ("--max-eta", "nan")),
        ("--max-pt", "-1", ("--max-pt", ">= 0", "-1")),
        ("--max-pt", "0", ("--max-pt", "above", "min_pt")),
        ("--min-track-hits", "0", ("--min-track-hits", ">= 1", "0")),
    ],
)
def test_bad_option_values_name_the_option(
    data_dir: Path, tmp_path: Path, option: str, value: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "sub.csv"
    path.write_bytes(_text(_rows()))
    report = tmp_path / "report"
    result = _evaluate(data_dir, path, option, value, "--report", str(report))
    assert_one_line_error(result, *fragments)
    assert not report.exists()


def test_max_pt_below_min_pt_names_both(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    path.write_bytes(_text(_rows()))
    result = _evaluate(data_dir, path, "--min-pt", "1", "--max-pt", "0.5")
    assert_one_line_error(result, "--max-pt", "above --min-pt", "0.5")


def test_a_pt_band_splits_the_selection(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    path.write_bytes(_text(_rows()))
    # Every particle of the small event has pT 2 GeV.
    every = _summary(_evaluate(data_dir, path, "--json"))["n_particles"]
    assert every == 6
    assert _summary(_evaluate(data_dir, path, "--max-pt", "1.9", "--json"))["n_particles"] == 0
    assert _summary(_evaluate(data_dir, path, "--max-pt", "2.1", "--json"))["n_particles"] == 6
    assert (
        _summary(_evaluate(data_dir, path, "--min-pt", "1.9", "--max-pt", "2.1", "--json"))[
            "n_particles"
        ]
        == 6
    )


def test_report_into_a_file_or_under_a_missing_folder(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sub.csv"
    path.write_bytes(_text(_rows()))
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    result = _evaluate(data_dir, path, "--report", str(taken))
    assert_one_line_error(result, str(taken), "not a directory")
    assert taken.read_text() == "keep me"
    deep = tmp_path / "no" / "such" / "report"
    result = _evaluate(data_dir, path, "--report", str(deep))
    assert_one_line_error(result, str(deep), "does not exist")
    assert not (tmp_path / "no").exists()
    under_file = taken / "report"
    assert_one_line_error(_evaluate(data_dir, path, "--report", str(under_file)), "not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.csv", "taken"]


def test_extra_columns_and_column_order_are_ignored(data_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(_text(_rows()))
    extra = tmp_path / "extra.csv"
    extra.write_bytes(
        _text([f"{t},x,{e},{h},0.5" for e, h, t in (r.split(",") for r in _rows())],
              "track_id,comment,event_id,hit_id,score")
    )  # fmt: skip
    expected = _summary(_evaluate(data_dir, plain, "--json"))
    assert expected["trackml_score"] == 1.0
    assert _summary(_evaluate(data_dir, extra, "--json")) == expected


def test_compressed_submissions_read_like_plain_ones(data_dir: Path, tmp_path: Path) -> None:
    rows = _rows()
    rows[0] = rows[0].rsplit(",", 1)[0] + ",0"  # not a perfect score: a real comparison
    content = _text(rows)
    plain = tmp_path / "plain.csv"
    plain.write_bytes(content)
    expected = _summary(_evaluate(data_dir, plain, "--json"))
    named = {
        "sub.csv.gz": gzip.compress(content),  # gzip, named so
        "gzip-inside.csv": gzip.compress(content),  # gzip bytes under a .csv name
        "plain-inside.csv.gz": content,  # text under a .csv.gz name
        "bom.csv": b"\xef\xbb\xbf" + content,  # a UTF-8 byte-order mark
        "crlf.csv": content.replace(b"\n", b"\r\n"),
        "spaces.csv": content.replace(b",", b", ", 2),  # "event_id, hit_id, track_id"
    }
    for name, data in named.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert _summary(_evaluate(data_dir, path, "--json")) == expected, name


def test_events_the_submission_does_not_name_are_left_out_with_a_note(
    data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "sub.csv"
    path.write_bytes(_text(_rows(2)))
    result = _evaluate(data_dir, path, "--json")
    summary = _summary(result)
    assert summary["n_events"] == 1 and summary["trackml_score"] == 1.0
    assert summary["n_events_missing"] == 1  # in the JSON too, for scripts
    assert result.err_lines == [
        f"note: evaluated the 1 event(s) that {path} names; 1 other event(s) of {data_dir} "
        "are not in it: [1]"
    ]
    both = tmp_path / "both.csv"
    both.write_bytes(_text([*_rows(), *_rows(2)]))
    result = _evaluate(data_dir, both, "--json")
    assert _summary(result)["n_events"] == 2 and result.err == ""
    assert _summary(result)["n_events_missing"] == 0


def _assert_consistent(summary: dict[str, float | int | None]) -> None:
    """The rates are the ratios of the counts beside them."""
    score = summary["trackml_score"]
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    n = {k: int(v) for k, v in summary.items() if k.startswith("n_") and v is not None}
    if n["n_particles"]:
        assert summary["efficiency"] == pytest.approx(n["n_found"] / n["n_particles"])
        assert summary["perfect_efficiency"] == pytest.approx(n["n_perfect"] / n["n_particles"])
    else:
        assert summary["efficiency"] is None and summary["perfect_efficiency"] is None
    fake, dup = summary["fake_rate"], summary["duplicate_rate"]
    assert fake == (pytest.approx(n["n_fake"] / n["n_tracks"]) if n["n_tracks"] else 0.0)
    assert dup == (pytest.approx(n["n_duplicate"] / n["n_matched"]) if n["n_matched"] else 0.0)
    assert 0 <= n["n_perfect"] <= n["n_found"] <= n["n_particles"]
    assert 0 <= n["n_fake"] <= n["n_tracks"] and 0 <= n["n_duplicate"] <= n["n_matched"]


POOR: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "random ids 0..299": lambda pid, rng: rng.integers(0, 300, pid.size),
    "every track_id 0": lambda pid, rng: np.zeros(pid.size, dtype=np.int64),
    "one giant track": lambda pid, rng: np.ones(pid.size, dtype=np.int64),
    "every hit its own track": lambda pid, rng: np.arange(1, pid.size + 1),
    "huge track ids": lambda pid, rng: np.full(pid.size, 2**63 - 1, dtype=np.int64),
}


@pytest.mark.parametrize("case", list(POOR))
def test_poor_submissions_are_evaluated_not_crashed(
    data_dir: Path, tmp_path: Path, case: str
) -> None:
    event = make_small_event(event_id=EVENT_ID, n_particles=6, n_noise=4)
    sub = truth_submission(event)
    sub["track_id"] = POOR[case](event.particle_ids(), np.random.default_rng(3))
    path = tmp_path / "sub.csv"
    sub.to_csv(path, index=False)
    report = tmp_path / "report"
    summary = _summary(_evaluate(data_dir, path, "--json", "--report", str(report)))
    _assert_consistent(summary)
    assert summary["n_found"] == 0 and summary["trackml_score"] == 0.0
    assert (report / "report.md").is_file() and (report / "metrics.json").is_file()


REAL = ("event1000-barrel", "ez-0.2")


@pytest.mark.parametrize("case", ["random ids 0..299", "every track_id 0", "one giant track"])
def test_poor_submissions_on_the_real_event(tmp_path: Path, case: str) -> None:
    """The reported crash: ez-0.2 with random track ids 0..299 ended in an IndexError."""
    directory = shared_path(*REAL)
    hits = pd.read_csv(directory / "event000001000-hits.csv", usecols=["hit_id"])
    track = POOR[case](hits["hit_id"].to_numpy(), np.random.default_rng(0))
    path = tmp_path / "sub.csv"
    pd.DataFrame({"event_id": 1000, "hit_id": hits["hit_id"], "track_id": track}).to_csv(
        path, index=False
    )
    summary = _summary(_evaluate(directory, path, "--json"))
    _assert_consistent(summary)
    assert summary["trackml_score"] is not None and summary["trackml_score"] < 0.01
    assert summary["n_particles"] and summary["efficiency"] == 0.0


@pytest.fixture(scope="module")
def straw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tracknet.io.straw import write_straw_dataset
    from tracknet.simulation.straw import StrawConfig, iter_straw_batches

    directory = tmp_path_factory.mktemp("straw")
    config = StrawConfig()
    write_straw_dataset(
        iter_straw_batches(config, 12, 4, events_per_batch=12),
        directory,
        kind="straw",
        parameters={"config": config.to_dict()},
        seed=4,
        generator="test",
    )
    return directory


def _straw_submission(directory: Path) -> pd.DataFrame:
    from tracknet.io.straw import StrawDataset

    h = StrawDataset.open(directory).read_all().hits
    pid = h["particle_id"]
    return pd.DataFrame(
        {"event_id": h["event_id"], "hit_id": h["hit_id"], "track_id": np.where(pid > 0, pid, 0)}
    )


@pytest.mark.parametrize("case", list(POOR))
def test_poor_submissions_on_a_straw_dataset(straw_dir: Path, tmp_path: Path, case: str) -> None:
    sub = _straw_submission(straw_dir)
    sub["track_id"] = POOR[case](sub["track_id"].to_numpy(), np.random.default_rng(1))
    path = tmp_path / "sub.csv"
    sub.to_csv(path, index=False)
    result = _evaluate(straw_dir, path, "--json", "--report", str(tmp_path / "r"))
    summary = _summary(result)
    _assert_consistent(summary)
    # Every event with hits is named; one without hits cannot be, and is not noted.
    assert summary["n_events"] == sub["event_id"].nunique() and result.err == ""
    for key in ("found_fraction", "split_fraction"):
        value = summary[key]
        assert value is None or 0.0 <= float(value) <= 1.0
    assert 0.0 <= float(summary["wrong_hit_fraction"] or 0.0) <= 1.0


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("uncovered", ("column 'hit_id'", "hits have no row")),
        ("foreign hit", ("column 'hit_id'", "is not a hit of event")),
        ("negative", ("column 'track_id'", ">= 0")),
        ("absent event", ("column 'event_id'", "[999]")),
    ],
)
def test_bad_submissions_on_a_straw_dataset(
    straw_dir: Path, tmp_path: Path, case: str, fragments: tuple[str, ...]
) -> None:
    sub = _straw_submission(straw_dir)
    if case == "uncovered":
        sub = sub.iloc[1:]
    elif case == "foreign hit":
        sub.loc[len(sub) - 1, "hit_id"] = 10**9
    elif case == "negative":
        sub.loc[3, "track_id"] = -1
    else:
        sub.loc[len(sub)] = (999, 1, 1)
    path = tmp_path / "sub.csv"
    sub.to_csv(path, index=False)
    assert_one_line_error(_evaluate(straw_dir, path), f"error: {path}", *fragments)


def test_poor_summary_rates_are_finite_or_null(data_dir: Path, tmp_path: Path) -> None:
    """No rate is NaN or infinite in the JSON: NaN is written null."""
    path = tmp_path / "sub.csv"
    path.write_bytes(_text([r.rsplit(",", 1)[0] + ",0" for r in _rows()]))
    summary = _summary(_evaluate(data_dir, path, "--json", "--min-pt", "1000"))
    assert summary["n_particles"] == 0 and summary["efficiency"] is None
    assert all(v is None or math.isfinite(float(v)) for v in summary.values())
