"""The command line as a user meets it: exit codes and one-line errors, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import make_small_event
from tracknet.io.trackml import write_event


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracknet", *args], capture_output=True, text=True, cwd=cwd, timeout=300
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
