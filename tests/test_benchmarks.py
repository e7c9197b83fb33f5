"""Smoke test of the whole-event benchmark: its quick mode prints the one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_full_event_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "full_event.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench_full_event.py",
            "--quick",
            "--algorithms",
            "baseline",
            "--particles",
            "300",
            "--out",
            str(out),
        ],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        check=True,
    )
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    written = json.loads(out.read_text())
    assert printed["benchmark"] == "full_event"
    assert written["simulated"] == printed["simulated"]
    assert printed["model"] is None and "real" not in printed
    assert printed["simulate_one_event"]["seconds_per_event"] > 0
    targets = printed["simulated"]["baseline"]["targets"]
    assert set(targets) == {
        "trackml_score",
        "efficiency_pt_ge_1",
        "efficiency_pt_0.3_to_1",
        "perfect_efficiency_pt_ge_1",
        "fake_rate",
        "duplicate_rate",
        "seconds_per_event",
        "build_over_simulate",
    }
    for figure in targets.values():
        assert set(figure) == {"value", "target", "pass"} and isinstance(figure["pass"], bool)
    assert isinstance(printed["all_targets_pass"], bool)
