"""Fixtures of the simulation tests: one full default event, shared by the module tests."""

from __future__ import annotations

import pytest

from tracknet.events import Event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event


@pytest.fixture(scope="session")
def full_event() -> Event:
    """One full event with the default configuration (about 100k hits)."""
    return simulate_event(SimulationConfig(), 11, event_rng(2024, 11))
