"""How close simulated TrackML events are to the real full events.

Simulates ``--events`` full events with the default configuration and compares them,
pooled, with each real full event of ``../shared/data/trackml/unlabeled`` (hits and
particles; no truth) using :func:`tracknet.simulation.realism.compare_events`. Prints
one JSON line with, per real event: the total-variation distance of the hit shares per
(volume_id, layer_id) (target <= 0.08), hits per event and noise fraction (real:
``1 - sum(nhits) / n_hits``) with their relative differences (target within 25 %),
hits per particle and the pT summary; plus the noise fractions of the labelled real
samples for reference and the five layers with the largest share differences.

Usage: ``python benchmarks/realism.py [--events 3] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from _common import SHARED_TRACKML, emit
from tracknet.io.trackml import list_events, read_event
from tracknet.simulation import SimulationConfig, simulate_events
from tracknet.simulation.realism import compare_events, layer_shares


def _labelled_noise_fractions() -> dict[str, float]:
    out = {}
    for name, prefix in {
        "sample_event1_full_detector": SHARED_TRACKML / "sample-event1" / "event000000001",
        "event1000_barrel_ez02": SHARED_TRACKML / "event1000-barrel" / "ez-0.2" / "event000001000",
    }.items():
        try:
            truth = read_event(prefix, parts=("hits", "truth")).truth
        except Exception as exc:  # reference figure only; report why it is missing
            print(f"note: {name}: {exc}", file=sys.stderr)
            continue
        assert truth is not None
        out[name] = round(float(np.mean(truth["particle_id"].to_numpy() == 0)), 4)
    return out


def _round(value: object) -> object:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    directory = SHARED_TRACKML / "unlabeled"
    if not directory.is_dir():
        print(f"skipped: {directory} is absent", file=sys.stderr)
        return 0
    real = [read_event(prefix, parts=("hits", "particles")) for prefix in list_events(directory)]
    config = SimulationConfig()
    simulated = list(simulate_events(config, args.events, seed=args.seed))
    result = compare_events(simulated, real)

    sim_shares = layer_shares(pd.concat([e.hits[["volume_id", "layer_id"]] for e in simulated]))
    real_shares = sum(layer_shares(e.hits) for e in real) / len(real)
    diff = (sim_shares - real_shares).dropna()
    worst = diff.reindex(diff.abs().sort_values(ascending=False).index[:5])
    emit(
        "simulation_realism",
        {
            "seed": args.seed,
            "simulated": _round(result["simulated"]),
            "real": [_round(entry) for entry in result["real"]],
            "tv_max": round(max(e["tv_layer_shares"] for e in result["real"]), 4),
            "targets_met": all(e["targets_met"] for e in result["real"]),
            "largest_layer_share_diffs": {
                f"{volume}/{layer}": round(float(d), 4) for (volume, layer), d in worst.items()
            },
            "real_labelled_noise_fraction": _labelled_noise_fractions(),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
