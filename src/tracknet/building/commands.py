"""The ``tracknet build`` command, as a plain typer-compatible function.

Added to the ``tracknet`` app by :func:`register` (from :mod:`tracknet.cli`). Input errors
(unknown algorithm, a checkpoint of another model, a directory without hits, unknown
event ids, a bad ``--config``) raise :class:`~tracknet.errors.TrackNetError`, which the
CLI prints as one line ``error: ...`` with exit status 2; the submission file is only
written, atomically, once every event is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..commands_common import MAX_THREADS, check_count, output_file, progress_option, show_progress
from ..errors import ConfigError

__all__ = ["build", "register"]


def build(
    data_dir: Path = typer.Option(
        ...,
        "--data-dir",
        help="Directory of TrackML events, or a straw dataset (only the hits are read).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Submission CSV to write: event_id,hit_id,track_id."
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="StepAhead TrackNET checkpoint (not needed for --algorithm baseline).",
    ),
    algorithm: str = typer.Option(
        "tracknet",
        "--algorithm",
        help="tracknet (learned search spheres) or baseline (helix follower).",
    ),
    events: str | None = typer.Option(
        None, "--events", help="Comma-separated event ids, e.g. 1000,1001 (default: all)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help=(
            "JSON object of build settings to override "
            "(tracknet.building.BuildConfig; StrawBuildConfig for straw data)."
        ),
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="PyTorch CPU threads (default: PyTorch's choice)."
    ),
    progress: bool | None = progress_option(),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON summary instead of a sentence."
    ),
) -> None:
    """Build tracks for the events of --data-dir and write a TrackML submission.

    Every hit of every event is written once; hits on no track get track_id 0.
    """
    from ..detectors import detector_of
    from .directory import build_directory, parse_event_list
    from .settings import ALGORITHMS

    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown --algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    output_file(out, "--out")
    if threads is not None:
        check_count(threads, "--threads", high=MAX_THREADS)
        import torch

        torch.set_num_threads(threads)
    config_type = detector_of(data_dir).build_backend().config_type
    settings = config_type.from_json(config) if config is not None else config_type()
    result = build_directory(
        data_dir,
        out,
        algorithm=algorithm,
        checkpoint=checkpoint,
        events=parse_event_list(events),
        progress=show_progress(progress),
        config=settings,
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "out": str(result.path),
                    "algorithm": algorithm,
                    "n_events": result.n_events,
                    "n_hits": result.n_hits,
                    "n_tracks": result.n_tracks,
                    "seconds_per_event": result.seconds_per_event,
                },
                sort_keys=True,
            )
        )
    else:
        typer.echo(
            f"wrote {result.n_tracks} tracks ({algorithm}) for {result.n_events} event(s), "
            f"{result.seconds_per_event:.2f} s per event, to {result.path}"
        )


def register(app: typer.Typer) -> None:
    """Add ``build`` to ``app``."""
    app.command("build")(build)
