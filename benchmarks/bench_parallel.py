"""Events per second of ``simulate trackml``, ``build`` and the track cache with 1 and N workers.

Prints one JSON line: for each command, the wall time of the whole run (commands as a user
runs them, pool start included) with ``--workers 1`` and ``--workers N`` on the same full
events in the same run, the speed-up, and whether the outputs are byte-identical. Target
(2 workers on a 2-core machine): a speed-up of at least 1.7 for both. ``prepare_tracks``
times :func:`tracknet.data.cache.prepare_events` (the track cache of training) on the
simulated events the same way, in this process (no target: it is a small part of training).

Usage: ``python benchmarks/bench_parallel.py [--events N] [--build-events N] [--workers N]
[--algorithm baseline] [--checkpoint CKPT] [--quick]``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit
from tracknet.data.cache import PrepSettings, prepare_events
from tracknet.io.trackml import list_events
from tracknet.parallel import Workers

TARGET_SPEEDUP = 1.7


def _tracknet(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tracknet", *args, "--no-progress"],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start


def _digests(path: Path) -> dict[str, str]:
    """SHA-256 of each file by name (a single file: under the name ``output``)."""
    if not path.is_dir():
        return {"output": hashlib.sha256(path.read_bytes()).hexdigest()}
    files = sorted(p for p in path.iterdir() if p.is_file())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _figures(
    n_events: int, serial: float, parallel: float, same: bool, target: float | None = TARGET_SPEEDUP
) -> dict[str, object]:
    """The figures of one command; ``target`` None: measured only (no target set)."""
    speedup = serial / parallel
    return {
        "events": n_events,
        "seconds_1_worker": round(serial, 3),
        "seconds_n_workers": round(parallel, 3),
        "events_per_second_1_worker": round(n_events / serial, 4),
        "events_per_second_n_workers": round(n_events / parallel, 4),
        "speedup": round(speedup, 3),
        "identical_outputs": same,
        "target_speedup": target,
        "pass": same and (target is None or speedup >= target),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=64, help="full events simulated")
    parser.add_argument("--build-events", type=int, default=16, help="of those, built")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--particles", type=int, default=None, help="default: a full event")
    parser.add_argument("--algorithm", default="baseline")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--quick", action="store_true", help="small events (a smoke test)")
    args = parser.parse_args()
    particles = ["--particles", str(300 if args.quick else args.particles)]
    if not args.quick and args.particles is None:
        particles = []
    n = 2 if args.quick else args.events
    n_build = min(n, 2 if args.quick else args.build_events)
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        root = Path(tmp)
        sim = ["simulate", "trackml", "--events", str(n), "--seed", str(args.seed), *particles]
        times, outs = {}, {}
        for w in (1, args.workers):
            out = root / f"sim-{w}"
            times[w] = _tracknet(*sim, "--out", str(out), "--workers", str(w))
            outs[w] = _digests(out)
        simulate = _figures(n, times[1], times[args.workers], outs[1] == outs[args.workers])
        ids = ",".join(str(k) for k in range(1, n_build + 1))
        build = ["build", "--data-dir", str(root / "sim-1"), "--algorithm", args.algorithm]
        build += ["--events", ids]
        if args.checkpoint:
            build += ["--checkpoint", args.checkpoint]
        for w in (1, args.workers):
            out = root / f"sub-{w}.csv"
            times[w] = _tracknet(*build, "--out", str(out), "--workers", str(w))
            outs[w] = _digests(out)
        built = _figures(n_build, times[1], times[args.workers], outs[1] == outs[args.workers])
        prefixes = list_events(root / "sim-1")
        for w in (1, args.workers):
            start = time.perf_counter()
            prepare_events(root / f"cache-{w}", prefixes, PrepSettings(), workers=Workers(w))
            times[w] = time.perf_counter() - start
            outs[w] = _digests(root / f"cache-{w}" / "tracks")
        same = outs[1] == outs[args.workers]
        prepared = _figures(n, times[1], times[args.workers], same, target=None)
    emit(
        "parallel",
        {
            "workers": args.workers,
            "full_events": not args.quick and args.particles is None,
            "algorithm": args.algorithm,
            "simulate_trackml": simulate,
            "build": built,
            "prepare_tracks": prepared,
            "all_targets_pass": bool(simulate["pass"] and built["pass"]),
        },
    )


if __name__ == "__main__":
    main()
