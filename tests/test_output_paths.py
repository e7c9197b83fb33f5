"""An output that exists and is not a regular file is refused before any work (issue 18):
renaming a finished file over a device, FIFO or folder would destroy it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import make_small_event
from tracknet.errors import ConfigError
from tracknet.io.atomic import atomic_path, write_text_atomic
from tracknet.io.trackml import write_event

SUFFIX = {"build": ".csv", "module-map": ".npz", "density": ".npz", "display": ".html"}
COMMANDS = {
    "build": "build --data-dir {ev} --out {out} --algorithm baseline",
    "module-map": "module-map --data-dir {ev} --out {out} --min-pt 0.001",
    "density": "density --data-dir {ev} --output {out}",
    "display": "display --data-dir {ev} --event 1 --out {out}",
    "display-straw": "display-straw --geometry-only --out {out}",
}


@pytest.fixture
def events(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    write_event(make_small_event(event_id=1), root)
    return root


def _run(command: str, events: Path, out: Path) -> object:
    return invoke(*COMMANDS[command].format(ev=events, out=out).split())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_fifo_as_output_is_refused_and_stays_a_fifo(
    tmp_path: Path, events: Path, command: str
) -> None:
    name = "pipe" + SUFFIX.get(command, ".png")
    fifo = tmp_path / "out" / name
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    result = _run(command, events, fifo)
    assert_one_line_error(result, str(fifo), "not a regular file")  # type: ignore[arg-type]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in fifo.parent.iterdir()) == [name]  # no record beside it


@pytest.mark.parametrize("command", ["build", "density"])
def test_a_link_to_nothing_is_refused(tmp_path: Path, events: Path, command: str) -> None:
    link = tmp_path / "dangling.csv"
    link.symlink_to(tmp_path / "nowhere" / "s.csv")
    assert_one_line_error(_run(command, events, link), str(link), "link to nothing")  # type: ignore[arg-type]
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


def test_build_writes_through_a_link_to_a_regular_file(tmp_path: Path, events: Path) -> None:
    target = tmp_path / "kept" / "real.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    result = _run("build", events, link)
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link survives
    assert target.read_text().startswith("event_id,hit_id,track_id")


def test_the_atomic_writer_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in (fifo, folder):
        with pytest.raises(ConfigError, match="refusing to replace it"):
            write_text_atomic(path, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and folder.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]  # no temp left


def test_the_atomic_writer_replaces_the_target_of_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with atomic_path(link) as tmp:
        assert tmp.parent == target.parent
        tmp.write_text("new")
    assert link.is_symlink() and target.read_text() == "new"
