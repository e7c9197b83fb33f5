"""Write overlay events in the project's event format, one writer per detector.

A straw overlay is written as a straw dataset (chunked Parquet), a TrackML overlay as
TrackML CSV files; both write the provenance table ``overlay-provenance.csv``
(:data:`~tracknet.augment.overlay.PROVENANCE_COLUMNS`) and the record
``tracknet-dataset.json`` beside the events. The detectors call these writers
(``Detector.write_overlay``); the generic job is
:func:`tracknet.augment.run.overlay_to_directory`.

Detector-effect defaults of straw overlays (``noise_rate`` / ``crosstalk`` left
``None``): synthetic events get the realistic defaults of
:class:`~tracknet.simulation.straw.response.StrawResponse` (noise 0.001 per straw,
crosstalk 0.01); semi-synthetic events get crosstalk 0.01 but no added noise (the real
background carries its own). The library's tracks already went through the straw
efficiency and drift resolution of their source, so neither is applied again. TrackML overlays
have no noise or crosstalk model: giving either raises :class:`ConfigError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from tqdm import tqdm

from tracknet.augment.library import TrackLibrary
from tracknet.augment.overlay import PROVENANCE_COLUMNS, iter_straw_overlay, iter_trackml_overlay
from tracknet.errors import ConfigError
from tracknet.io.atomic import atomic_directory, atomic_path
from tracknet.io.resume import Journal, resumable_directory, sha256_of
from tracknet.io.straw import DATASET_FILE, StrawDataset, write_dataset_record, write_straw_dataset
from tracknet.io.trackml import write_event
from tracknet.notes import note
from tracknet.parallel import Workers, run_ordered
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.response import StrawResponse

__all__ = [
    "GENERATOR",
    "PROVENANCE_FILE",
    "OverlayJob",
    "write_straw_overlay",
    "write_trackml_overlay",
]

PROVENANCE_FILE = "overlay-provenance.csv"
GENERATOR = "tracknet.augment"
_REALISTIC = StrawResponse()


@dataclass(frozen=True)
class OverlayJob:
    """One overlay to write: the library, where, and the (already checked) settings of
    :func:`tracknet.augment.run.overlay_to_directory`; ``parameters`` is the record's
    parameters so far (a writer adds its detector's own)."""

    library: TrackLibrary
    root: Path
    parameters: dict[str, Any]
    data_kind: str
    n_events: int
    tracks_per_event: int
    seed: int
    first_event_id: int
    with_singles: bool
    background: str | os.PathLike[str] | None
    noise_rate: float | None
    crosstalk: float | None
    events_per_chunk: int
    progress: bool
    workers: Workers

    @property
    def total(self) -> int:
        """Events written: the overlays, and the singles when asked for."""
        return self.n_events + (len(self.library) if self.with_singles else 0)


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


def _record(root: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((root / DATASET_FILE).read_text(encoding="utf-8"))
    return record


def write_straw_overlay(job: OverlayJob) -> dict[str, Any]:
    """Write a straw overlay as a straw dataset into ``job.root``, all of it or nothing (a
    temporary sibling first); return the dataset record."""
    with atomic_directory(job.root, record=DATASET_FILE) as staging:
        _write_straw_overlay(replace(job, root=staging))
    return _record(job.root)


def _write_straw_overlay(job: OverlayJob) -> None:
    library, root, background = job.library, job.root, job.background
    response = StrawResponse(
        efficiency=1.0,
        drift_sigma_mm=0.0,  # the library's drift distances were measured by their source
        noise_rate=(_REALISTIC.noise_rate if background is None else 0.0)
        if job.noise_rate is None
        else job.noise_rate,
        crosstalk=_REALISTIC.crosstalk if job.crosstalk is None else job.crosstalk,
    )
    geometry = library.geometry or StrawGeometry()
    background_batch = None
    if background is not None:
        background_set = StrawDataset.open(background)
        if StrawGeometry.from_dict(background_set.geometry_parameters()) != geometry:
            raise ConfigError("the background's straw geometry differs from the source's")
        background_batch = background_set.read_all()
    parameters = {**job.parameters, "geometry": geometry.to_dict(), "response": response.to_dict()}
    provenance: list[pd.DataFrame] = []
    with tqdm(
        total=job.total, desc=f"overlay ({job.data_kind})", unit="event", disable=not job.progress
    ) as bar:
        write_straw_dataset(
            iter_straw_overlay(
                library,
                n_events=job.n_events,
                tracks_per_event=job.tracks_per_event,
                seed=job.seed,
                response=response,
                first_event_id=job.first_event_id,
                with_singles=job.with_singles,
                background=background_batch,
                events_per_batch=job.events_per_chunk,
                provenance=provenance,
            ),
            root,
            kind=job.data_kind,
            parameters=parameters,
            seed=job.seed,
            generator=GENERATOR,
            on_chunk=lambda batch: bar.update(len(batch)),
            extra_files=lambda: [_write_provenance(root, provenance)],
        )


@dataclass(frozen=True)
class _OverlayChunk:
    """Writes the TrackML overlay events ``ids`` into the journal's work directory and
    records each one there as soon as it is written: a task of
    :func:`~tracknet.parallel.run_ordered` (each event has its own random stream, so any
    grouping of the ids gives the events of the serial run). Returns each event's files
    and provenance rows, in the order of ``ids``."""

    library: TrackLibrary
    journal: Journal
    seed: int
    tracks_per_event: int
    n_events: int
    first_event_id: int
    with_singles: bool
    background: str | os.PathLike[str] | None

    def __call__(self, ids: tuple[int, ...]) -> list[dict[str, Any]]:
        provenance: list[pd.DataFrame] = []
        entries: list[dict[str, Any]] = []
        for event in iter_trackml_overlay(
            self.library,
            n_events=self.n_events,
            tracks_per_event=self.tracks_per_event,
            seed=self.seed,
            first_event_id=self.first_event_id,
            with_singles=self.with_singles,
            background_dir=self.background,
            provenance=provenance,
            only=frozenset(ids),
        ):
            paths = write_event(event, self.journal.work_dir)
            files = {path.name: sha256_of(path) for path in paths}
            rows = {c: [int(v) for v in provenance[-1][c]] for c in PROVENANCE_COLUMNS}
            self.journal.record(_event_key(event.event_id), files, {"provenance": rows})
            entries.append({"files": files, "data": {"provenance": rows}})
        return entries


def _event_key(event_id: int) -> str:
    return f"event{event_id:09d}"


#: The most events one overlay task makes (the library travels to a worker once a task).
_MAX_CHUNK = 200


def _chunks(ids: list[int], workers: Workers) -> list[tuple[int, ...]]:
    """The event ids in groups of about a quarter of a worker's share each, at most
    :data:`_MAX_CHUNK`."""
    size = max(1, min(_MAX_CHUNK, -(-len(ids) // (4 * workers.n))))
    return [tuple(ids[lo : lo + size]) for lo in range(0, len(ids), size)]


def _stamp(directory: str | os.PathLike[str] | None) -> list[list[Any]] | None:
    """Name, size and modification time of the files of an input directory (an edit
    restarts an interrupted overlay)."""
    if directory is None:
        return None
    files = sorted(p for p in Path(directory).iterdir() if p.is_file())
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def write_trackml_overlay(job: OverlayJob) -> dict[str, Any]:
    """Write a TrackML overlay as TrackML CSV files into ``job.root``; return the dataset
    record. Resumable: the events go into a work directory beside ``job.root`` and are
    journalled one by one, and the same command after an interrupt makes only the events
    not finished yet (docs/parallel.md)."""
    if (job.noise_rate or 0.0) != 0.0 or (job.crosstalk or 0.0) != 0.0:
        raise ConfigError(
            "noise rate and crosstalk apply to straw events only (TrackML overlays add no noise)"
        )
    fingerprint = {
        "parameters": job.parameters,
        "kind": job.data_kind,
        "seed": job.seed,
        "source": _stamp(job.parameters["source"]),
        "background": _stamp(job.background),
    }
    event_ids = [*range(job.first_event_id, job.first_event_id + job.total)]
    with resumable_directory(job.root, record=DATASET_FILE, fingerprint=fingerprint) as journal:
        entries = {k: journal.completed(_event_key(k)) for k in event_ids}
        todo = [k for k, entry in entries.items() if entry is None]
        if journal.resumed:
            note(f"resuming: {journal.resumed} of {job.total} events already made")
        task = _OverlayChunk(
            library=job.library,
            journal=journal,
            seed=job.seed,
            tracks_per_event=job.tracks_per_event,
            n_events=job.n_events,
            first_event_id=job.first_event_id,
            with_singles=job.with_singles,
            background=job.background,
        )
        with tqdm(
            total=job.total,
            initial=job.total - len(todo),
            desc=f"overlay ({job.data_kind})",
            unit="event",
            disable=not job.progress,
        ) as bar:
            chunks = _chunks(todo, job.workers)
            results = run_ordered(task, chunks, job.workers, preload=(__name__,))
            for ids, made in zip(chunks, results, strict=True):
                entries.update(zip(ids, made, strict=True))
                bar.update(len(ids))
        written: list[str] = []
        provenance: list[pd.DataFrame] = []
        for k in event_ids:
            entry = entries[k]
            assert entry is not None
            written.extend(entry["files"])
            provenance.append(pd.DataFrame(entry["data"]["provenance"]))
        work = journal.work_dir
        written.append(_write_provenance(work, provenance))
        write_dataset_record(
            work,
            kind=job.data_kind,
            detector="trackml",
            generator=GENERATOR,
            seed=job.seed,
            parameters=job.parameters,
            n_events=job.total,
            files=written,
        )
    return _record(job.root)
