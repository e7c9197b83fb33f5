"""The TrackML detector's track building, as the directory driver uses it: one event at a time."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, DataError
from ..events import SUBMISSION_SCHEMA
from ..io.atomic import atomic_path
from ..io.event_files import EVENT_FILES
from ..io.resume import sha256_of
from ..io.trackml import list_events, parse_event_id, read_event
from ..model.checkpoint import LoadedModel, load_checkpoint
from .backend import UnitBuild
from .pipeline import BuildResult, build_tracks, radius_scale_of
from .settings import BuildConfig

__all__ = ["TrackMLBuildBackend"]


def _figures(n_hits: int, result: BuildResult) -> dict[str, float | int]:
    """The per-event figures of the build record."""
    return {
        "n_hits": n_hits,
        "n_seeds": result.n_seeds,
        "n_candidates": result.n_candidates,
        "n_tracks": result.n_tracks,
        "seconds": result.seconds,
    }


@dataclass(frozen=True)
class _Events:
    """The event file prefixes to build."""

    prefixes: list[Path]

    @property
    def n_events(self) -> int:
        return len(self.prefixes)


class _EventBuilder:
    """Builds one TrackML event per unit; keeps the figures per event for the record."""

    def __init__(self, algorithm: str, loaded: LoadedModel | None, config: BuildConfig) -> None:
        self.algorithm = algorithm
        self.loaded = loaded
        self.config = config
        self.per_event: dict[int, dict[str, float | int]] = {}

    def units(self, selection: _Events) -> Iterator[Path]:
        return iter(selection.prefixes)

    def build(self, unit: Path) -> UnitBuild:
        event = read_event(unit, parts=("hits",))
        result = build_tracks(event, self.algorithm, self.loaded, self.config)
        figures = _figures(event.n_hits, result)
        self.per_event[event.event_id] = figures
        return UnitBuild(
            submission=result.submission,
            n_events=1,
            n_tracks=result.n_tracks,
            seconds=result.seconds,
            events={event.event_id: figures},
        )

    def event_task(self, work_dir: Path, checkpoint: str | None) -> BuildEvent:
        """The build of one event as a picklable task for worker processes."""
        task = BuildEvent(self.algorithm, checkpoint, self.config, Path(work_dir))
        task.loaded = self.loaded
        return task

    def record_extras(self) -> dict[str, Any]:
        loaded = self.loaded
        return {
            "radius_scale": radius_scale_of(self.config, loaded) if loaded is not None else None,
            "seconds_per_event": {str(k): v["seconds"] for k, v in self.per_event.items()},
            "events": {str(k): v for k, v in self.per_event.items()},
        }


@functools.lru_cache(maxsize=2)
def _worker_model(checkpoint: str) -> LoadedModel:
    """The model of a worker process, opened once per process."""
    return load_checkpoint(checkpoint)


@dataclass
class BuildEvent:
    """Builds one event into ``work_dir`` as ``event<id>.npy`` (its submission rows, int64
    ``event_id, hit_id, track_id``); returns the file's SHA-256 and the event's figures."""

    algorithm: str
    checkpoint: str | None
    config: BuildConfig
    work_dir: Path
    loaded: LoadedModel | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "loaded": None}  # workers open the checkpoint themselves

    def __call__(self, prefix: Path) -> dict[str, Any]:
        loaded = self.loaded
        if loaded is None and self.checkpoint is not None:
            loaded = _worker_model(self.checkpoint)
        event = read_event(prefix, parts=("hits",))
        result = build_tracks(event, self.algorithm, loaded, self.config)
        rows = result.submission[list(SUBMISSION_SCHEMA)].to_numpy(dtype=np.int64)
        path = self.work_dir / f"{event.prefix}.npy"
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, rows, allow_pickle=False)
        figures = _figures(event.n_hits, result)
        return {"event_id": event.event_id, "file": path.name, "sha256": sha256_of(path),
                "figures": figures}  # fmt: skip


class TrackMLBuildBackend:
    """Builds TrackML event directories (``event<id>-hits.csv[.gz]`` or ``-hits.parquet``)
    with a 3-D model."""

    config_type: ClassVar[type[BuildConfig]] = BuildConfig
    progress_label: ClassVar[str] = "build"

    def check_model(self, loaded: LoadedModel, where: str, config: BuildConfig) -> None:
        if loaded.model.input_dim != 3:
            raise ConfigError(
                f"{where}: the model reads {loaded.model.input_dim}-d hits; "
                "building needs (x, y, z) hits"
            )
        radius_scale_of(config, loaded)

    def select_events(
        self, data_dir: str | os.PathLike[str], events: Sequence[int] | None
    ) -> _Events:
        prefixes = list_events(data_dir)
        if not prefixes:
            raise DataError(
                f"no TrackML events ({EVENT_FILES}) in directory",
                file=str(data_dir),
            )
        if events is not None:
            wanted = [int(e) for e in events]
            found = {parse_event_id(p): p for p in prefixes}
            missing = sorted(set(wanted) - set(found))
            if missing:
                raise DataError(f"event(s) {missing} not found in directory", file=str(data_dir))
            prefixes = [found[e] for e in sorted(set(wanted))]
        return _Events(prefixes)

    def builder(
        self, algorithm: str, loaded: LoadedModel | None, config: BuildConfig
    ) -> _EventBuilder:
        return _EventBuilder(algorithm, loaded, config)
