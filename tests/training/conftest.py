"""Fixtures of the training tests: tiny simulated events (the tiny run and its overrides are
shared, in ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracknet.io.trackml import write_event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event


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
