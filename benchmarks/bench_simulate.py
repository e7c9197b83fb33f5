"""Time the TrackML-like simulation of full events on one core.

Prints one JSON line: ``events_per_second``, ``seconds_per_event`` (median over the
timed events, one warm-up event first), ``hits_per_event`` and ``particles_per_event``
of :func:`tracknet.simulation.simulate_event` with the default configuration (a full
event: about 9,600 particles and 100k hits). Target: at most 2 s per event.

Usage: ``python benchmarks/bench_simulate.py [--events 5] [--seed 0] [--particles N]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import statistics
import time

from _common import emit, pin_to_one_core
from tracknet.simulation import SimulationConfig, event_rng, simulate_event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5, help="timed events")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--particles", type=int, default=SimulationConfig().n_particles)
    args = parser.parse_args()
    pinned = pin_to_one_core()
    config = SimulationConfig(n_particles=args.particles).validate()
    simulate_event(config, 0, event_rng(args.seed, 0))  # warm-up: tables, caches
    times, hits = [], []
    for event_id in range(1, args.events + 1):
        start = time.perf_counter()
        event = simulate_event(config, event_id, event_rng(args.seed, event_id))
        times.append(time.perf_counter() - start)
        hits.append(event.n_hits)
    seconds = statistics.median(times)
    emit(
        "simulate_trackml",
        {
            "events": args.events,
            "pinned_one_core": pinned,
            "particles_per_event": config.n_particles,
            "hits_per_event": round(statistics.mean(hits), 1),
            "seconds_per_event": round(seconds, 4),
            "seconds_per_event_max": round(max(times), 4),
            "events_per_second": round(1.0 / seconds, 3),
            "target_seconds_per_event": 2.0,
        },
    )


if __name__ == "__main__":
    main()
