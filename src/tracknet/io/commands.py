"""The ``tracknet info`` command: read one TrackML event strictly and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .atomic import json_line

__all__ = ["info", "register"]


def info(
    prefix: Path = typer.Argument(
        ..., help="Event prefix (dir/event000001000) or one of its files."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Read one TrackML event strictly and summarise it."""
    from .trackml import as_prefix, available_parts, read_event

    base = as_prefix(prefix)
    parts = available_parts(base) or ("hits",)
    event = read_event(base, parts=parts)
    summary: dict[str, Any] = {
        "event_id": event.event_id,
        "parts": list(event.parts()),
        "n_hits": event.n_hits,
        "volumes": sorted(int(v) for v in event.hits.volume_id.unique()),
    }
    if event.truth is not None:
        summary["noise_fraction"] = float((event.truth.particle_id == 0).mean())
        summary["n_particles_with_hits"] = int(
            event.truth.particle_id[event.truth.particle_id > 0].nunique()
        )
    if event.particles is not None:
        summary["n_particles"] = len(event.particles)
    if as_json:
        typer.echo(json_line(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key:>22}: {value}")


def register(app: typer.Typer) -> None:
    """Add ``info`` to ``app``."""
    app.command("info")(info)
