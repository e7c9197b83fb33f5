"""Per-event work in worker processes and on a Dask cluster: the same outputs, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracknet.errors import ConfigError, DataError
from tracknet.parallel import Workers, machine_cores, run_ordered, worker_threads


def _slow_square(k: int) -> int:
    """Later items finish first, so results in order prove the ordering."""
    time.sleep(0.02 * (5 - k % 5))
    return k * k


def _fails_on_three(k: int) -> int:
    if k == 3:
        raise DataError("bad event", file=f"event{k}")
    return k


def _fails_while_another_runs(job: tuple[int, str]) -> int:
    """Item 0 fails once item 1 runs; item 1 would sleep for a minute, and notes its
    unwinding."""
    k, folder = job
    if k == 0:
        while not os.path.exists(os.path.join(folder, "started-1")):
            time.sleep(0.01)
        raise DataError("bad event", file="event0")
    if k == 1:
        Path(folder, "started-1").touch()
        try:
            time.sleep(60)
        finally:
            Path(folder, "unwound-1").touch()
    return k


def _threads(_: int) -> tuple[str | None, int]:
    import torch

    return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def tracknet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tracknet", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return done


@pytest.mark.parametrize("n", [1, 2])
def test_results_come_in_the_order_of_the_items(n: int) -> None:
    items = list(range(10))
    assert list(run_ordered(_slow_square, items, Workers(n))) == [k * k for k in items]


def test_an_error_in_a_worker_is_raised_with_its_message() -> None:
    with pytest.raises(DataError, match="event3: bad event"):
        list(run_ordered(_fails_on_three, list(range(8)), Workers(2)))


def test_an_error_stops_the_running_tasks_and_leaves_no_worker_behind(tmp_path: Path) -> None:
    """The running task unwinds (its finally block runs) and its worker ends, at once: a
    worker left waiting would keep the interpreter from exiting."""
    import multiprocessing

    before = set(multiprocessing.active_children())
    started = time.monotonic()
    with pytest.raises(DataError, match="event0: bad event"):
        list(
            run_ordered(
                _fails_while_another_runs, [(k, str(tmp_path)) for k in range(4)], Workers(2)
            )
        )
    assert time.monotonic() - started < 30  # not the minute the running task would take
    assert (tmp_path / "unwound-1").exists()
    assert set(multiprocessing.active_children()) <= before


def test_workers_share_the_cores_without_oversubscription() -> None:
    threads = worker_threads(2)
    assert threads == max(1, machine_cores() // 2)
    got = list(run_ordered(_threads, [0, 1, 2], Workers(2), preload=("torch",)))
    assert got == [(str(threads), threads)] * 3


def test_the_default_is_one_worker_per_core_and_bad_counts_are_refused() -> None:
    assert Workers.of(None).n == machine_cores()
    for bad in (0, -1, 10_000):
        with pytest.raises(ConfigError, match="--workers"):
            Workers.of(bad)


@pytest.mark.slow
def test_simulate_build_evaluate_overlay_give_the_same_bytes_on_one_two_workers_and_a_cluster(
    tmp_path: Path,
) -> None:
    distributed = pytest.importorskip("distributed")
    sim = ["simulate", "trackml", "--events", "4", "--particles", "1500", "--seed", "8"]
    outs = {}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        engines = {
            "one": ["--workers", "1"],
            "two": ["--workers", "2"],
            "dask": ["--scheduler", cluster.scheduler_address],
        }
        for name, engine in engines.items():
            data = tmp_path / f"data-{name}"
            done = tracknet(*sim, "--out", str(data), *engine)
            assert done.returncode == 0, done.stderr
            sub = tmp_path / f"sub-{name}.csv"
            args = ["--data-dir", str(data), "--out", str(sub), "--algorithm", "baseline"]
            done = tracknet("build", *args, *engine)
            assert done.returncode == 0, done.stderr
            score = ["--data-dir", str(data), "--submission", str(sub), "--json"]
            scored = tracknet("evaluate", *score, *engine)
            assert scored.returncode == 0, scored.stderr
            mixed = tmp_path / f"overlay-{name}"
            # One source for all: the record names it.
            source = tmp_path / "data-one"
            mix = ["--source", str(source), "--out", str(mixed), "--events", "6"]
            done = tracknet("overlay", *mix, "--tracks-per-event", "20", "--seed", "3", *engine)
            assert done.returncode == 0, done.stderr
            outs[name] = (digests(data), sub.read_bytes(), scored.stdout, digests(mixed))
    assert outs["one"] == outs["two"] == outs["dask"]
    assert len(outs["one"][0]) == 4 * 3 + 1  # hits, truth, particles per event, the record
    events = {
        f"event{i:09d}-{part}.csv" for i in range(6) for part in ("hits", "truth", "particles")
    }
    assert set(outs["one"][3]) == events | {"overlay-provenance.csv", "tracknet-dataset.json"}
    assert json.loads(outs["one"][2])["n_events"] == 4


def test_workers_and_scheduler_errors_are_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "events"
    base = ["simulate", "trackml", "--out", str(out), "--events", "2", "--particles", "50"]
    done = tracknet(*base, "--workers", "0")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: --workers must be a positive integer, got 0"
    ]
    done = tracknet(*base, "--scheduler", "tcp://127.0.0.1:9")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert not out.exists() and not (tmp_path / ".events.partial").exists()
