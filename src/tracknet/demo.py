"""The main job (``make demo``): the whole product on simulated data, no download.

Train, simulate held-out events, build with TrackNET and the baseline, evaluate, report:
the four steps are listed in docs/architecture.md (commands). Everything goes under one
output directory; the last line printed says where.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .evaluation import ParticleSelection, names
from .evaluation.files import evaluate_submission
from .evaluation.report import ReportEntry, write_report
from .io.atomic import write_json_atomic
from .io.trackml import read_event, read_submission, write_event
from .simulation import SimulationConfig, event_rng, simulate_event

__all__ = ["BARREL_VOLUMES", "DEMO_TRAIN_OVERRIDES", "run_demo"]

#: The detector of the recipe and of the test events: the TrackML barrel.
BARREL_VOLUMES: tuple[int, ...] = (8, 13, 17)
#: The ``simulated`` recipe, shortened so that the whole job fits in a few minutes.
DEMO_TRAIN_OVERRIDES: tuple[str, ...] = (
    "experiment=simulated",
    "data.simulation.n_events=60",
    "trainer.max_epochs=15",
)


def run_demo(
    out_dir: str | Path,
    *,
    n_test_events: int = 2,
    seed: int = 2026,
    train_overrides: tuple[str, ...] = DEMO_TRAIN_OVERRIDES,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the main job into ``out_dir`` and return its summary (also ``summary.json``)."""
    from .building.directory import build_directory
    from .training.config import compose_config
    from .training.train import train
    from .viz.event_display import write_event_display

    out = Path(out_dir).resolve()
    timings: dict[str, float] = {}

    echo("[1/4] training StepAhead TrackNET on simulated barrel events")
    start = time.perf_counter()
    cfg = compose_config(
        [*train_overrides, f"run.output_dir={out / 'train'}", f"data.cache_dir={out / 'cache'}"]
    )
    trained = train(cfg)
    timings["train_s"] = time.perf_counter() - start
    checkpoint = Path(trained["best_checkpoint"] or trained["last_checkpoint"])

    echo(f"[2/4] simulating {n_test_events} held-out test events (seed {seed})")
    start = time.perf_counter()
    test_dir = out / "test_events"
    config = SimulationConfig(volumes=BARREL_VOLUMES).validate()
    for event_id in range(1, n_test_events + 1):
        write_event(simulate_event(config, event_id, event_rng(seed, event_id)), test_dir)
    timings["simulate_test_s"] = time.perf_counter() - start

    echo("[3/4] building tracks with TrackNET and with the baseline")
    selection = ParticleSelection(min_pt=1.0, min_hits=5)
    entries: list[ReportEntry] = []
    submissions: dict[str, Path] = {}
    for algorithm, label in (("tracknet", "TrackNET"), ("baseline", "baseline")):
        path = out / "submissions" / f"{algorithm}.csv"
        built = build_directory(
            test_dir,
            path,
            algorithm,
            checkpoint if algorithm == "tracknet" else None,
            progress=progress,
        )
        seconds = {int(k): float(v["seconds"]) for k, v in built.events.items()}
        submissions[label] = path
        entries.append(ReportEntry(label, evaluate_submission(test_dir, path, selection), seconds))

    echo("[4/4] evaluating and writing the report")
    report = write_report(
        out / "report",
        entries,
        selection=selection,
        title="TrackNET demo: simulated TrackML-like barrel events",
        notes=[
            f"Model: {checkpoint} (trained {trained.get('epochs')} epochs"
            f" in {timings['train_s']:.0f} s, run directory {trained.get('run_dir')}).",
            f"Test events: {n_test_events} simulated barrel events"
            f" (volumes {list(BARREL_VOLUMES)}, seed {seed}), not seen in training.",
        ],
    )
    first = read_event(test_dir / "event000000001")
    sub = read_submission(submissions["TrackNET"])
    display = write_event_display(
        first, out / "report" / "event_display.html", sub.loc[sub["event_id"] == 1], selection
    )
    summary = {
        "checkpoint": str(checkpoint),
        "training": {
            k: v for k, v in trained.items() if isinstance(v, (int, float, str)) or v is None
        },
        "timings": timings,
        "algorithms": {e.name: e.evaluation.summary for e in entries},
        "build_seconds_per_event": {e.name: e.build_seconds for e in entries},
        "report": str(report),
        "event_display": str(display),
    }
    write_json_atomic(out / "summary.json", json.loads(json.dumps(summary, default=str)))
    keys = (names.TRACKML_SCORE, names.EFFICIENCY, names.FAKE_RATE, names.DUPLICATE_RATE)
    echo("")
    echo(f"{'':>12}  " + "  ".join(f"{k:>15}" for k in keys))
    for entry in entries:
        values = [entry.evaluation.summary.get(k) for k in keys]
        echo(
            f"{entry.name:>12}  "
            + "  ".join(f"{'n/a' if v is None else f'{v:.4f}':>15}" for v in values)
        )
    echo("")
    echo(f"report: {report}")
    echo(f"event display: {display}")
    return summary
