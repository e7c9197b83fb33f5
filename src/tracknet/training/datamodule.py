"""Training data for Lightning: events -> cached tracks -> memory-mapped splits -> batches.

:class:`TrackDataModule` turns the ``data`` section of the configuration into the
training and validation dataloaders:

1. **Events.** ``source: trackml`` reads the TrackML events of ``data.dir``.
   ``source: simulated`` reads ``data.dir`` when given, otherwise it simulates
   ``data.simulation.n_events`` events with :mod:`tracknet.simulation` once into
   ``<cache>/simulated/<key>/`` (TrackML CSV files plus the simulator's metadata record)
   and reuses that directory afterwards. The key hashes the simulation settings, the
   seed, the event ids and the simulator's own source files and tables, so a changed
   simulator never serves stale events. The directory appears under its final name only
   once complete.
2. **Prepared tracks** and **datasets**: :mod:`tracknet.data.cache` (one ``.npz`` per
   event keyed by the event's files and the preparation settings; flat train/val arrays
   keyed by those entries, the split, the filter and the frame; coordinates read
   through ``np.memmap``). A second epoch or a second run parses no CSV.
3. **Split by event**, reproducible: :func:`tracknet.data.cache.split_events` with
   ``data.split_seed``.
4. **Batches**: :func:`tracknet.data.make_dataloader` (length-grouped, every track once
   per epoch; under DDP the sampler deals tracks to the ranks itself, so the Trainer
   runs with ``use_distributed_sampler=False``).

``prepare_data`` (one process per node) builds everything; ``setup`` (every process)
opens it. The cache root is ``data.cache_dir`` or :func:`tracknet.data.cache.default_cache_root`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.cache import (
    FlatTracks,
    build_dataset,
    dataset_key,
    default_cache_root,
    open_split,
    prepare_events,
    prepared_event_path,
    split_events,
    stable_hash,
)
from ..data.dataset import TrackBatch, TrackDataset, make_dataloader
from ..data.normalize import Normalizer
from ..errors import ConfigError, DataError
from ..io.trackml import list_events, parse_event_id, read_event
from .settings import DataSettings, simulation_config

__all__ = ["TrackDataModule", "simulated_events_dir", "simulator_fingerprint"]

log = logging.getLogger(__name__)

_SIMULATION_METADATA = "tracknet-simulation.json"


def simulator_fingerprint() -> str:
    """SHA-256 of the simulator's source files and embedded tables (part of the sim key)."""
    digest = hashlib.sha256()
    for package in ("tracknet.simulation", "tracknet.data_files"):
        try:
            root = resources.files(package)
        except ModuleNotFoundError:
            continue
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if entry.is_file() and entry.name.endswith((".py", ".csv", ".json")):
                digest.update(entry.name.encode())
                digest.update(entry.read_bytes())
    return digest.hexdigest()[:20]


def simulated_events_dir(cache_root: Path, simulation: dict[str, Any]) -> tuple[Path, Any]:
    """``(directory, SimulationConfig)`` of the cached simulated events of these settings."""
    config = simulation_config(simulation)
    key = stable_hash(
        {
            "config": config.to_dict(),
            "n_events": int(simulation["n_events"]),
            "seed": int(simulation["seed"]),
            "first_event_id": int(simulation["first_event_id"]),
            "simulator": simulator_fingerprint(),
        }
    )
    return cache_root / "simulated" / key, config


def _simulate_into(
    directory: Path, config: Any, simulation: dict[str, Any], progress: bool
) -> None:
    """Simulate into a temporary sibling, then rename it to ``directory``."""
    from ..simulation.run import simulate_to_directory

    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        log.info("simulating %d events into %s", simulation["n_events"], directory)
        simulate_to_directory(
            config,
            tmp,
            n_events=int(simulation["n_events"]),
            seed=int(simulation["seed"]),
            first_event_id=int(simulation["first_event_id"]),
            progress=progress,
        )
        try:
            os.replace(tmp, directory)
        except OSError:
            if not (directory / _SIMULATION_METADATA).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def describe_data(module: Any) -> dict[str, Any]:
    """The checkpoint-meta description shared by the data modules: the settings, the
    events directory, and the events and tracks used for training and validation."""
    out = module.settings.describe()
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
    """Training/validation tracks of the ``data`` settings (see the module docstring)."""

    def __init__(self, settings: DataSettings, *, progress: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.progress = progress
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
        directory, config = simulated_events_dir(self.cache_root, s.simulation)
        if not (directory / _SIMULATION_METADATA).is_file():
            if not create:
                raise DataError(
                    "simulated events are missing (prepare_data has not run)", file=str(directory)
                )
            _simulate_into(directory, config, s.simulation, self.progress)
        return directory

    def _event_prefixes(self, directory: Path) -> list[Path]:
        prefixes = list_events(directory)
        if not prefixes:
            raise DataError(
                "no TrackML events (event<9 digits>-hits.csv[.gz]) in data directory",
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
            wrap = (
                (lambda items: tqdm(items, desc="prepare tracks", unit="event"))
                if self.progress
                else None
            )
            prepared = prepare_events(self.cache_root, prefixes, s.prep, progress=wrap)
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
            settings = {
                "n_events": int(n_events),
                "seed": int(seed),
                "first_event_id": 900_000,
                "config": dict(simulation),
            }
            directory, config = simulated_events_dir(self.cache_root, settings)
            if not (directory / _SIMULATION_METADATA).is_file():
                _simulate_into(directory, config, settings, self.progress)
            prefixes = list_events(directory)
        else:
            raise ConfigError(
                f"training.region_calibration.cost_source must be 'validation' or 'simulated', got {source!r}"
            )
        if not prefixes:
            raise DataError("no cost events for the region calibration")
        points = [read_event(p, parts=("hits",)).positions() for p in prefixes]
        return np.concatenate(points), len(points)

    def describe(self) -> dict[str, Any]:
        """Primitives about the data used (checkpoint meta)."""
        out = describe_data(self)
        if self.settings.source == "simulated" and not self.settings.dir:
            out["simulation"] = {
                k: self.settings.simulation[k] for k in ("n_events", "seed", "first_event_id")
            }
            out["simulation"]["config"] = simulation_config(self.settings.simulation).to_dict()
        return out
