"""Shared fixtures: small events built in code, and the real TrackML data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tracknet.events import Event

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_TRACKML = (REPO_ROOT / ".." / "shared" / "data" / "trackml").resolve()


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data/trackml, skipping the test when it is absent."""
    if not SHARED_TRACKML.is_dir():
        pytest.skip(f"real TrackML data not available: {SHARED_TRACKML} is absent (it sits beside the repo in CI)")
    return SHARED_TRACKML.joinpath(*parts)


@pytest.fixture
def shared_trackml() -> Path:
    return shared_path()


def make_small_event(event_id: int = 7, n_particles: int = 4, hits_per_particle: int = 5, n_noise: int = 3) -> Event:
    """A tiny labelled event on straight radial tracks, built by hand."""
    rng = np.random.default_rng(123)
    rows = []
    truth = []
    hit_id = 1
    particles = []
    for p in range(n_particles):
        pid = 1000 + p
        phi = 2 * np.pi * p / n_particles
        particles.append((pid, 0.0, 0.0, 0.0, 2.0 * np.cos(phi), 2.0 * np.sin(phi), 0.5, 1, hits_per_particle))
        for k in range(hits_per_particle):
            r = 32.0 + 40.0 * k
            x, y, z = r * np.cos(phi), r * np.sin(phi), 0.25 * r
            rows.append((hit_id, x, y, z, 8, 2 + 2 * k, 1 + p))
            truth.append((hit_id, pid, x, y, z, 2.0 * np.cos(phi), 2.0 * np.sin(phi), 0.5, 0.0))
            hit_id += 1
    for _ in range(n_noise):
        x, y, z = rng.uniform(-100, 100, 3)
        rows.append((hit_id, x, y, z, 8, 2, 99))
        truth.append((hit_id, 0, x, y, z, 0.0, 0.0, 0.0, 0.0))
        hit_id += 1
    hits = pd.DataFrame(rows, columns=["hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"])
    hits = hits.astype({"hit_id": "int64", "volume_id": "int32", "layer_id": "int32", "module_id": "int32"})
    truth_df = pd.DataFrame(truth, columns=["hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"])
    labelled = truth_df["particle_id"] > 0
    truth_df.loc[labelled, "weight"] = 1.0 / labelled.sum()
    parts = pd.DataFrame(particles, columns=["particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"])
    parts = parts.astype({"particle_id": "int64", "q": "int32", "nhits": "int32"})
    return Event(event_id=event_id, hits=hits, truth=truth_df, particles=parts)


@pytest.fixture
def small_event() -> Event:
    return make_small_event()
