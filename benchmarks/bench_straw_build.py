"""Time straw track building (events per second): TrackNET, the baseline, the seed classifier.

Usage: ``python benchmarks/bench_straw_build.py [CHECKPOINT [SEED_CHECKPOINT]]`` (a 2D
straw checkpoint of ``tracknet train experiment=straw``, a seed-classifier checkpoint of
``experiment=straw_seed``; without them, untrained models of the same size stand in:
same work per model step, but their choices are not those of a trained model, so those
figures are then only indicative).

Prints one JSON line: for 2-track synthetic-like events (2 tracks per event, default
noise and crosstalk) and for events with mean 2 tracks (Poisson), events per second of
:func:`tracknet.building.straw.build_straw_batch` (events built in chunks of
``events_per_batch``, torch on the threads it has), with the hits, seeds and tracks per
event. Simulation is excluded from the timing.
"""

from __future__ import annotations

import functools
import sys

from _common import emit, timed
from tracknet.building.straw import StrawBuildConfig, build_straw_batch, make_straw_follower
from tracknet.building.straw.seed_walk import SLOT_FEATURES, STEP_FEATURES
from tracknet.data.normalize import Normalizer
from tracknet.model.checkpoint import LoadedModel, load_checkpoint
from tracknet.model.seed_lstm import LoadedSeedLstm, SeedLstm, load_seed_lstm
from tracknet.model.step_ahead import StepAheadTrackNet
from tracknet.simulation.straw import Occupancy, StrawConfig, simulate_straw_batch

N_EVENTS = 10_000


def main() -> int:
    import torch

    if len(sys.argv) > 1:
        loaded, untrained = load_checkpoint(sys.argv[1]), False
    else:
        torch.manual_seed(0)
        model = StepAheadTrackNet(input_dim=2, hidden_size=32, num_layers=2, features="straw")
        loaded, untrained = (
            LoadedModel(model.eval(), Normalizer(250.0), {"detector": "straw"}),
            True,
        )
    if len(sys.argv) > 2:
        seed_loaded, seed_untrained = load_seed_lstm(sys.argv[2]), False
    else:
        torch.manual_seed(0)
        seed_loaded = LoadedSeedLstm(SeedLstm(4, SLOT_FEATURES, STEP_FEATURES, 64).eval())
        seed_untrained = True
    models = {"tracknet": loaded, "baseline": None, "seed-lstm": seed_loaded}
    config = StrawBuildConfig()
    figures: dict[str, object] = {
        "n_events": N_EVENTS,
        "untrained_model": untrained,
        "untrained_seed_model": seed_untrained,
        "torch_threads": torch.get_num_threads(),
    }
    for name, occupancy in (
        ("two_tracks", Occupancy(distribution="fixed", mean=2.0, min_tracks=0, max_tracks=8)),
        ("poisson_mean2", Occupancy()),
    ):
        straw = StrawConfig(occupancy=occupancy)
        batch = simulate_straw_batch(straw, N_EVENTS, seed=11)
        for algorithm, model_of in models.items():
            follower = make_straw_follower(algorithm, model_of, config)
            stats: dict[str, int] = {}
            build = functools.partial(
                build_straw_batch,
                batch,
                straw.geometry,
                algorithm,
                None,
                config,
                follower=follower,
                stats=stats,
            )
            seconds, _, _ = timed(build, repeats=1)
            figures[f"{name}_{algorithm}_events_per_second"] = round(N_EVENTS / seconds)
        figures[f"{name}_hits_per_event"] = round(batch.n_hits / len(batch), 2)
    emit("straw_build", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
