"""`tracknet build` through the real CLI entry point: output, and one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tracknet import cli
from tracknet.building.commands import build
from tracknet.events import Event
from tracknet.io.trackml import read_submission, write_event


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Call ``tracknet.cli.main`` with ``build`` registered as the CLI registers it."""
    names = {c.name for c in cli.app.registered_commands}
    if "build" not in names:
        monkeypatch.setattr(cli.app, "registered_commands", list(cli.app.registered_commands))
        cli.app.command("build")(build)

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            cli.main(list(args))
        out = capsys.readouterr()
        return int(info.value.code or 0), out.out, out.err

    return run


def test_build_writes_a_submission(
    run_cli, tmp_path: Path, test_event: Event, tiny_checkpoint: Path
) -> None:  # type: ignore[no-untyped-def]
    write_event(test_event, tmp_path / "data", parts=["hits"])
    out = tmp_path / "sub.csv"
    code, stdout, _ = run_cli(
        "build",
        "--checkpoint",
        str(tiny_checkpoint),
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(out),
        "--events",
        "7",
        "--no-progress",
        "--threads",
        "1",
        "--json",
    )
    assert code == 0, stdout
    assert '"n_events": 1' in stdout
    frame = read_submission(out)
    assert len(frame) == test_event.n_hits and frame.track_id.max() > 0
    code, stdout, _ = run_cli(
        "build",
        "--algorithm",
        "baseline",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "b.csv"),
        "--no-progress",
    )
    assert code == 0 and "baseline" in stdout and (tmp_path / "b.csv").is_file()


def test_bad_input_gives_one_line_and_no_file(
    run_cli, tmp_path: Path, test_event: Event, tiny_checkpoint: Path
) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    write_event(test_event, data, parts=["hits"])
    (tmp_path / "nohits").mkdir()
    (tmp_path / "nohits" / "notes.txt").write_text("nothing here")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"lr": 0.1}}, foreign)
    config = tmp_path / "config.json"
    config.write_text('{"beam_width": 0}')
    out = tmp_path / "sub.csv"
    cases = [
        (["--algorithm", "kalman", "--data-dir", str(data)], "unknown --algorithm"),
        (
            ["--checkpoint", str(foreign), "--data-dir", str(data)],
            "not a StepAhead TrackNET checkpoint",
        ),
        (
            ["--checkpoint", str(tmp_path / "none.ckpt"), "--data-dir", str(data)],
            "checkpoint file not found",
        ),
        (["--algorithm", "baseline", "--data-dir", str(tmp_path / "nohits")], "no TrackML events"),
        (["--algorithm", "baseline", "--data-dir", str(tmp_path / "absent")], "no such directory"),
        (["--algorithm", "baseline", "--data-dir", str(data), "--events", "1,x"], "--events"),
        (["--algorithm", "baseline", "--data-dir", str(data), "--events", "99"], "not found"),
        (
            ["--algorithm", "baseline", "--data-dir", str(data), "--config", str(config)],
            "beam_width",
        ),
        (["--data-dir", str(data)], "needs --checkpoint"),
    ]
    for args, message in cases:
        code, stdout, stderr = run_cli("build", "--out", str(out), "--no-progress", *args)
        assert code == 2, (args, stdout, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (
            args,
            stderr,
        )
        assert not out.exists()
