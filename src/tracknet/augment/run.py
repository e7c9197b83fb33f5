"""Overlay a labelled source into a directory: the work behind ``tracknet overlay``.

:func:`overlay_to_directory` asks the source's detector (a straw dataset or TrackML
events with truth) for the track library, generates synthetic events (no background)
or semi-synthetic events (with a background of the same detector) and has the detector
write them in the project's event format (:mod:`tracknet.augment.writers`: a straw
dataset for straw events, TrackML CSV files for TrackML events), with the provenance
table ``overlay-provenance.csv`` and the record ``tracknet-dataset.json`` (kind,
parameters, seed, SHA-256 of every file; see :mod:`tracknet.io.straw`). Same inputs and
seed, same bytes. The detector-effect defaults of each detector are described in
:mod:`tracknet.augment.writers`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tracknet.augment.library import LibraryCriteria, TrackLibrary
from tracknet.augment.overlay import check_overlay
from tracknet.augment.writers import GENERATOR, PROVENANCE_FILE, OverlayJob
from tracknet.detectors import Detector, detector_named
from tracknet.errors import ConfigError
from tracknet.io.straw import source_kind
from tracknet.parallel import Workers

__all__ = [
    "GENERATOR",
    "PROVENANCE_FILE",
    "build_library",
    "default_criteria",
    "overlay_to_directory",
    "source_detector",
]


def source_detector(directory: str | os.PathLike[str]) -> Detector:
    """The detector of a labelled source (or background) directory; a one-line
    :class:`~tracknet.errors.DataError` when it is neither a straw dataset nor TrackML
    events."""
    return detector_named(source_kind(directory))


def default_criteria(kind: str) -> LibraryCriteria:
    """The library criteria of the detector called ``kind``: isolated tracks (one labelled
    track per source event) for straw sources; every track of at least 5 hits for
    TrackML sources."""
    return detector_named(kind).overlay_library_criteria()


def build_library(
    source: str | os.PathLike[str], criteria: LibraryCriteria | None = None
) -> TrackLibrary:
    """The library of a source directory: a straw dataset or TrackML events with truth.

    ``criteria`` defaults to isolated tracks (``max_tracks = 1``) for straw sources and
    to every track of at least 5 hits for TrackML sources.
    """
    return source_detector(source).track_library(source, criteria)


def overlay_to_directory(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    n_events: int,
    tracks_per_event: int,
    seed: int = 0,
    background: str | os.PathLike[str] | None = None,
    noise_rate: float | None = None,
    crosstalk: float | None = None,
    with_singles: bool = False,
    first_event_id: int = 0,
    criteria: LibraryCriteria | None = None,
    events_per_chunk: int = 10_000,
    progress: bool = False,
    workers: Workers | None = None,
) -> dict[str, Any]:
    """Write overlay events of ``source`` into ``out``; return the dataset record.

    ``out`` holds the whole overlay or, after an error or an interrupt, what it held
    before; a rerun replaces the files of the previous overlay. A TrackML overlay is
    resumable (:func:`~tracknet.io.resume.resumable_directory`: an interrupted run keeps
    its finished events for the same command to go on from); a straw overlay is written
    into a temporary sibling (:func:`~tracknet.io.atomic.atomic_directory`). ``workers``:
    where TrackML events are made (:mod:`tracknet.parallel`; the same files whatever it
    is); straw overlays are vectorised over events and run here.
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"output path {root} exists and is not a directory")
    detector = source_detector(source)
    if background is not None:
        background_detector = source_detector(background)
        if background_detector.name != detector.name:
            raise ConfigError(
                f"the background holds {background_detector.name} events "
                f"but the source holds {detector.name} events"
            )
        if Path(background).resolve() == root.resolve():
            raise ConfigError("the output directory must not be the background directory")
    if Path(source).resolve() == root.resolve():
        raise ConfigError("the output directory must not be the source directory")
    library = detector.track_library(source, criteria or detector.overlay_library_criteria())
    check_overlay(
        library, detector.name, n_events=n_events, tracks_per_event=tracks_per_event,
        first_event_id=first_event_id, seed=seed, with_singles=with_singles,
        has_background=background is not None,
    )  # fmt: skip
    if (
        isinstance(events_per_chunk, bool)
        or not isinstance(events_per_chunk, int)
        or events_per_chunk < 1
    ):
        raise ConfigError(f"events per chunk must be a positive integer, got {events_per_chunk!r}")
    data_kind = "synthetic" if background is None else "semi-synthetic"
    parameters: dict[str, Any] = {
        "source": str(source),
        "background": None if background is None else str(background),
        "n_events": n_events,
        "tracks_per_event": tracks_per_event,
        "first_event_id": first_event_id,
        "with_singles": with_singles,
        "library": library.describe(),
    }
    return detector.write_overlay(
        OverlayJob(
            library=library,
            root=root,
            parameters=parameters,
            data_kind=data_kind,
            n_events=n_events,
            tracks_per_event=tracks_per_event,
            seed=seed,
            first_event_id=first_event_id,
            with_singles=with_singles,
            background=background,
            noise_rate=noise_rate,
            crosstalk=crosstalk,
            events_per_chunk=events_per_chunk,
            progress=progress,
            workers=(workers or Workers(1)).validate(),
        )
    )
