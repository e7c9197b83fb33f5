"""The main job (``make demo``): the whole product on simulated data, no download.

Train, simulate held-out events, build with TrackNET and the baseline, evaluate, report:
the four stages are listed in docs/architecture.md (commands). Everything goes under one
output directory; the last line printed says where.

Each stage ends by writing its record, ``stages/<n>-<name>.json``: the parameters that
made its outputs (including the records of the stages it read) and the SHA-256 of every
output. A rerun into the same directory reuses a stage whose record is there, was made
with the same parameters and whose outputs still match, and redoes the others, each from
an empty directory of its own; so a run stopped half way and rerun ends with the outputs
of an uninterrupted run (the same seed gives the same test events, byte for byte).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .evaluation import ParticleSelection, names
from .evaluation.files import evaluate_submission
from .evaluation.report import ReportEntry, write_report
from .interrupts import on_interrupt, uninterrupted
from .io.atomic import json_ready, write_json_atomic
from .io.straw import sha256_file
from .io.trackml import read_event, read_submission
from .simulation import SimulationConfig

__all__ = ["BARREL_VOLUMES", "DEMO_TRAIN_OVERRIDES", "STAGES", "STAGES_DIR", "run_demo"]

#: The detector of the recipe and of the test events: the TrackML barrel.
BARREL_VOLUMES: tuple[int, ...] = (8, 13, 17)
#: The ``simulated`` recipe, shortened so that the whole job fits in a few minutes.
DEMO_TRAIN_OVERRIDES: tuple[str, ...] = (
    "experiment=simulated",
    "data.simulation.n_events=60",
    "trainer.max_epochs=15",
)
#: The stages, in order, and what each one writes under the output directory (removed
#: before the stage is redone).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("train", ("train",)),
    ("simulate", ("test_events",)),
    ("build", ("submissions",)),
    ("report", ("report", "summary.json")),
)
#: Where the stage records go, under the demo's output directory.
STAGES_DIR = "stages"
_ALGORITHMS = (("tracknet", "TrackNET"), ("baseline", "baseline"))


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists, NaN and inf as null)."""
    return json.loads(json.dumps(json_ready(value), sort_keys=True, default=str))


class _Stages:
    """The stage records of one demo directory."""

    def __init__(self, out: Path, echo: Callable[[str], None]) -> None:
        self.out = out
        self.echo = echo
        self.done: list[int] = []  # the stages complete in the directory, this run's included

    def path(self, number: int) -> Path:
        return self.out / STAGES_DIR / f"{number}-{STAGES[number - 1][0]}.json"

    def reusable(self, number: int, parameters: dict[str, Any]) -> dict[str, Any] | None:
        """The record of stage ``number`` if it was made with ``parameters`` and its outputs
        are unchanged; otherwise None, and what the stage writes is removed."""
        record: dict[str, Any] | None = None
        try:
            found = json.loads(self.path(number).read_text(encoding="utf-8"))
            if (
                isinstance(found, dict)
                and found.get("parameters") == _plain(parameters)
                and isinstance(found.get("outputs"), dict)
                and found["outputs"]
                and all(
                    (self.out / name).is_file() and sha256_file(self.out / name) == digest
                    for name, digest in found["outputs"].items()
                )
            ):
                record = found
        except (OSError, ValueError):
            record = None
        if record is not None:
            self.done.append(number)
            self.echo(f"      reused: {self.path(number).relative_to(self.out)} and its outputs")
            return record
        self.path(number).unlink(missing_ok=True)
        for name in STAGES[number - 1][1]:
            target = self.out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        return None

    def finish(
        self, number: int, parameters: dict[str, Any], outputs: Iterable[Path], **extra: Any
    ) -> dict[str, Any]:
        """Write stage ``number``'s record (last, atomically) and return it."""
        record = {
            "stage": STAGES[number - 1][0],
            "parameters": _plain(parameters),
            "outputs": {
                p.relative_to(self.out).as_posix(): sha256_file(p) for p in sorted(set(outputs))
            },
            **_plain(extra),
        }
        with uninterrupted():  # an interrupt now is told that this stage is done
            write_json_atomic(self.path(number), record)
            self.done.append(number)
        return record

    def outcome(self) -> str:
        """What an interrupt leaves: the complete stages, and what a rerun does."""
        if not self.done:
            return f"{self.out} keeps no finished stage; rerun to start again"
        listed = ", ".join(f"{n} ({STAGES[n - 1][0]})" for n in sorted(set(self.done)))
        return f"{self.out} keeps stage(s) {listed}; rerun to resume"


def _digest(record: dict[str, Any]) -> str:
    """One SHA-256 standing for a stage's outputs (what later stages depend on)."""
    return hashlib.sha256(json.dumps(record["outputs"], sort_keys=True).encode()).hexdigest()


def run_demo(
    out_dir: str | Path,
    *,
    n_test_events: int = 2,
    seed: int = 2026,
    train_overrides: tuple[str, ...] = DEMO_TRAIN_OVERRIDES,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the main job into ``out_dir`` and return its summary (also ``summary.json``).

    Stages already done in ``out_dir`` with the same settings are reused (see the module's
    description); an interrupt (:class:`~tracknet.interrupts.Interrupted`) says which
    stages the directory keeps.
    """
    out = Path(out_dir).resolve()
    stages = _Stages(out, echo)
    with on_interrupt(stages.outcome):
        return _run(out, stages, n_test_events, seed, train_overrides, progress, echo)


def _run(
    out: Path,
    stages: _Stages,
    n_test_events: int,
    seed: int,
    train_overrides: tuple[str, ...],
    progress: bool,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    from .building import BuildConfig
    from .building.directory import build_directory
    from .simulation.run import simulate_to_directory
    from .training.config import compose_config, to_container
    from .training.train import train

    echo("[1/4] training StepAhead TrackNET on simulated barrel events")
    cfg = compose_config(
        [*train_overrides, f"run.output_dir={out / 'train'}", f"data.cache_dir={out / 'cache'}"]
    )
    # The whole training configuration, with the two paths under `out` named relative to it.
    composed = to_container(cfg)
    composed["run"]["output_dir"], composed["data"]["cache_dir"] = "train", "cache"
    parameters: dict[str, Any] = {"config": composed}
    trained_record = stages.reusable(1, parameters)
    if trained_record is None:
        start = time.perf_counter()
        trained = train(cfg)
        checkpoint = Path(trained["best_checkpoint"] or trained["last_checkpoint"])
        trained_record = stages.finish(
            1,
            parameters,
            [checkpoint],
            checkpoint=checkpoint.relative_to(out).as_posix(),
            results={
                k: v for k, v in trained.items() if isinstance(v, (int, float, str, type(None)))
            },
            seconds=time.perf_counter() - start,
        )
    trained = trained_record["results"]
    checkpoint = out / trained_record["checkpoint"]
    timings = {"train_s": float(trained_record["seconds"])}

    echo(f"[2/4] simulating {n_test_events} held-out test events (seed {seed})")
    test_dir = out / "test_events"
    config = SimulationConfig(volumes=BARREL_VOLUMES).validate()
    parameters = {"n_test_events": n_test_events, "seed": seed, "config": config.to_dict()}
    events_record = stages.reusable(2, parameters)
    if events_record is None:
        start = time.perf_counter()
        prefixes = simulate_to_directory(
            config, test_dir, n_events=n_test_events, seed=seed, first_event_id=1, progress=progress
        )
        events_record = stages.finish(
            2,
            parameters,
            [p for p in test_dir.iterdir() if p.is_file()],
            events=[p.name for p in prefixes],
            seconds=time.perf_counter() - start,
        )
    timings["simulate_test_s"] = float(events_record["seconds"])

    echo("[3/4] building tracks with TrackNET and with the baseline")
    parameters = {
        "model": _digest(trained_record),
        "events": _digest(events_record),
        "settings": BuildConfig().to_dict(),
    }
    built_record = stages.reusable(3, parameters)
    if built_record is None:
        seconds: dict[str, dict[int, float]] = {}
        for algorithm, label in _ALGORITHMS:
            built = build_directory(
                test_dir,
                out / "submissions" / f"{algorithm}.csv",
                algorithm,
                checkpoint if algorithm == "tracknet" else None,
                progress=progress,
            )
            seconds[label] = {int(k): float(v["seconds"]) for k, v in built.events.items()}
        built_record = stages.finish(
            3,
            parameters,
            [p for p in (out / "submissions").iterdir() if p.is_file()],
            build_seconds=seconds,
        )
    build_seconds = {
        label: {int(k): float(v) for k, v in per_event.items()}
        for label, per_event in built_record["build_seconds"].items()
    }

    echo("[4/4] evaluating and writing the report")
    parameters = {
        "inputs": [_digest(r) for r in (trained_record, events_record, built_record)],
    }
    if stages.reusable(4, parameters) is None:
        _report(out, trained, checkpoint, timings, build_seconds, n_test_events, seed)
        stages.finish(
            4,
            parameters,
            [*(p for p in (out / "report").iterdir() if p.is_file()), out / "summary.json"],
        )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    _print_summary(summary, echo)
    return summary


def _report(
    out: Path,
    trained: dict[str, Any],
    checkpoint: Path,
    timings: dict[str, float],
    build_seconds: dict[str, dict[int, float]],
    n_test_events: int,
    seed: int,
) -> dict[str, Any]:
    """Evaluate both submissions, write the report, the event display and ``summary.json``."""
    from .viz.event_display import write_event_display

    test_dir = out / "test_events"
    selection = ParticleSelection(min_pt=1.0, min_hits=5)
    entries = [
        ReportEntry(
            label,
            evaluate_submission(test_dir, out / "submissions" / f"{algorithm}.csv", selection),
            build_seconds.get(label, {}),
        )
        for algorithm, label in _ALGORITHMS
    ]
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
    sub = read_submission(out / "submissions" / "tracknet.csv")
    display = write_event_display(
        first, out / "report" / "event_display.html", sub.loc[sub["event_id"] == 1], selection
    )
    summary = {
        "checkpoint": str(checkpoint),
        "training": trained,
        "timings": timings,
        "algorithms": {e.name: e.evaluation.summary for e in entries},
        "build_seconds_per_event": {e.name: e.build_seconds for e in entries},
        "report": str(report),
        "event_display": str(display),
    }
    write_json_atomic(out / "summary.json", _plain(summary))
    return summary


def _print_summary(summary: dict[str, Any], echo: Callable[[str], None]) -> None:
    keys = (names.TRACKML_SCORE, names.EFFICIENCY, names.FAKE_RATE, names.DUPLICATE_RATE)
    echo("")
    echo(f"{'':>12}  " + "  ".join(f"{k:>15}" for k in keys))
    for name, figures in summary["algorithms"].items():
        values = [figures.get(k) for k in keys]
        echo(
            f"{name:>12}  " + "  ".join(f"{'n/a' if v is None else f'{v:.4f}':>15}" for v in values)
        )
    echo("")
    echo(f"report: {summary['report']}")
    echo(f"event display: {summary['event_display']}")
