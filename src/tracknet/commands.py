"""The ``tracknet demo`` command: the package's main job (:mod:`tracknet.demo`).

Train on simulated events, build with TrackNET and the baseline, evaluate, report.
"""

from __future__ import annotations

from pathlib import Path

import typer

from .commands_common import check_count, output_dir, progress_option, show_progress

__all__ = ["demo", "register"]


def demo(
    out: Path = typer.Option(Path("outputs/demo"), "--out", help="Output directory of the demo."),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Training epochs (default: the demo recipe's)."
    ),
    train_events: int | None = typer.Option(
        None, "--train-events", help="Simulated training events (default: the demo recipe's)."
    ),
    test_events: int = typer.Option(
        2, "--test-events", help="Simulated held-out events to build and evaluate."
    ),
    seed: int = typer.Option(2026, "--seed", help="Seed of the test events."),
    progress: bool | None = progress_option("Show progress bars"),
) -> None:
    """The main job: train on simulated events, build with TrackNET and the baseline,
    evaluate, report."""
    from .demo import DEMO_TRAIN_OVERRIDES, run_demo

    output_dir(out, "--out")
    check_count(test_events, "--test-events", high=MAX_TEST_EVENTS)
    check_count(seed, "--seed", low=0)
    if epochs is not None:
        check_count(epochs, "--epochs")
    if train_events is not None:
        check_count(train_events, "--train-events")
    overrides = list(DEMO_TRAIN_OVERRIDES)
    if epochs is not None:
        overrides.append(f"trainer.max_epochs={epochs}")
    if train_events is not None:
        overrides.append(f"data.simulation.n_events={train_events}")
    run_demo(
        out,
        n_test_events=test_events,
        seed=seed,
        train_overrides=tuple(overrides),
        progress=show_progress(progress),
        echo=typer.echo,
    )


#: The most held-out events ``demo`` builds (a demo, not a production run).
MAX_TEST_EVENTS = 10_000


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)
