"""Helpers for the building tests: small simulated barrel events.

Behaviour is tested with oracle models (:mod:`tests.building.oracle`); the model trained
through ``train(cfg)`` once per session is the shared ``tiny_checkpoint`` fixture of
``tests/conftest.py``, and its tests assert only loose figures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from tracknet.data import TrackFilter, TrackSet, drop_repeated_layers, event_tracks
from tracknet.events import Event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event

#: The barrel volumes of the real samples in ../shared/data/trackml/event1000-barrel.
BARREL_VOLUMES = (8, 13, 17)


def barrel_event(
    event_id: int, n_particles: int = 400, seed: int = 11, volumes: tuple[int, ...] = BARREL_VOLUMES
) -> Event:
    """A small simulated event of the TrackML barrel (volumes 8, 13, 17) or of ``volumes``."""
    config = SimulationConfig(n_particles=n_particles, volumes=volumes)
    return simulate_event(config, event_id, event_rng(seed, event_id))


def training_tracks(events: list[Event], min_pt: float = 0.5) -> TrackSet:
    """Truth tracks of ``events`` for training: >= 3 hits, pT >= ``min_pt``, no double hits."""
    sets = [
        drop_repeated_layers(
            TrackFilter(min_hits=3, min_pt=min_pt).apply(event_tracks(e)), consecutive_only=True
        )
        for e in events
    ]
    return TrackSet.concatenate(sets)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def test_event() -> Event:
    """A small simulated barrel event, not seen in training."""
    return barrel_event(7, n_particles=400, seed=99)


def without_double_hits(event: Event) -> Event:
    """The event with only the innermost hit of each particle on each layer (noise kept).

    Simulated tracks cross overlapping modules twice on some layers; without those double
    hits, "the track minus one hit" has one meaning, which the hole tests need.
    """
    assert event.truth is not None
    hits = event.hits
    pid = event.truth["particle_id"].to_numpy()
    key = hits["volume_id"].to_numpy().astype(np.int64) * 1000 + hits["layer_id"].to_numpy()
    radius = np.hypot(hits["x"].to_numpy(), hits["y"].to_numpy())
    order = np.lexsort((radius, key, pid))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (pid[order][1:] != pid[order][:-1]) | (key[order][1:] != key[order][:-1])
    keep = np.zeros(len(order), dtype=bool)
    keep[order[first]] = True
    keep |= pid <= 0
    return event.with_parts(
        hits=hits[keep].reset_index(drop=True), truth=event.truth[keep].reset_index(drop=True)
    )


def high_pt_particles(event: Event, min_pt: float = 1.0, min_hits: int = 5) -> np.ndarray:
    """Particle ids with pT >= ``min_pt`` and at least ``min_hits`` hits in the event."""
    assert event.truth is not None and event.particles is not None
    pid = event.truth["particle_id"].to_numpy()
    ids, counts = np.unique(pid[pid > 0], return_counts=True)
    particles = event.particles.set_index("particle_id")
    pt = np.hypot(particles.loc[ids, "px"].to_numpy(), particles.loc[ids, "py"].to_numpy())
    return ids[(counts >= min_hits) & (pt >= min_pt)]
