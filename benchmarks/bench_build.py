"""Time track building per event, with StepAhead TrackNET and with the helix baseline.

Prints one JSON line. Events:

* ``simulated``: a full simulated TrackML event (about 100k hits,
  ``simulate_event(SimulationConfig(), 1, event_rng(0, 1))``), built from its hits and then
  evaluated against its truth: TrackML score, and double-majority efficiency, fake and
  duplicate rates for particles with pT >= 1 GeV and >= 5 hits;
* ``real_1001``, ``real_1003``: the real full events of
  ``../shared/data/trackml/unlabeled/`` (no truth: time and counts only), when present.

For each event and algorithm: ``seconds`` (median wall time of ``--repeats`` builds after
one warm-up build; reading the event excluded), ``seeds``, ``candidates``, ``tracks``,
``assigned_fraction`` (share of hits on a track) and the per-stage seconds of the last
build. PyTorch runs with ``torch.set_num_threads(--threads)`` (default 2) and, unless
the environment says otherwise, ``OMP_WAIT_POLICY=PASSIVE``.

The TrackNET model is ``--checkpoint`` (for the figures that matter, the output of
``tracknet train experiment=simulated_full``). Without one, the same recipe is run
shortened (``--quick-events`` simulated events, one epoch, in a temporary directory;
a minute or two) so that build times are those of a calibrated full-detector model that
has learned something; its tracking figures are then not those of the recipe.

Usage: ``python benchmarks/bench_build.py [--checkpoint CKPT] [--threads 2] [--repeats 1]
[--config overrides.json] [--skip-real]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

# Before PyTorch loads: OpenMP threads that spin-wait stall the many small model steps of
# track building whenever another process holds a core (see tracknet.building.commands).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from _common import SHARED_TRACKML, emit, timed
from tracknet.building import BuildConfig, BuildResult, build_tracks
from tracknet.evaluation import ParticleSelection, evaluate_event
from tracknet.events import Event
from tracknet.io.trackml import read_event
from tracknet.model.checkpoint import LoadedModel, load_checkpoint
from tracknet.simulation import SimulationConfig, event_rng, simulate_event

REAL_EVENTS = (
    SHARED_TRACKML / "unlabeled" / "event000001001",
    SHARED_TRACKML / "unlabeled" / "event000001003",
)
SELECTION = ParticleSelection(min_pt=1.0, min_hits=5)


def quick_model(n_events: int, directory: Path) -> Path:
    """The full-detector recipe, shortened: ``n_events`` events, one epoch."""
    from tracknet.training.config import compose_config
    from tracknet.training.train import train

    cfg = compose_config(
        [
            "experiment=simulated_full",
            f"data.simulation.n_events={n_events}",
            f"data.cache_dir={directory / 'cache'}",
            "trainer.max_epochs=1",
            "training.region_calibration.cost_events=1",
            f"run.output_dir={directory / 'run'}",
        ]
    )
    return Path(train(cfg)["last_checkpoint"])


def figures(
    event: Event, algorithm: str, model: LoadedModel | None, config: BuildConfig, repeats: int
) -> dict[str, Any]:
    seconds, _, result = timed(lambda: build_tracks(event, algorithm, model, config), repeats)
    assert isinstance(result, BuildResult)
    out: dict[str, Any] = {
        "seconds": round(seconds, 3),
        "seeds": result.n_seeds,
        "candidates": result.n_candidates,
        "tracks": result.n_tracks,
        "assigned_fraction": round(float((result.submission.track_id > 0).mean()), 4),
        "stages": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in stage.items()}
            for stage in result.stages
        ],
    }
    if event.truth is not None:
        score, metrics, _ = evaluate_event(
            event, result.submission[["hit_id", "track_id"]], SELECTION
        )
        out.update(
            trackml_score=round(score, 4),
            efficiency=round(metrics.efficiency, 4),
            fake_rate=round(metrics.fake_rate, 4),
            duplicate_rate=round(metrics.duplicate_rate, 4),
            n_particles=metrics.n_particles,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick-events", type=int, default=6)
    parser.add_argument("--config", type=Path, default=None, help="JSON overrides of BuildConfig")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = BuildConfig.from_json(args.config) if args.config else BuildConfig()

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or quick_model(args.quick_events, Path(tmp))
        model = load_checkpoint(checkpoint)
    events: dict[str, Event] = {"simulated": simulate_event(SimulationConfig(), 1, event_rng(0, 1))}
    for real in REAL_EVENTS:
        if not args.skip_real and real.with_name(real.name + "-hits.csv").exists():
            events[f"real_{int(real.name[5:])}"] = read_event(real, parts=("hits",))

    results: dict[str, Any] = {}
    for name, event in events.items():
        entry: dict[str, Any] = {"n_hits": event.n_hits}
        for algorithm in ("tracknet", "baseline"):
            entry[algorithm] = figures(
                event, algorithm, model if algorithm == "tracknet" else None, config, args.repeats
            )
        results[name] = entry
    emit(
        "build",
        {
            "threads": args.threads,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "checkpoint": str(args.checkpoint)
            if args.checkpoint
            else f"experiment=simulated_full shortened ({args.quick_events} events, 1 epoch)",
            "radius_scale": config.radius_scale
            if config.radius_scale is not None
            else model.meta.get("radius_scale", 1.0),
            "selection": "pt >= 1 GeV, >= 5 hits",
            "events": results,
        },
    )


if __name__ == "__main__":
    main()
