"""Whole-event tracking against the targets of issue 13, for TrackNET and the baseline.

Prints ONE JSON object (``--out FILE`` also writes it); every figure stands beside its
target with a ``pass`` flag. Parts:

* ``simulated``: ``--events`` full events written by
  :func:`tracknet.simulation.run.simulate_to_directory` (what ``tracknet simulate
  trackml`` runs) with ``hit_efficiency`` 0.99 and otherwise the default
  :class:`~tracknet.simulation.SimulationConfig` (secondaries, default noise), seed
  ``--seed`` (default 9001: a seed that no tuning used). Each algorithm builds the
  directory with :func:`tracknet.building.build_directory` (what ``tracknet build``
  runs) ``--repeats`` times after one warm-up build of the first event; the submission
  of the last build is evaluated with :func:`tracknet.evaluation.files.evaluate_submission`
  (what ``tracknet evaluate --json`` prints). Figures: TrackML score (published rules,
  all particles); double-majority efficiency for pT >= 1 GeV and for 0.3 <= pT < 1 GeV,
  perfect-match efficiency for pT >= 1 GeV (particles with at least 5 hits); fake and
  duplicate rates (pT >= 1 GeV selection); ``seconds_per_event``: the median of every
  timed build of every event (reading excluded), and the efficiency binned in pT and eta
  (particles with at least 5 hits).
* ``simulate_one_event``: the machine's reference figure, in the same run. The
  simulation of one full event on one core (``tracknet simulate trackml``'s work:
  :func:`~tracknet.simulation.simulate_event` with the default configuration), timed by
  ``benchmarks/bench_simulate.py`` in a child process pinned to one core with one
  thread (median of ``--sim-events`` events after a warm-up), plus, for information,
  the wall time of the command ``tracknet simulate trackml --events 1`` itself
  (interpreter start and CSV writing included). ``build_over_simulate`` = build seconds
  per event / simulate seconds per event (target at most 6).
* ``comparison``: TrackNET minus baseline on the same events (score, efficiency, fake
  rate) and whether TrackNET is ahead on score and efficiency at no higher fake rate.
* ``real`` (not with ``--quick``): the real barrel samples ``event1000-barrel/ez-0.1``,
  ``ez-0.2`` (efficiency, fake rate: pT >= 1 GeV, at least 5 hits; no worse than
  0.962 / 0.969 and fake 0); the real full events ``unlabeled/event000001001`` and
  ``1003`` (no truth: build seconds, target 2 s each, and their ratio to the reference);
  ``overlay``: every labelled track of ``ez-0.2`` and of ``sample-event1`` passing the
  overlay library's cuts, overlaid with :func:`tracknet.augment.run.overlay_to_directory`
  (``tracknet overlay --background``) onto the two real full events (every real hit
  kept): efficiency on the overlaid pT >= 1 GeV tracks (target 0.97) and the unlabelled
  hits the tracks took.

The TrackNET model is ``--checkpoint`` (for the figures that matter, the output of
``tracknet train experiment=simulated_full``; ``"model": "checkpoint"``). Without one,
the recipe is run shortened (``--quick-events`` events, one epoch, in a temporary
directory; ``"model": "quick"``): its figures are then not the recipe's.
``--algorithms baseline`` skips TrackNET (and training) altogether.

``--quick``: one smaller event (``--particles``, default 2000 in quick mode), one
timed build, a 2-event quick model, no real-data part: a smoke run, whose figures say
nothing about the targets.

Usage: ``python benchmarks/bench_full_event.py [--checkpoint CKPT] [--events 3]
[--repeats 2] [--threads 2] [--out FILE] [--quick] [--algorithms tracknet,baseline]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Before PyTorch loads (see bench_build.py): spin-waiting OpenMP threads stall small steps.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from _common import REPO_ROOT, SHARED_TRACKML, emit
from tracknet.building import BuildConfig, build_directory
from tracknet.building.directory import DirectoryBuild
from tracknet.evaluation import ParticleSelection, efficiency_binned, names
from tracknet.evaluation.files import evaluate_submission
from tracknet.simulation import SimulationConfig
from tracknet.simulation.run import simulate_to_directory

ALGORITHMS = ("tracknet", "baseline")
HIGH_PT = ParticleSelection(min_pt=1.0, min_hits=5)
LOW_PT = ParticleSelection(min_pt=0.3, max_pt=1.0, min_hits=5)
ALL_PT = ParticleSelection(min_hits=5)
PT_BINS = [0.15, 0.3, 0.5, 0.7, 1.0, 2.0, 5.0, 100.0]
ETA_BINS = [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]

BARREL = {name: SHARED_TRACKML / "event1000-barrel" / name for name in ("ez-0.1", "ez-0.2")}
#: Today's real-barrel figures that must not get worse (README, issue 13).
BARREL_FLOORS = {"ez-0.1": 0.962, "ez-0.2": 0.969}
UNLABELED = SHARED_TRACKML / "unlabeled"
OVERLAY_SOURCES = {
    "ez-0.2": SHARED_TRACKML / "event1000-barrel" / "ez-0.2",
    "sample-event1": SHARED_TRACKML / "sample-event1",
}


def target(value: Any, op: str, bound: float) -> dict[str, Any]:
    """``value`` beside its target; ``pass`` is False for a missing (NaN/None) value."""
    known = value is not None and math.isfinite(value)
    passed = known and (value >= bound if op == ">=" else value <= bound)
    return {
        "value": round(float(value), 4) if known else None,
        "target": f"{op} {bound}",
        "pass": bool(passed),
    }


def rounded(summary: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {
        k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items() if k in keys
    }


# ------------------------------------------------------------------ reference figure
def simulate_reference(n_events: int, tmp: Path) -> dict[str, Any]:
    """One full event simulated on one core, timed in a child process (see docstring)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    bench = REPO_ROOT / "benchmarks" / "bench_simulate.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--events", str(n_events), "--seed", "9901"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {
        "seconds_per_event": figures["seconds_per_event"],
        "seconds_per_event_max": figures["seconds_per_event_max"],
        "hits_per_event": figures["hits_per_event"],
        "events": n_events,
        "pinned_one_core": figures["pinned_one_core"],
        "how": "benchmarks/bench_simulate.py (simulate_event, default config, one core)",
    }
    cli = Path(sys.executable).with_name("tracknet")
    if cli.exists():
        command = [str(cli), "simulate", "trackml", "--events", "1", "--seed", "9902"]
        if hasattr(os, "sched_getaffinity"):
            command = ["taskset", "-c", str(min(os.sched_getaffinity(0))), *command]
        start = time.perf_counter()
        subprocess.run(
            [*command, "--out", str(tmp / "cli_sim")],
            capture_output=True, check=True, env=env,
        )  # fmt: skip
        out["cli_command_seconds"] = round(time.perf_counter() - start, 3)
    return out


# ------------------------------------------------------------------ building
def timed_builds(
    data_dir: Path,
    out_csv: Path,
    algorithm: str,
    checkpoint: Path | None,
    config: BuildConfig,
    repeats: int,
) -> tuple[float, dict[int, float], dict[int, dict[str, Any]]]:
    """Build ``data_dir`` ``repeats`` times after a warm-up build of its first event.

    Returns the median seconds over every timed build of every event, the median per
    event, and the last build's per-event figures; the submission is ``out_csv``.
    """

    def build(events: list[int] | None = None) -> DirectoryBuild:
        return build_directory(
            data_dir, out_csv, algorithm, checkpoint, events, progress=False, config=config
        )

    first = min(int(p.name[5:14]) for p in data_dir.glob("event*-hits.csv*"))
    build([first])
    per_event: dict[int, list[float]] = {}
    last: dict[int, dict[str, Any]] = {}
    for _ in range(repeats):
        result = build()
        last = dict(result.events)
        for event_id, figures in result.events.items():
            per_event.setdefault(event_id, []).append(float(figures["seconds"]))
    every = [s for times in per_event.values() for s in times]
    medians = {e: statistics.median(times) for e, times in per_event.items()}
    return statistics.median(every), medians, last


def binned(per_particle: Any, column: str, bins: list[float]) -> list[dict[str, Any]]:
    table = efficiency_binned(per_particle, column, bins)
    return [
        {
            "bin": [row.bin_low, row.bin_high],
            "n": int(row.n_total),
            "efficiency": None if not math.isfinite(row.efficiency) else round(row.efficiency, 4),
        }
        for row in table.itertuples()
    ]


def simulated_figures(
    sim_dir: Path, sub: Path, algorithm: str, checkpoint: Path | None, config: BuildConfig,
    repeats: int, reference_s: float,
) -> dict[str, Any]:  # fmt: skip
    seconds, per_event, last = timed_builds(sim_dir, sub, algorithm, checkpoint, config, repeats)
    high = evaluate_submission(sim_dir, sub, HIGH_PT).summary
    low = evaluate_submission(sim_dir, sub, LOW_PT).summary
    every = evaluate_submission(sim_dir, sub, ALL_PT)
    ratio = seconds / reference_s
    return {
        "targets": {
            "trackml_score": target(high[names.TRACKML_SCORE], ">=", 0.80),
            "efficiency_pt_ge_1": target(high[names.EFFICIENCY], ">=", 0.97),
            "efficiency_pt_0.3_to_1": target(low[names.EFFICIENCY], ">=", 0.90),
            "perfect_efficiency_pt_ge_1": target(high[names.PERFECT_EFFICIENCY], ">=", 0.80),
            "fake_rate": target(high[names.FAKE_RATE], "<=", 0.02),
            "duplicate_rate": target(high[names.DUPLICATE_RATE], "<=", 0.02),
            "seconds_per_event": target(seconds, "<=", 2.0),
            "build_over_simulate": target(ratio, "<=", 6.0),
        },
        "seconds_per_event_by_event": {str(e): round(s, 3) for e, s in per_event.items()},
        "builds_per_event": repeats,
        "tracks_per_event": {str(e): int(f["n_tracks"]) for e, f in last.items()},
        "seeds_per_event": {str(e): int(f["n_seeds"]) for e, f in last.items()},
        "pt_ge_1": rounded(high, (*names.COUNT_NAMES, names.EFFICIENCY)),
        "pt_0.3_to_1": rounded(low, (*names.COUNT_NAMES, names.EFFICIENCY)),
        "efficiency_vs_pt": binned(every.per_particle, "pt", PT_BINS),
        "efficiency_vs_eta": binned(every.per_particle, "eta", ETA_BINS),
    }


# ------------------------------------------------------------------ real data
def real_figures(
    tmp: Path, algorithm: str, checkpoint: Path | None, config: BuildConfig, repeats: int,
    reference_s: float, overlay_seed: int,
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    for name, data_dir in BARREL.items():
        if not data_dir.is_dir():
            out[name] = "missing"
            continue
        sub = tmp / f"{algorithm}-{name}.csv"
        build_directory(data_dir, sub, algorithm, checkpoint, progress=False, config=config)
        summary = evaluate_submission(data_dir, sub, HIGH_PT).summary
        out[name] = {
            "targets": {
                "efficiency_pt_ge_1": target(summary[names.EFFICIENCY], ">=", BARREL_FLOORS[name]),
                "fake_rate": target(summary[names.FAKE_RATE], "<=", 0.0),
            },
            **rounded(
                summary,
                (
                    names.TRACKML_SCORE,
                    names.PERFECT_EFFICIENCY,
                    names.DUPLICATE_RATE,
                    names.N_PARTICLES,
                ),
            ),
        }
    if (UNLABELED / "event000001001-hits.csv").exists():
        sub = tmp / f"{algorithm}-unlabeled.csv"
        _, per_event, last = timed_builds(UNLABELED, sub, algorithm, checkpoint, config, repeats)
        for event_id, seconds in per_event.items():
            out[f"real_{event_id}"] = {
                "n_hits": int(last[event_id]["n_hits"]),
                "n_tracks": int(last[event_id]["n_tracks"]),
                "targets": {"seconds": target(seconds, "<=", 2.0)},
                "over_simulate": round(seconds / reference_s, 2),
            }
        out["overlay"] = overlay_figures(tmp, algorithm, checkpoint, config, overlay_seed)
    else:
        out["real_full_events"] = "missing"
    return out


def overlay_datasets(tmp: Path, seed: int) -> dict[str, Path]:
    """Every library track of each labelled source, overlaid onto both real full events."""
    from tracknet.augment.run import source_detector

    made: dict[str, Path] = {}
    for name, source in OVERLAY_SOURCES.items():
        if not source.is_dir():
            continue
        detector = source_detector(source)
        library = detector.track_library(source, detector.overlay_library_criteria())
        out = tmp / f"overlay-{name}"
        if not out.exists():
            overlay_to_directory_(source, out, len(library), seed)
        made[name] = out
    return made


def overlay_to_directory_(source: Path, out: Path, tracks: int, seed: int) -> None:
    from tracknet.augment.run import overlay_to_directory

    overlay_to_directory(
        source, out, n_events=2, tracks_per_event=tracks, seed=seed, background=UNLABELED
    )


def overlay_figures(
    tmp: Path, algorithm: str, checkpoint: Path | None, config: BuildConfig, seed: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, data_dir in overlay_datasets(tmp, seed).items():
        sub = tmp / f"{algorithm}-overlay-{name}.csv"
        build_directory(data_dir, sub, algorithm, checkpoint, progress=False, config=config)
        summary = evaluate_submission(data_dir, sub, HIGH_PT).summary
        out[name] = {
            "targets": {"efficiency_pt_ge_1": target(summary[names.EFFICIENCY], ">=", 0.97)},
            **rounded(summary, tuple(k for k in summary if k != names.EFFICIENCY)),
        }
    return out


# ------------------------------------------------------------------ main
def comparison(results: dict[str, Any]) -> dict[str, Any]:
    def value(algorithm: str, key: str) -> float:
        return float(results[algorithm]["targets"][key]["value"] or math.nan)

    delta = {
        key: round(value("tracknet", key) - value("baseline", key), 4)
        for key in ("trackml_score", "efficiency_pt_ge_1", "efficiency_pt_0.3_to_1", "fake_rate")
    }
    ahead = (
        delta["trackml_score"] > 0 and delta["efficiency_pt_ge_1"] > 0 and delta["fake_rate"] <= 0
    )
    return {
        "tracknet_minus_baseline": delta,
        "tracknet_ahead": {
            "value": bool(ahead),
            "target": "score and efficiency (pT >= 1) above the baseline's, fake rate no higher",
            "pass": bool(ahead),
        },
    }


def all_passed(tree: Any) -> bool:
    if isinstance(tree, dict):
        if "pass" in tree and isinstance(tree["pass"], bool) and "target" in tree:
            return tree["pass"]
        return all(all_passed(v) for v in tree.values())
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--events", type=int, default=None, help="simulated events (3)")
    parser.add_argument("--seed", type=int, default=9001)
    parser.add_argument("--particles", type=int, default=None, help="per event (9600)")
    parser.add_argument("--repeats", type=int, default=None, help="timed builds (2)")
    parser.add_argument("--sim-events", type=int, default=None, help="reference events (3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick-events", type=int, default=None, help="quick model (6)")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--config", type=Path, default=None, help="JSON overrides of BuildConfig")
    parser.add_argument("--quick", action="store_true", help="smoke run: small, no real data")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    quick = args.quick
    n_events = args.events or (1 if quick else 3)
    particles = args.particles or (2000 if quick else SimulationConfig().n_particles)
    repeats = args.repeats or (1 if quick else 2)
    sim_events = args.sim_events or (1 if quick else 3)
    quick_events = args.quick_events or (2 if quick else 6)
    algorithms = [a for a in args.algorithms.split(",") if a]
    if not algorithms or any(a not in ALGORITHMS for a in algorithms):
        parser.error(f"--algorithms: a comma-separated subset of {', '.join(ALGORITHMS)}")
    torch.set_num_threads(args.threads)
    config = BuildConfig.from_json(args.config) if args.config else BuildConfig()
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="bench_full_event_") as name:
        tmp = Path(name)
        checkpoint: Path | None = args.checkpoint
        model = "checkpoint" if checkpoint else ("quick" if "tracknet" in algorithms else None)
        train_seconds = None
        if "tracknet" in algorithms and checkpoint is None:
            from bench_build import quick_model

            start = time.perf_counter()
            checkpoint = quick_model(quick_events, tmp / "quick_model")
            train_seconds = round(time.perf_counter() - start, 1)
        reference = simulate_reference(sim_events, tmp)
        reference_s = float(reference["seconds_per_event"])

        sim_config = SimulationConfig(hit_efficiency=0.99, n_particles=particles).validate()
        sim_dir = tmp / "simulated"
        start = time.perf_counter()
        simulate_to_directory(
            sim_config, sim_dir, n_events=n_events, seed=args.seed, progress=False
        )
        simulate_seconds = time.perf_counter() - start
        n_hits = [len(p.read_text().splitlines()) - 1 for p in sorted(sim_dir.glob("*-hits.csv"))]

        simulated: dict[str, Any] = {}
        real: dict[str, Any] = {}
        for algorithm in algorithms:
            ckpt = checkpoint if algorithm == "tracknet" else None
            simulated[algorithm] = simulated_figures(
                sim_dir, tmp / f"{algorithm}-sim.csv", algorithm, ckpt, config, repeats,
                reference_s,
            )  # fmt: skip
            if not quick:
                real[algorithm] = real_figures(
                    tmp, algorithm, ckpt, config, repeats, reference_s, args.seed
                )

    record: dict[str, Any] = {
        "model": model,
        "checkpoint": str(args.checkpoint) if args.checkpoint else None,
        "quick_model": None
        if model != "quick"
        else {
            "recipe": f"experiment=simulated_full shortened ({quick_events} events, 1 epoch)",
            "train_seconds": train_seconds,
            "note": "figures of a shortened recipe, not of experiment=simulated_full",
        },
        "quick": quick,
        "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "build_config": config.to_dict(),
        "simulate_one_event": reference,
        "simulated": {
            "events": n_events,
            "seed": args.seed,
            "config": {
                "hit_efficiency": sim_config.hit_efficiency,
                "n_particles": sim_config.n_particles,
                "secondary_fraction": sim_config.secondary_fraction,
                "noise_fraction": sim_config.noise_fraction,
            },
            "hits_per_event": n_hits,
            "simulate_to_directory_seconds": round(simulate_seconds, 2),
            "selections": {
                "pt_ge_1": "pT >= 1 GeV, >= 5 hits",
                "pt_0.3_to_1": "0.3 <= pT < 1 GeV, >= 5 hits",
                "fake_and_duplicate": "pT >= 1 GeV selection, tracks of >= 3 hits",
                "trackml_score": "published rules, every particle",
            },
            **simulated,
        },
    }
    if len(algorithms) == 2:
        record["comparison"] = comparison(simulated)
    if not quick:
        record["real"] = real
    record["all_targets_pass"] = all_passed(
        {k: v for k, v in record.items() if k in ("simulated", "comparison", "real")}
    )
    record["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    if args.out is not None:
        args.out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    emit("full_event", record)


if __name__ == "__main__":
    main()
