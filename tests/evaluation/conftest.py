"""Fixtures of the evaluation tests: the real TrackML events, when they are present."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path
from tracknet.events import Event
from tracknet.io.trackml import read_event

EZ_FOLDERS = ("ez-0.1", "ez-0.2")
EVENT = "event000001000"


def read_ez_event(folder: str) -> Event:
    """A barrel event of ``../shared/data/trackml/event1000-barrel`` (skips when absent)."""
    return read_event(shared_path("event1000-barrel", folder, EVENT))


@pytest.fixture(params=EZ_FOLDERS, scope="session")
def ez_event(request: pytest.FixtureRequest) -> Event:
    """The ez-0.1 and ez-0.2 events (hits, truth, particles), read once per session."""
    return read_ez_event(request.param)
