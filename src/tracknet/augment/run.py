"""Overlay a labelled source into a directory: the work behind ``tracknet overlay``.

:func:`overlay_to_directory` detects the kind of the source (a straw dataset or
TrackML events with truth), builds the track library, generates synthetic events (no
background) or semi-synthetic events (with a background of the same kind) and writes
them in the project's event format: a straw dataset (chunked Parquet) for straw
events, TrackML CSV files for TrackML events. Beside the events it writes the
provenance table ``overlay-provenance.csv`` (:data:`~tracknet.augment.overlay.PROVENANCE_COLUMNS`)
and the record ``tracknet-dataset.json`` (kind, parameters, seed, SHA-256 of every
file; see :mod:`tracknet.io.straw`). Same inputs and seed, same bytes.

Detector-effect defaults of straw overlays (``noise_rate`` / ``crosstalk`` left
``None``): synthetic events get the realistic defaults of
:class:`~tracknet.simulation.straw.response.StrawResponse` (noise 0.001 per straw,
crosstalk 0.01); semi-synthetic events get crosstalk 0.01 but no added noise (the real
background carries its own). The library's tracks already went through the straw
efficiency of their source, so no further inefficiency is applied. TrackML overlays
have no noise or crosstalk model: giving either raises :class:`ConfigError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from tqdm import tqdm

from tracknet.augment.library import LibraryCriteria, TrackLibrary, build_library
from tracknet.augment.overlay import (
    PROVENANCE_COLUMNS,
    check_overlay,
    iter_straw_overlay,
    iter_trackml_overlay,
)
from tracknet.errors import ConfigError
from tracknet.io.atomic import atomic_path
from tracknet.io.straw import (
    DATASET_FILE,
    StrawDataset,
    source_kind,
    write_dataset_record,
    write_straw_dataset,
)
from tracknet.io.trackml import write_event
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.response import StrawResponse

__all__ = ["GENERATOR", "PROVENANCE_FILE", "default_criteria", "overlay_to_directory"]

PROVENANCE_FILE = "overlay-provenance.csv"
GENERATOR = "tracknet.augment"
_REALISTIC = StrawResponse()


def default_criteria(kind: str) -> LibraryCriteria:
    """Isolated tracks (one labelled track per source event) for straw sources; every
    track of at least 5 hits for TrackML sources."""
    return LibraryCriteria() if kind == "straw" else LibraryCriteria(max_tracks=None)


def _write_provenance(directory: Path, frames: list[pd.DataFrame]) -> str:
    frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: [] for c in PROVENANCE_COLUMNS})
    )
    table = pa.Table.from_pandas(
        frame[list(PROVENANCE_COLUMNS)].astype("int64"), preserve_index=False
    ).replace_schema_metadata(None)
    with atomic_path(directory / PROVENANCE_FILE) as tmp:
        pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_header="none", quoting_style="none"))
    return PROVENANCE_FILE


def _previous_files(directory: Path) -> set[str]:
    record = directory / DATASET_FILE
    if not record.is_file():
        return set()
    try:
        names = json.loads(record.read_text(encoding="utf-8")).get("sha256", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return {n for n in names if isinstance(n, str) and Path(n).name == n}


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
) -> dict[str, Any]:
    """Write overlay events of ``source`` into ``out``; return the dataset record."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"output path {root} exists and is not a directory")
    kind = source_kind(source)
    if background is not None:
        background_kind = source_kind(background)
        if background_kind != kind:
            raise ConfigError(
                f"the background holds {background_kind} events but the source holds {kind} events"
            )
        if Path(background).resolve() == root.resolve():
            raise ConfigError("the output directory must not be the background directory")
    if Path(source).resolve() == root.resolve():
        raise ConfigError("the output directory must not be the source directory")
    library = build_library(source, criteria or default_criteria(kind))
    check_overlay(
        library, kind, n_events=n_events, tracks_per_event=tracks_per_event, first_event_id=first_event_id,
        seed=seed, with_singles=with_singles, has_background=background is not None,
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
    provenance: list[pd.DataFrame] = []
    if kind == "straw":
        response = StrawResponse(
            efficiency=1.0,
            noise_rate=(_REALISTIC.noise_rate if background is None else 0.0)
            if noise_rate is None
            else noise_rate,
            crosstalk=_REALISTIC.crosstalk if crosstalk is None else crosstalk,
        )
        geometry = library.geometry or StrawGeometry()
        background_batch = None
        if background is not None:
            background_set = StrawDataset.open(background)
            if StrawGeometry.from_dict(background_set.geometry_parameters()) != geometry:
                raise ConfigError("the background's straw geometry differs from the source's")
            background_batch = background_set.read_all()
        parameters.update(geometry=geometry.to_dict(), response=response.to_dict())
        total = n_events + (len(library) if with_singles else 0)
        with tqdm(
            total=total, desc=f"overlay ({data_kind})", unit="event", disable=not progress
        ) as bar:
            write_straw_dataset(
                iter_straw_overlay(
                    library,
                    n_events=n_events,
                    tracks_per_event=tracks_per_event,
                    seed=seed,
                    response=response,
                    first_event_id=first_event_id,
                    with_singles=with_singles,
                    background=background_batch,
                    events_per_batch=events_per_chunk,
                    provenance=provenance,
                ),  # fmt: skip
                root,
                kind=data_kind,
                parameters=parameters,
                seed=seed,
                generator=GENERATOR,
                on_chunk=lambda batch: bar.update(len(batch)),
                extra_files=lambda: [_write_provenance(root, provenance)],
            )
        return json.loads((root / DATASET_FILE).read_text(encoding="utf-8"))
    if (noise_rate or 0.0) != 0.0 or (crosstalk or 0.0) != 0.0:
        raise ConfigError(
            "noise rate and crosstalk apply to straw events only (TrackML overlays add no noise)"
        )
    return _trackml_to_directory(
        library, root, parameters=parameters, data_kind=data_kind, n_events=n_events, tracks_per_event=tracks_per_event,
        seed=seed, first_event_id=first_event_id, with_singles=with_singles, background=background, progress=progress,
        provenance=provenance,
    )  # fmt: skip


def _trackml_to_directory(
    library: TrackLibrary,
    root: Path,
    *,
    parameters: dict[str, Any],
    data_kind: str,
    n_events: int,
    tracks_per_event: int,
    seed: int,
    first_event_id: int,
    with_singles: bool,
    background: str | os.PathLike[str] | None,
    progress: bool,
    provenance: list[pd.DataFrame],
) -> dict[str, Any]:
    events = iter_trackml_overlay(
        library, n_events=n_events, tracks_per_event=tracks_per_event, seed=seed, first_event_id=first_event_id,
        with_singles=with_singles, background_dir=background, provenance=provenance,
    )  # fmt: skip
    previous = _previous_files(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / DATASET_FILE).unlink(missing_ok=True)
    written: list[str] = []
    total = n_events + (len(library) if with_singles else 0)
    with tqdm(
        total=total, desc=f"overlay ({data_kind})", unit="event", disable=not progress
    ) as bar:
        for event in events:
            written.extend(p.name for p in write_event(event, root))
            bar.update(1)
    written.append(_write_provenance(root, provenance))
    for name in previous - set(written):
        (root / name).unlink(missing_ok=True)
    write_dataset_record(
        root,
        kind=data_kind,
        detector="trackml",
        generator=GENERATOR,
        seed=seed,
        parameters=parameters,
        n_events=total,
        files=written,
    )
    return json.loads((root / DATASET_FILE).read_text(encoding="utf-8"))
