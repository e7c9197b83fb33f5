"""Training data from straw events (``data.source: straw``): 2D tracks for a 2D model.

:class:`StrawDataModule` is the straw counterpart of
:class:`~tracknet.training.datamodule.TrackDataModule`: a straw dataset directory or
events simulated once into the cache, 2D tracks of one entry per layer crossing (straw
centres or drift-resolved crossings), a split by event and in-memory splits.

See docs/training-data.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from ..building.straw.alignment import aligned
from ..data.cache import FlatTracks, default_cache_root, split_events
from ..data.dataset import TrackBatch, TrackDataset, make_dataloader
from ..data.normalize import Normalizer
from ..data.straw_tracks import StrawTracks, straw_tracks
from ..errors import ConfigError, DataError
from .datamodule import describe_data
from .settings import DataSettings, straw_config
from .simulation_cache import STRAW_EVENTS, SimulationCache

__all__ = ["STRAW_DIMS", "StrawDataModule"]

log = logging.getLogger(__name__)

#: The coordinates a straw model reads: x and y.
STRAW_DIMS: tuple[int, ...] = (0, 1)


def _flat(tracks: StrawTracks, normalizer: Normalizer) -> FlatTracks:
    return FlatTracks(
        coords=np.ascontiguousarray(normalizer.to_model(tracks.coords), dtype=np.float32),
        offsets=tracks.offsets,
        event_id=tracks.event_id,
        particle_id=tracks.particle_id,
        pt=tracks.p.astype(np.float32),
        eta=np.zeros(tracks.n_tracks, dtype=np.float32),
    )


class StrawDataModule(L.LightningDataModule):
    """Training/validation straw tracks of the ``data`` settings (see docs/training-data.md)."""

    def __init__(
        self,
        settings: DataSettings,
        *,
        progress: bool = True,
        simulation: SimulationCache = STRAW_EVENTS,
        is_dataset: Callable[[Path], bool] | None = None,
    ) -> None:
        """``is_dataset``: whether a ``data.dir`` holds a straw dataset (the detector's test;
        ``None`` accepts any directory)."""
        super().__init__()
        if tuple(settings.dims) != STRAW_DIMS:
            raise ConfigError(
                f"data.dims must be [0, 1] (x, y) for straw data, got {list(settings.dims)}"
            )
        self.settings = settings
        self.progress = progress
        self.simulation = simulation
        self.is_dataset = is_dataset
        self.normalizer = Normalizer(settings.scale_mm)
        self.cache_root = (
            Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_root()
        )
        self.train_tracks: FlatTracks | None = None
        self.val_tracks: FlatTracks | None = None
        self.events_dir: Path | None = None
        self.train_events: list[int] = []
        self.val_events: list[int] = []
        self.geometry: dict[str, Any] = {}

    def events_directory(self) -> Path:
        """The straw dataset of ``data.dir``, or the simulated one (made once, cached)."""
        s = self.settings
        if s.dir:
            root = Path(s.dir).expanduser()
            if not root.is_dir():
                raise DataError("data.dir is not a directory", file=str(root))
            if self.is_dataset is not None and not self.is_dataset(root):
                raise DataError(
                    "data.dir is not a straw dataset (no straw tracknet-dataset.json)",
                    file=str(root),
                )
            return root
        straw = s.straw
        return self.simulation.events(
            self.cache_root,
            straw_config(straw.config),
            straw.n_events,
            straw.seed,
            straw.first_event_id,
            progress=self.progress,
        )

    def prepare_data(self) -> None:
        self.events_directory()

    def setup(self, stage: str | None = None) -> None:
        if self.train_tracks is not None:
            return
        from ..io.straw import StrawDataset
        from ..simulation.straw import StrawGeometry

        s = self.settings
        directory = self.events_directory()
        dataset = StrawDataset.open(directory)
        if not dataset.labelled:
            raise DataError(
                "production events without labels cannot train a model: overlay labelled "
                "tracks onto them (tracknet overlay --background)",
                file=str(directory),
            )
        geometry = StrawGeometry.from_dict(dataset.geometry_parameters())
        batch = aligned(dataset.read_all(), geometry, s.straw.alignment)
        event_ids = [int(e) for e in batch.events["event_id"]]
        if s.max_events is not None:
            event_ids = event_ids[: s.max_events]
        if not event_ids:
            raise DataError("no straw events", file=str(directory))
        train_ids, val_ids = split_events(event_ids, s.val_fraction, s.min_val_events, s.split_seed)
        tracks = straw_tracks(
            batch,
            geometry.layer_x,
            geometry.layers_per_module,
            min_hits=s.track_filter.min_hits,
            positions=s.straw.positions,
            min_drift_mm=s.straw.min_drift_mm,
        )
        train = tracks.take_events(np.asarray(train_ids, dtype=np.int64))
        val = tracks.take_events(np.asarray(val_ids, dtype=np.int64))
        if train.n_tracks == 0:
            raise DataError(
                f"no training track with at least {s.track_filter.min_hits} hits in "
                f"{len(train_ids)} straw event(s)",
                file=str(directory),
            )
        self.train_tracks, self.val_tracks = (
            _flat(train, self.normalizer),
            _flat(val, self.normalizer),
        )
        self.events_dir, self.train_events, self.val_events = directory, train_ids, val_ids
        self.geometry = geometry.to_dict()
        log.info(
            "straw data: %d training tracks (%d events), %d validation tracks (%d events), from %s",
            train.n_tracks,
            len(train_ids),
            val.n_tracks,
            len(val_ids),
            directory,
        )

    def _loader(
        self, tracks: FlatTracks | None, batch_size: int, shuffle: bool
    ) -> DataLoader[TrackBatch]:
        assert tracks is not None, "setup() first"
        s = self.settings
        dataset = TrackDataset.from_model_arrays(
            tracks.coords, tracks.offsets, self.normalizer, s.dims
        )
        return make_dataloader(
            dataset,
            batch_size,
            shuffle=shuffle,
            seed=s.split_seed,
            num_workers=s.num_workers,
            bucket_batches=s.bucket_batches,
            persistent_workers=s.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader[TrackBatch]:
        return self._loader(self.train_tracks, self.settings.batch_size, True)

    def val_dataloader(self) -> DataLoader[TrackBatch]:
        return self._loader(self.val_tracks, self.settings.val_batch_size, False)

    def cost_points(self, *args: Any, **kwargs: Any) -> tuple[np.ndarray, int]:
        raise ConfigError(
            "training.region_calibration is for 3D detectors; straw models use training.calibration"
        )

    def describe(self) -> dict[str, Any]:
        """Primitives about the data used (checkpoint meta)."""
        out = describe_data(self)
        out.update(
            {
                "geometry": self.geometry,
                "positions": self.settings.straw.positions,
                "min_drift_mm": self.settings.straw.min_drift_mm,
                "alignment": self.settings.straw.alignment,
            }
        )
        if not self.settings.dir:
            straw = self.settings.straw
            out["straw"] = {
                "n_events": straw.n_events,
                "seed": straw.seed,
                "first_event_id": straw.first_event_id,
                "config": straw_config(straw.config).to_dict(),
            }
        return out
