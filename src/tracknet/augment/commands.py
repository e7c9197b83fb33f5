"""The ``tracknet overlay`` command; :func:`register` adds it to the ``tracknet`` app."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from tracknet.commands_common import (
    check_count,
    named_options,
    output_dir,
    progress_option,
    show_progress,
    workers_of,
    workers_options,
)

__all__ = ["overlay", "register"]

_WORKERS, _SCHEDULER = workers_options()


def overlay(
    source: Path = typer.Option(
        ...,
        "--source",
        help="Labelled events to take isolated tracks from "
        "(straw dataset or TrackML directory with truth).",
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output directory (straw dataset, or TrackML CSV files) with tracknet-dataset.json.",
    ),
    events: int = typer.Option(..., "--events", help="Number of overlay events."),
    tracks_per_event: int = typer.Option(
        ..., "--tracks-per-event", help="Library tracks overlaid into each event (k)."
    ),
    background: Path | None = typer.Option(
        None,
        "--background",
        help="Events whose own hits are kept, unlabelled (semi-synthetic); same kind as --source.",
    ),
    noise_rate: float | None = typer.Option(
        None,
        "--noise-rate",
        help="Straw only: noise hits per straw per event [default: 0.001, or 0 with --background].",
    ),
    crosstalk: float | None = typer.Option(
        None,
        "--crosstalk",
        help="Straw only: probability that each neighbour of a fired straw fires [default: 0.01].",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed; event e depends only on (seed, e)."),
    with_singles: bool = typer.Option(
        False, "--with-singles", help="Also write each library track as its own event."
    ),
    first_event_id: int = typer.Option(0, "--first-event-id", help="Id of the first event."),
    min_hits: int = typer.Option(
        5, "--min-hits", help="Library: tracks with at least this many hits."
    ),
    min_pt: float = typer.Option(
        0.0, "--min-pt", help="Library: tracks with hypot(px, py) >= this (GeV)."
    ),
    max_eta: float = typer.Option(
        math.inf, "--max-eta", help="Library (TrackML): tracks with |eta| <= this."
    ),
    max_source_tracks: int | None = typer.Option(
        None,
        "--max-source-tracks",
        help="Library: source events with at most this many labelled tracks "
        "[default: 1 for straw, no limit for TrackML].",
    ),
    max_other_hits: int | None = typer.Option(
        None,
        "--max-other-hits",
        help="Library: source events with at most this many noise/crosstalk/unlabelled hits "
        "[default: no limit].",
    ),
    max_fit_rms: float | None = typer.Option(
        None,
        "--max-fit-rms",
        help="Library from straw events without labels: the largest residual RMS (mm) of "
        "the circle fit of a selected track [default: LibraryCriteria.max_fit_rms_mm].",
    ),
    alignment: Path | None = typer.Option(
        None,
        "--alignment",
        help="Library from straw events without labels: select and fit at this straw "
        "alignment (tracknet align); the hits keep their design positions.",
    ),
    events_per_chunk: int = typer.Option(
        10_000, "--events-per-chunk", help="Straw: events per Parquet chunk."
    ),
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
    progress: bool | None = progress_option(),
) -> None:
    """Overlay isolated labelled tracks, k per event: synthetic events, or semi-synthetic ones on a --background.

    Works for straw datasets (written as Parquet) and TrackML directories (written as
    TrackML CSV); the kind is detected from --source. TrackML events are made in
    --workers processes (or on --scheduler); straw overlays run in this process.
    """  # noqa: E501
    from tracknet.parallel import prestart

    where = workers_of(workers, scheduler)
    prestart(where, preload=("tracknet.augment.writers",))
    from tracknet.augment.library import LibraryCriteria
    from tracknet.augment.run import overlay_to_directory, source_detector

    check_count(events, "--events", high=MAX_OVERLAY_EVENTS)
    check_count(tracks_per_event, "--tracks-per-event")
    check_count(seed, "--seed", low=0)
    check_count(first_event_id, "--first-event-id", low=0, high=MAX_OVERLAY_EVENTS)
    check_count(events_per_chunk, "--events-per-chunk")
    output_dir(out, "--out")
    if max_source_tracks is None:
        max_source_tracks = source_detector(source).overlay_library_criteria().max_tracks
    with named_options(_FLAGS):
        criteria = LibraryCriteria(
            min_hits=min_hits,
            max_tracks=max_source_tracks,
            max_other_hits=max_other_hits,
            min_pt_gev=min_pt,
            max_abs_eta=max_eta,
            alignment=None if alignment is None else str(alignment),
        )
        if max_fit_rms is not None:
            criteria = criteria.with_overrides({"max_fit_rms_mm": max_fit_rms})
    record = overlay_to_directory(
        source,
        out,
        n_events=events,
        tracks_per_event=tracks_per_event,
        seed=seed,
        background=background,
        noise_rate=noise_rate,
        crosstalk=crosstalk,
        with_singles=with_singles,
        first_event_id=first_event_id,
        criteria=criteria,
        events_per_chunk=events_per_chunk,
        progress=show_progress(progress),
        workers=where,
    )
    library = record["parameters"]["library"]
    typer.echo(
        f"wrote {record['n_events']} {record['kind']} {record['detector']} events to {out} "
        f"(library: {library['n_tracks']} tracks from {source})"
    )


#: The most events one ``overlay`` run writes (event ids stay exact in every format).
MAX_OVERLAY_EVENTS = 999_999_999
#: The option that sets each library criterion (named in its errors).
_FLAGS = {
    "min_hits": "--min-hits", "max_tracks": "--max-source-tracks",
    "max_other_hits": "--max-other-hits", "max_fit_rms_mm": "--max-fit-rms",
    "min_pt_gev": "--min-pt", "max_abs_eta": "--max-eta", "alignment": "--alignment",
}  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``overlay`` to ``app``."""
    app.command("overlay")(overlay)
