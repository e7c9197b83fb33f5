"""The simulation cache: simulated training events, simulated once and reused.

A :class:`SimulationCache` names its sub-directory, the source files that key it, the
file marking a complete directory and the writer of the events; the directory
``<cache>/<kind>/<key>/`` appears under its final name only once complete. A detector
hands out its cache (:data:`TRACKML_EVENTS`, :data:`STRAW_EVENTS`).

See docs/training-data.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..data.cache import stable_hash
from ..parallel import Workers

__all__ = ["STRAW_EVENTS", "TRACKML_EVENTS", "SimulationCache"]

log = logging.getLogger(__name__)

#: ``write(config, directory, n_events, seed, first_event_id, progress, workers)``.
Writer = Callable[[Any, Path, int, int, int, bool, Workers], None]


@dataclass(frozen=True)
class SimulationCache:
    """Where and how one simulator's events are cached (see docs/training-data.md)."""

    #: Sub-directory of the cache root ("simulated", "straw").
    kind: str
    #: What the log calls the events ("events", "straw events").
    what: str
    #: Packages whose files (ending in ``suffixes``) key the cache.
    packages: tuple[str, ...]
    suffixes: tuple[str, ...]
    #: The file a complete directory holds.
    marker: str
    write: Writer

    def fingerprint(self) -> str:
        """SHA-256 of the simulator's source files and tables (part of the key)."""
        digest = hashlib.sha256()
        for package in self.packages:
            try:
                root = resources.files(package)
            except ModuleNotFoundError:
                continue
            for entry in sorted(root.iterdir(), key=lambda e: e.name):
                if entry.is_file() and entry.name.endswith(self.suffixes):
                    digest.update(entry.name.encode())
                    digest.update(entry.read_bytes())
        return digest.hexdigest()[:20]

    def directory(
        self, cache_root: Path, config: Any, n_events: int, seed: int, first_event_id: int
    ) -> Path:
        """The directory of these events (``config``: the simulator's checked settings)."""
        key = stable_hash(
            {
                "config": config.to_dict(),
                "n_events": int(n_events),
                "seed": int(seed),
                "first_event_id": int(first_event_id),
                "simulator": self.fingerprint(),
            }
        )
        return cache_root / self.kind / key

    def is_complete(self, directory: Path) -> bool:
        return (directory / self.marker).is_file()

    def events(
        self,
        cache_root: Path,
        config: Any,
        n_events: int,
        seed: int,
        first_event_id: int,
        *,
        progress: bool = True,
        workers: Workers | None = None,
    ) -> Path:
        """The directory of these events, simulated first when not cached yet."""
        directory = self.directory(cache_root, config, n_events, seed, first_event_id)
        if not self.is_complete(directory):
            args = (directory, config, n_events, seed, first_event_id)
            self._simulate_into(*args, progress, workers or Workers())
        return directory

    def _simulate_into(
        self,
        directory: Path,
        config: Any,
        n: int,
        seed: int,
        first: int,
        progress: bool,
        workers: Workers,
    ) -> None:
        """Simulate into a temporary sibling, then rename it to ``directory``."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            log.info("simulating %d %s into %s", n, self.what, directory)
            self.write(config, tmp, int(n), int(seed), int(first), progress, workers)
            try:
                os.replace(tmp, directory)
            except OSError:  # another process finished first
                if not self.is_complete(directory):
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _write_trackml(
    config: Any, directory: Path, n: int, seed: int, first: int, progress: bool, workers: Workers
) -> None:
    from ..simulation.run import simulate_to_directory

    simulate_to_directory(
        config,
        directory,
        n_events=n,
        seed=seed,
        first_event_id=first,
        progress=progress,
        workers=workers,
    )


def _write_straw(
    config: Any, directory: Path, n: int, seed: int, first: int, progress: bool, workers: Workers
) -> None:
    """Straw events are simulated here, as arrays of many events at once (``workers``
    unused)."""
    from ..io.straw import write_straw_dataset
    from ..simulation.straw.simulate import GENERATOR, iter_straw_batches

    write_straw_dataset(
        iter_straw_batches(config, n, seed, first, events_per_batch=10_000),
        directory,
        kind="straw",
        parameters={"config": config.to_dict(), "first_event_id": first},
        seed=seed,
        generator=GENERATOR,
    )


#: TrackML-like events of :mod:`tracknet.simulation` (TrackML CSV files).
TRACKML_EVENTS = SimulationCache(
    kind="simulated",
    what="events",
    packages=("tracknet.simulation", "tracknet.data_files"),
    suffixes=(".py", ".csv", ".json"),
    marker="tracknet-simulation.json",
    write=_write_trackml,
)

#: Straw events of :mod:`tracknet.simulation.straw` (a straw dataset directory).
STRAW_EVENTS = SimulationCache(
    kind="straw",
    what="straw events",
    packages=("tracknet.simulation.straw",),
    suffixes=(".py",),
    marker="tracknet-dataset.json",
    write=_write_straw,
)
