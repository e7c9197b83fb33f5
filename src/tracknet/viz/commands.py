"""The event-display commands: ``tracknet display`` (TrackML, plotly HTML) and
``tracknet display-straw`` (straw event or geometry, matplotlib PNG).

Plotting libraries are imported inside the command bodies only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..commands_common import check_count, output_file
from ..errors import ConfigError

__all__ = ["display", "display_straw", "register"]


def display(
    data_dir: Path = typer.Option(..., "--data-dir", help="Directory of TrackML events."),
    event: int = typer.Option(..., "--event", help="Event id."),
    out: Path = typer.Option(..., "--out", help="Output HTML file."),
    submission: Path | None = typer.Option(
        None, "--submission", help="Colour found, missed and fake tracks of this submission."
    ),
    min_pt: float = typer.Option(0.0, "--min-pt", help="Particles to find: pT >= this (GeV)."),
    min_hits: int = typer.Option(
        3, "--min-hits", help="Particles to find: at least this many hits."
    ),
) -> None:
    """Interactive 3D event display (plotly HTML)."""
    from ..evaluation import ParticleSelection
    from ..io.trackml import available_parts, event_prefix, read_event, read_submission
    from .event_display import write_event_display

    output_file(out, "--out")
    check_count(min_hits, "--min-hits", low=0)
    check_count(event, "--event", low=0)
    prefix = event_prefix(data_dir, event)
    parts = [p for p in ("hits", "truth", "particles") if p in available_parts(prefix)] or ["hits"]
    loaded = read_event(prefix, parts=parts)
    sub = None
    if submission is not None:
        frame = read_submission(submission)
        sub = frame.loc[frame["event_id"].to_numpy() == event]
        if sub.empty:
            raise ConfigError(f"submission {submission} has no rows for event {event}")
    path = write_event_display(
        loaded, out, sub, ParticleSelection(min_pt=min_pt, min_hits=min_hits)
    )
    typer.echo(f"display: {path}")


def display_straw(
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Straw dataset directory."),
    event: int | None = typer.Option(None, "--event", help="Event id to draw."),
    geometry_only: bool = typer.Option(
        False,
        "--geometry-only",
        help="Draw the straws only (the dataset's geometry, or the default one).",
    ),
    truth: bool = typer.Option(True, "--truth/--no-truth", help="Join each track's true points."),
    dpi: int = typer.Option(150, "--dpi", help="Resolution of the PNG."),
) -> None:
    """Draw a straw event (hits coloured by label, drift circles) or the straw geometry as a PNG."""
    from ..io.straw import StrawDataset
    from ..simulation.straw.geometry import StrawGeometry
    from .straw import render_event_png, render_geometry_png

    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out}")
    if dpi < 10 or dpi > 1200:
        raise ConfigError(f"--dpi must be in [10, 1200], got {dpi}")
    output_file(out, "--out")
    if event is not None:
        check_count(event, "--event", low=0, high=2**63 - 1)
    dataset = StrawDataset.open(data_dir) if data_dir is not None else None
    geometry = (
        StrawGeometry.from_dict(dataset.geometry_parameters())
        if dataset is not None
        else StrawGeometry()
    )
    if geometry_only:
        render_geometry_png(geometry, out, dpi=dpi)
    else:
        if dataset is None or event is None:
            raise ConfigError("display-straw needs --data-dir and --event (or --geometry-only)")
        render_event_png(dataset.read_event(event), geometry, out, dpi=dpi, show_truth=truth)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``display`` and ``display-straw`` to ``app``."""
    app.command("display")(display)
    app.command("display-straw")(display_straw)
