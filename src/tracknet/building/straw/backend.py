"""The straw detector's track building, as the directory driver uses it: chunks of events."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...errors import DataError
from ...io.straw import StrawDataset
from ...model.checkpoint import LoadedModel
from ...simulation.straw import StrawBatch, StrawGeometry
from ..backend import UnitBuild
from .algorithms import make_straw_follower
from .batch import build_straw_batch
from .followers import check_straw_model, resolves_drift
from .settings import StrawBuildConfig

__all__ = ["StrawBuildBackend"]


@dataclass(frozen=True)
class _StrawEvents:
    """The straw dataset and the event ids to build (``None``: all)."""

    dataset: StrawDataset
    geometry: StrawGeometry
    wanted: np.ndarray | None

    @property
    def n_events(self) -> int:
        return len(self.dataset) if self.wanted is None else len(self.wanted)


class _ChunkBuilder:
    """Builds chunks of ``events_per_batch`` straw events; sums their counts for the record."""

    def __init__(
        self, algorithm: str, loaded: LoadedModel | None, config: StrawBuildConfig
    ) -> None:
        self.algorithm = algorithm
        self.loaded = loaded
        self.config = config
        self.follower = make_straw_follower(algorithm, loaded, config)
        self.stats: dict[str, int] = {}
        self.geometry: StrawGeometry | None = None
        self.n_events = 0
        self.seconds = 0.0

    def units(self, selection: _StrawEvents) -> Iterator[StrawBatch]:
        self.geometry = selection.geometry
        wanted = selection.wanted
        step = self.config.events_per_batch
        for batch in selection.dataset.iter_batches():
            if wanted is not None:
                batch = batch.take(np.flatnonzero(np.isin(batch.events["event_id"], wanted)))
            for lo in range(0, len(batch), step):
                yield batch.slice(lo, min(lo + step, len(batch)))

    def build(self, unit: StrawBatch) -> UnitBuild:
        assert self.geometry is not None, "units() gives the geometry"
        before = self.stats.get("tracks", 0)
        started = time.perf_counter()
        submission = build_straw_batch(
            unit,
            self.geometry,
            self.algorithm,
            self.loaded,
            self.config,
            stats=self.stats,
            follower=self.follower,
        )
        seconds = time.perf_counter() - started
        self.seconds += seconds
        self.n_events += len(unit)
        return UnitBuild(
            submission=submission,
            n_events=len(unit),
            n_tracks=self.stats.get("tracks", 0) - before,
            seconds=seconds,
        )

    def record_extras(self) -> dict[str, Any]:
        return {
            "detector": "straw",
            "radius_scale": getattr(self.follower, "radius_scale", None),
            "resolve_drift": resolves_drift(self.follower, self.config),
            "events_per_second": self.n_events / max(self.seconds, 1e-9),
            "counts": self.stats,
        }


class StrawBuildBackend:
    """Builds straw dataset directories (:class:`~tracknet.io.straw.StrawDataset`) with a
    2D straw model, many events at once."""

    config_type: ClassVar[type[StrawBuildConfig]] = StrawBuildConfig
    progress_label: ClassVar[str] = "build straw"

    def check_model(self, loaded: LoadedModel, where: str, config: StrawBuildConfig) -> None:
        check_straw_model(loaded, where)

    def select_events(
        self, data_dir: str | os.PathLike[str], events: Sequence[int] | None
    ) -> _StrawEvents:
        dataset = StrawDataset.open(data_dir)
        geometry = StrawGeometry.from_dict(dataset.geometry_parameters())
        wanted = None
        if events is not None:
            wanted = np.unique(np.asarray([int(e) for e in events], dtype=np.int64))
            missing = wanted[~np.isin(wanted, dataset.event_ids())]
            if len(missing):
                raise DataError(
                    f"event(s) {missing[:10].tolist()} not found in directory", file=str(data_dir)
                )
        selection = _StrawEvents(dataset, geometry, wanted)
        if selection.n_events == 0:
            raise DataError("no straw events to build", file=str(data_dir))
        return selection

    def builder(
        self, algorithm: str, loaded: LoadedModel | None, config: StrawBuildConfig
    ) -> _ChunkBuilder:
        return _ChunkBuilder(algorithm, loaded, config)
