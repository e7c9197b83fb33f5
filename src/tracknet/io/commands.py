"""The ``tracknet info`` and ``tracknet convert`` commands: read one TrackML event strictly
and summarise it; convert a directory of events between CSV and Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..commands_common import output_dir, parse_int_list, progress_option, show_progress
from .atomic import json_line

__all__ = ["convert", "info", "register"]


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


def convert(
    to: str = typer.Option(..., "--to", help="Format to write: parquet or csv."),
    data_dir: Path = typer.Option(..., "--data-dir", help="Directory of TrackML events."),
    out: Path = typer.Option(..., "--out", help="Output directory of the converted events."),
    events: str | None = typer.Option(
        None, "--events", help="Comma-separated event ids, e.g. 1000,1001 (default: all)."
    ),
    compress: bool = typer.Option(False, "--gzip", help="Write .csv.gz files (--to csv)."),
    progress: bool | None = progress_option(),
) -> None:
    """Convert every part of every event of --data-dir to CSV or Parquet files in --out."""
    from .convert import convert_events

    event_ids = parse_int_list(events, "--events") if events else None
    output_dir(out, "--out")
    written = convert_events(
        data_dir,
        out,
        fmt=to,
        compress=compress,
        event_ids=event_ids,
        progress=show_progress(progress),
    )
    typer.echo(f"wrote {len(written)} events as {to} to {out}")


def register(app: typer.Typer) -> None:
    """Add ``info`` and ``convert`` to ``app``."""
    app.command("info")(info)
    app.command("convert")(convert)
