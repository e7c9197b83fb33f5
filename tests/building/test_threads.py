"""The same submission whatever the number of CPU threads (``build --threads``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import invoke


@pytest.fixture(scope="module")
def dense_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two barrel events dense enough that the model steps run on batches of thousands."""
    out = tmp_path_factory.mktemp("threads") / "events"
    args = ["--events", "2", "--particles", "3000", "--volumes", "8,13,17", "--seed", "5"]
    assert invoke("simulate", "trackml", "--out", str(out), *args, "--no-progress").code == 0
    return out


@pytest.mark.parametrize("algorithm", ["tracknet", "baseline"])
def test_one_and_two_threads_give_identical_submissions(
    dense_events: Path, tiny_checkpoint: Path, tmp_path: Path, algorithm: str
) -> None:
    written = []
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}.csv"
        args = ["--data-dir", str(dense_events), "--out", str(out), "--algorithm", algorithm]
        if algorithm == "tracknet":
            args += ["--checkpoint", str(tiny_checkpoint)]
        result = invoke("build", *args, "--threads", str(threads), "--no-progress")
        assert result.code == 0, result.err
        written.append(out.read_bytes())
    assert written[0] == written[1]
    assert written[0].count(b"\n") > 1000  # every hit of both events, not an empty file
