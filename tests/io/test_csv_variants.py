"""CSV files as spreadsheets and other tools write them (quoted names and values, a
byte-order mark, spaces around the names, CRLF) read as the plain file (issue 18)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import make_small_event
from tracknet.events import SUBMISSION_SCHEMA
from tracknet.io.trackml import read_part, read_submission, write_event, write_submission


def _quote(line: str) -> str:
    return ",".join(f'"{field}"' for field in line.split(","))


def _bom(lines: list[str]) -> list[str]:
    return ["\ufeff" + lines[0], *lines[1:]]


def _header(change: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda lines: [change(lines[0]), *lines[1:]]


VARIANTS: dict[str, tuple[Callable[[list[str]], list[str]], str]] = {
    "quoted-header": (_header(_quote), "\n"),
    "bom": (_bom, "\n"),
    "spaces-after-commas": (_header(lambda h: h.replace(",", ", ")), "\n"),
    "spaces-around-names": (_header(lambda h: " " + h.replace(",", " , ") + " "), "\n"),
    "quoted-values": (lambda lines: [_quote(line) for line in lines], "\n"),
    "quoted-values-after-spaces": (
        lambda lines: [_quote(line).replace(",", ", ") for line in lines],
        "\n",
    ),
    "crlf": (lambda lines: lines, "\r\n"),
    "all-together": (
        lambda lines: _bom([" " + _quote(line).replace(",", ", ") + " " for line in lines]),
        "\r\n",
    ),
    "quoted-spaced-header-bom-crlf": (
        lambda lines: _bom([_quote(lines[0]).replace(",", ", "), *map(_quote, lines[1:])]),
        "\r\n",
    ),
}


def _rewrite(path: Path, variant: str) -> None:
    change, newline = VARIANTS[variant]
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_bytes(newline.join(change(lines)).encode("utf-8") + newline.encode())


def _event_dir(root: Path) -> Path:
    event = make_small_event(event_id=7)
    write_event(event, root)
    truth = event.truth
    assert truth is not None
    track = truth.particle_id.rank(method="dense").astype("int64")
    submission = pd.DataFrame(
        {"event_id": 7, "hit_id": truth.hit_id, "track_id": track.where(truth.particle_id > 0, 0)}
    )
    write_submission(submission, root / "submission.csv")
    return root


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _event_dir(tmp_path_factory.mktemp("plain"))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_reads_as_the_plain_file(tmp_path: Path, plain: Path, variant: str) -> None:
    root = _event_dir(tmp_path)
    for name in ("hits", "truth", "particles"):
        _rewrite(root / f"event000000007-{name}.csv", variant)
    _rewrite(root / "submission.csv", variant)
    assert "\ufeff" not in (root / "submission.csv").read_text(encoding="utf-8-sig")
    for name in ("hits", "truth", "particles"):
        got, want = (
            read_part(root / "event000000007", name),
            read_part(plain / "event000000007", name),
        )
        pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(
        read_submission(root / "submission.csv"), read_submission(plain / "submission.csv")
    )
    for args in (
        ("info", "--json", "{}/event000000007"),
        ("evaluate", "--data-dir", "{}", "--submission", "{}/submission.csv"),
    ):
        got_cli = invoke(*(a.format(root) for a in args))
        want_cli = invoke(*(a.format(plain) for a in args))
        assert got_cli.code == want_cli.code == 0, got_cli.err
        assert got_cli.err == want_cli.err == ""
        assert got_cli.out.replace(str(root), "DIR") == want_cli.out.replace(str(plain), "DIR")


@pytest.mark.parametrize("variant", ["quoted-header", "bom", "spaces-around-names"])
@pytest.mark.parametrize("part", ["hits", "truth", "particles", "submission"])
def test_a_missing_column_is_still_named(tmp_path: Path, variant: str, part: str) -> None:
    root = _event_dir(tmp_path)
    path = root / ("submission.csv" if part == "submission" else f"event000000007-{part}.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    gone = header[1]
    path.write_text(
        "\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != 1) for line in lines)
        + "\n",
        encoding="utf-8",
    )
    _rewrite(path, variant)
    if part == "submission":
        assert gone in SUBMISSION_SCHEMA
        result = invoke("evaluate", "--data-dir", str(root), "--submission", str(path))
    else:
        result = invoke("info", str(root / "event000000007"))
    assert_one_line_error(result, path.name, f"column '{gone}'", "missing column")


def test_a_bad_value_among_spaced_quotes_is_still_named(tmp_path: Path) -> None:
    root = _event_dir(tmp_path)
    path = root / "submission.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",x1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _rewrite(path, "quoted-values-after-spaces")
    result = invoke("evaluate", "--data-dir", str(root), "--submission", str(path))
    assert_one_line_error(result, "column 'track_id', row 2", "expected an integer", "x1")
