"""Fixtures of the simulation tests: one full default event, shared by the module tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracknet.events import Event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event

#: Real TrackML data beside the repository (tests that need it skip without it).
SHARED_TRACKML = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "trackml"


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared/data/trackml, skipping the test when the data is absent."""
    root = SHARED_TRACKML.resolve()
    if not root.is_dir():
        pytest.skip(f"real TrackML data not available: {root} is absent")
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real TrackML file not available: {path}")
    return path


@pytest.fixture(scope="session")
def full_event() -> Event:
    """One full event with the default configuration (about 100k hits)."""
    return simulate_event(SimulationConfig(), 11, event_rng(2024, 11))
