"""Training data for Lightning: events -> cached tracks -> memory-mapped splits -> batches.

:class:`TrackDataModule` turns the ``data`` section into dataloaders: TrackML or simulated
events (simulated once into the cache), prepared tracks and datasets of
:mod:`tracknet.data.cache`, a reproducible split by event and length-grouped batches.
``prepare_data`` (one process per node) builds everything; ``setup`` opens it.

See docs/training-data.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from ..data.cache import (
    FlatTracks,
    build_dataset,
    dataset_key,
    default_cache_root,
    open_split,
    prepare_events,
    prepared_event_path,
    split_events,
)
from ..data.dataset import TrackBatch, TrackDataset, make_dataloader
from ..data.normalize import Normalizer
from ..errors import ConfigError, DataError
from ..io.event_files import EVENT_FILES
from ..io.trackml import list_events, parse_event_id, read_event
from ..parallel import Workers
from .settings import DataSettings, simulation_config
from .simulation_cache import TRACKML_EVENTS, SimulationCache

__all__ = ["TrackDataModule", "TrainingData", "describe_data"]

log = logging.getLogger(__name__)


class TrainingData(Protocol):
    """What a training run needs of a data module (TrackML or straw): its settings, the
    model frame, the prepared splits, the cost events of the region calibration and the
    checkpoint-meta description."""

    settings: DataSettings
    normalizer: Normalizer
    train_tracks: FlatTracks | None
    val_tracks: FlatTracks | None

    def cost_points(
        self, source: str, n_events: int, seed: int, simulation: dict[str, Any]
    ) -> tuple[np.ndarray, int]: ...

    def describe(self) -> dict[str, Any]: ...


def describe_data(module: Any) -> dict[str, Any]:
    """The checkpoint-meta description shared by the data modules: the settings, the
    events directory, and the events and tracks used for training and validation."""
    out: dict[str, Any] = module.settings.describe()
    out.update(
        {
            "events_dir": str(module.events_dir) if module.events_dir else None,
            "train_events": len(module.train_events),
            "val_events": len(module.val_events),
            "train_tracks": module.train_tracks.n_tracks if module.train_tracks else 0,
            "val_tracks": module.val_tracks.n_tracks if module.val_tracks else 0,
            "scale_mm": module.settings.scale_mm,
        }
    )
    return out


class TrackDataModule(L.LightningDataModule):
    """Training/validation tracks of the ``data`` settings (see docs/training-data.md)."""

    def __init__(
        self,
        settings: DataSettings,
        *,
        progress: bool = True,
        simulation: SimulationCache = TRACKML_EVENTS,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.progress = progress
        self.simulation = simulation
        self.workers = Workers.of(settings.prepare_workers, settings.dask_scheduler)
        self.normalizer = Normalizer(settings.scale_mm)
        self.cache_root = (
            Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_root()
        )
        self.train_tracks: FlatTracks | None = None
        self.val_tracks: FlatTracks | None = None
        self.dataset_dir: Path | None = None
        self.events_dir: Path | None = None
        self.train_events: list[int] = []
        self.val_events: list[int] = []

    # ------------------------------------------------------------------ resolution
    def _events_dir(self, create: bool) -> Path:
        s = self.settings
        if s.dir:
            root = Path(s.dir).expanduser()
            if not root.is_dir():
                raise DataError("data.dir is not a directory", file=str(root))
            return root
        sim = s.simulation
        config = simulation_config(sim.config)
        args = (config, sim.n_events, sim.seed, sim.first_event_id)
        directory = self.simulation.directory(self.cache_root, *args)
        if not create and not self.simulation.is_complete(directory):
            raise DataError(
                "simulated events are missing (prepare_data has not run)", file=str(directory)
            )
        return self.simulation.events(
            self.cache_root, *args, progress=self.progress, workers=self.workers
        )

    def _event_prefixes(self, directory: Path) -> list[Path]:
        prefixes = list_events(directory)
        if not prefixes:
            raise DataError(
                f"no TrackML events ({EVENT_FILES}) in data directory",
                file=str(directory),
            )
        if self.settings.max_events is not None:
            prefixes = prefixes[: self.settings.max_events]
        return prefixes

    def _resolve(self, build: bool) -> Path:
        s = self.settings
        directory = self._events_dir(create=build)
        prefixes = self._event_prefixes(directory)
        event_ids = [parse_event_id(p) for p in prefixes]
        train_ids, val_ids = split_events(event_ids, s.val_fraction, s.min_val_events, s.split_seed)
        if build:
            prepared = prepare_events(
                self.cache_root, prefixes, s.prep, workers=self.workers, progress=self.progress
            )
        else:
            prepared = [prepared_event_path(self.cache_root, p, s.prep) for p in prefixes]
        key = dataset_key(prepared, val_ids, s.track_filter, s.dims, self.normalizer)
        dataset_dir = self.cache_root / "datasets" / key
        if build:
            build_dataset(
                dataset_dir, prepared, event_ids, val_ids, s.track_filter, s.dims, self.normalizer
            )
        self.events_dir = directory
        self.train_events, self.val_events = train_ids, val_ids
        return dataset_dir

    # ------------------------------------------------------------------ Lightning hooks
    def prepare_data(self) -> None:
        self._resolve(build=True)

    def setup(self, stage: str | None = None) -> None:
        if self.train_tracks is not None:
            return
        dataset_dir = self._resolve(build=False)
        if not (dataset_dir / "manifest.json").is_file():  # e.g. setup called without prepare_data
            dataset_dir = self._resolve(build=True)
        self.dataset_dir = dataset_dir
        self.train_tracks = open_split(dataset_dir, "train")
        self.val_tracks = open_split(dataset_dir, "val")
        log.info(
            "data: %d training tracks (%d events), %d validation tracks (%d events), cache %s",
            self.train_tracks.n_tracks,
            len(self.train_events),
            self.val_tracks.n_tracks,
            len(self.val_events),
            dataset_dir,
        )

    def _dataset(self, tracks: FlatTracks) -> TrackDataset:
        return TrackDataset.from_model_arrays(
            tracks.coords, tracks.offsets, self.normalizer, self.settings.dims
        )

    def train_dataloader(self) -> DataLoader[TrackBatch]:
        assert self.train_tracks is not None, "setup() first"
        s = self.settings
        return make_dataloader(
            self._dataset(self.train_tracks),
            s.batch_size,
            shuffle=True,
            seed=s.split_seed,
            num_workers=s.num_workers,
            bucket_batches=s.bucket_batches,
            persistent_workers=s.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader[TrackBatch]:
        assert self.val_tracks is not None, "setup() first"
        s = self.settings
        return make_dataloader(
            self._dataset(self.val_tracks),
            s.val_batch_size,
            shuffle=False,
            seed=s.split_seed,
            num_workers=s.num_workers,
            bucket_batches=s.bucket_batches,
            persistent_workers=s.num_workers > 0,
        )

    def cost_points(
        self, source: str, n_events: int, seed: int, simulation: dict[str, Any]
    ) -> tuple[np.ndarray, int]:
        """Hit positions (mm, all hits) of the events that price a search sphere, and their number.

        ``source="validation"``: the validation events of this data. ``"simulated"``:
        ``n_events`` events simulated with the SimulationConfig fields ``simulation``
        (cached under ``<cache>/simulated/`` like the training events).
        """
        if source == "validation":
            if self.events_dir is None:
                raise DataError("cost events: setup() has not run")
            ids = set(self.val_events)
            prefixes = [
                p for p in self._event_prefixes(self.events_dir) if parse_event_id(p) in ids
            ]
        elif source == "simulated":
            config = simulation_config(simulation)
            directory = self.simulation.events(
                self.cache_root,
                config,
                int(n_events),
                int(seed),
                900_000,
                progress=self.progress,
                workers=self.workers,
            )
            prefixes = list_events(directory)
        else:
            raise ConfigError(
                "training.region_calibration.cost_source must be 'validation' or 'simulated', "
                f"got {source!r}"
            )
        if not prefixes:
            raise DataError("no cost events for the region calibration")
        points = [read_event(p, parts=("hits",)).positions() for p in prefixes]
        return np.concatenate(points), len(points)

    def describe(self) -> dict[str, Any]:
        """Primitives about the data used (checkpoint meta)."""
        out = describe_data(self)
        if self.settings.source == "simulated" and not self.settings.dir:
            sim = self.settings.simulation
            out["simulation"] = {
                "n_events": sim.n_events,
                "seed": sim.seed,
                "first_event_id": sim.first_event_id,
                "config": simulation_config(sim.config).to_dict(),
            }
        return out
