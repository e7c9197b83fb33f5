"""The main job (``make demo``): the whole available pipeline on embedded, simulated data.

Today's stages, each with the package's own public functions:

1. simulate TrackML-like events (no download, no ``../shared``);
2. write them as TrackML CSV and read them back with the strict reader;
3. evaluate two *reference* submissions against the truth: the truth itself (an upper
   bound that must score 1) and a damaged copy in which every track is cut in two halves
   (the score and the duplicate rate show what splitting costs). These exercise the
   evaluator; they are not tracking results. Track building joins this job when it lands;
4. write ``report.md`` and ``summary.json`` under the output directory.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from .evaluation import ParticleSelection, names
from .evaluation.files import evaluate_submission
from .events import Event
from .io.atomic import write_json_atomic, write_text_atomic
from .io.trackml import iter_events, write_event, write_submission
from .simulation import SimulationConfig, simulate_events

__all__ = ["truth_submission", "split_submission", "run_demo"]


def truth_submission(event: Event) -> pd.DataFrame:
    """Every labelled hit on the track of its particle; noise on no track (id 0)."""
    pids = event.particle_ids()
    _, track = np.unique(pids, return_inverse=True)
    return pd.DataFrame(
        {
            "event_id": np.full(len(pids), event.event_id, dtype=np.int64),
            "hit_id": event.hits["hit_id"].to_numpy(),
            "track_id": np.where(pids > 0, track + 1, 0).astype(np.int64),
        }
    )


def split_submission(event: Event) -> pd.DataFrame:
    """Each particle's hits cut into two tracks at the middle of their order along z-distance."""
    truth = event.truth
    assert truth is not None
    sub = truth_submission(event)
    vz = event.particles.set_index("particle_id")["vz"] if event.particles is not None else None
    dist = np.abs(truth["tz"].to_numpy() - (vz.reindex(truth["particle_id"]).fillna(0.0).to_numpy() if vz is not None else 0.0))
    order = np.lexsort((dist, sub["track_id"].to_numpy()))
    tracks = sub["track_id"].to_numpy()[order]
    start = np.r_[0, np.flatnonzero(np.diff(tracks)) + 1]
    counts = np.diff(np.r_[start, len(tracks)])
    rank = np.arange(len(tracks)) - np.repeat(start, counts)
    second_half = rank >= np.repeat(counts, counts) // 2
    new = tracks * 2 + second_half.astype(np.int64)
    out = sub.copy()
    track_ids = np.empty_like(tracks)
    track_ids[order] = np.where(tracks > 0, new, 0)
    out["track_id"] = track_ids
    return out


def _table(rows: dict[str, dict[str, Any]]) -> str:
    keys = [k for k in names.METRIC_NAMES if any(k in r for r in rows.values())]
    header = "| metric | " + " | ".join(rows) + " |"
    lines = [header, "|---|" + "---|" * len(rows)]
    for key in keys:
        cells = []
        for row in rows.values():
            value = row.get(key)
            cells.append("n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value)))
        lines.append(f"| {names.label(key)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_demo(
    out_dir: str | Path,
    *,
    n_events: int = 3,
    n_particles: int = SimulationConfig.n_particles,
    seed: int = 42,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the main job into ``out_dir`` and return its summary."""
    out = Path(out_dir)
    data_dir = out / "data"
    config = replace(SimulationConfig(), n_particles=n_particles).validate()
    timings: dict[str, float] = {}

    start = time.perf_counter()
    events = simulate_events(config, n_events, seed=seed, first_event_id=1)
    for event in tqdm(events, total=n_events, desc="simulate", unit="event", disable=not progress):
        write_event(event, data_dir)
    timings["simulate_and_write_s"] = time.perf_counter() - start

    start = time.perf_counter()
    read_back = list(iter_events(data_dir))
    timings["read_s"] = time.perf_counter() - start
    n_hits = [e.n_hits for e in read_back]

    selection = ParticleSelection(min_pt=1.0, min_hits=5)
    results: dict[str, dict[str, Any]] = {}
    for label, make in (("truth (upper bound)", truth_submission), ("truth split in halves", split_submission)):
        submission = pd.concat([make(e) for e in read_back], ignore_index=True)
        path = out / "submissions" / (label.split(" ")[0] + ("" if make is truth_submission else "_split") + ".csv")
        write_submission(submission, path)
        results[label] = evaluate_submission(data_dir, path, selection).summary

    summary = {
        "n_events": n_events,
        "seed": seed,
        "n_particles_per_event": n_particles,
        "hits_per_event": float(np.mean(n_hits)),
        "noise_fraction": float(np.mean([(e.truth.particle_id == 0).mean() for e in read_back])),
        "timings": timings,
        "reference_submissions": results,
        "selection": {"min_pt_gev": selection.min_pt, "min_hits": selection.min_hits},
    }
    report = "\n".join(
        [
            "# TrackNET demo report",
            "",
            f"{n_events} simulated TrackML-like events (seed {seed}, {n_particles} particles each), "
            f"{summary['hits_per_event']:.0f} hits per event on average, noise fraction "
            f"{summary['noise_fraction']:.3f}; written to `data/` and read back with the strict reader.",
            "",
            f"Simulation and writing took {timings['simulate_and_write_s']:.2f} s, reading "
            f"{timings['read_s']:.2f} s.",
            "",
            "## Reference submissions",
            "",
            "These check the evaluator, they are not tracking results: the truth must score 1, "
            "and cutting every track in two halves loses most of the score and turns half of the "
            "tracks into duplicates. Particles selected for the efficiencies: "
            f"pT >= {selection.min_pt} GeV, at least {selection.min_hits} hits.",
            "",
            _table(results),
            "",
        ]
    )
    write_text_atomic(out / "report.md", report)
    write_json_atomic(out / "summary.json", summary)
    echo(report)
    echo(f"report: {out / 'report.md'}")
    return summary
