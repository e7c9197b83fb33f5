"""Fixtures of the training tests: tiny simulated events and composed configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracknet.io.trackml import write_event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event

#: Overrides for a run that takes seconds: a few small barrel events, one epoch.
TINY = [
    "experiment=simulated",
    "data.simulation.n_events=3",
    "+data.simulation.config.n_particles=400",
    "data.val_fraction=0.34",
    "data.batch_size=64",
    "model.hidden_size=8",
    "model.num_layers=1",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.num_sanity_val_steps=0",
    "trainer.log_every_n_steps=1",
    "training.track_viz_plotlyjs=cdn",
    "training.region_calibration.enabled=false",
]


def tiny_overrides(tmp: Path, *extra: str) -> list[str]:
    """:data:`TINY` with the cache and the run directory under ``tmp``."""
    return [*TINY, f"data.cache_dir={tmp / 'cache'}", f"run.output_dir={tmp / 'run'}", *extra]


def write_barrel_events(
    directory: Path, n_events: int = 3, n_particles: int = 300, seed: int = 5
) -> Path:
    """Simulated barrel events with truth, as TrackML CSV files in ``directory``."""
    config = SimulationConfig(n_particles=n_particles, volumes=(8, 13, 17), pt_min_gev=0.5)
    directory.mkdir(parents=True, exist_ok=True)
    for k in range(n_events):
        write_event(simulate_event(config, 100 + k, event_rng(seed, 100 + k)), directory)
    return directory


@pytest.fixture(scope="session")
def barrel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_barrel_events(tmp_path_factory.mktemp("barrel"))
