"""Straw building against the resolution its distance cuts assume (baseline builder).

Usage: ``python benchmarks/straw_resolution_cuts.py [--events N] [--seed S]``. Prints one
JSON line: for two-track pseudo-data events at the default drift resolution and at
0.2 mm, the straw metrics with the cuts at ``resolution_sigmas`` 0 (the exact-drift cuts),
1.5, 2, 3 and 4.
"""

from __future__ import annotations

import argparse

import pandas as pd

from _common import emit
from tracknet.building.straw import StrawBuildConfig, build_straw_batch
from tracknet.evaluation.straw import evaluate_straw
from tracknet.simulation.straw import Occupancy, StrawConfig, StrawResponse, simulate_straw_batch

SIGMAS = (0.0, 1.5, 2.0, 3.0, 4.0)
METRICS = ("precision_on_found_tracks", "wrong_hit_fraction", "found_fraction", "split_fraction")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    results = {}
    for drift_sigma in (StrawResponse().drift_sigma_mm, 0.2):
        config = StrawConfig(
            occupancy=Occupancy(distribution="fixed", mean=2.0, min_tracks=2),
            response=StrawResponse(drift_sigma_mm=drift_sigma),
        )
        batch = simulate_straw_batch(config, args.events, args.seed)
        truth = pd.DataFrame(
            {c: batch.hits[c] for c in ("event_id", "hit_id", "particle_id", "weight")}
        )
        rows = {}
        for k in SIGMAS:
            build = StrawBuildConfig(drift_sigma_mm=drift_sigma, resolution_sigmas=k)
            submission = build_straw_batch(batch, config.geometry, "baseline", None, build)
            straw = evaluate_straw(truth, submission).straw.to_dict()
            rows[str(k)] = {m: round(float(straw[m]), 4) for m in METRICS}
        results[str(drift_sigma)] = rows
    emit("straw_resolution_cuts", {"events": args.events, "seed": args.seed, "results": results})


if __name__ == "__main__":
    main()
