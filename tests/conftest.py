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
        pytest.skip(
            f"real TrackML data not available: {SHARED_TRACKML} is absent (it sits beside the repo in CI)"
        )
    return SHARED_TRACKML.joinpath(*parts)


@pytest.fixture
def shared_trackml() -> Path:
    return shared_path()


def make_small_event(
    event_id: int = 7, n_particles: int = 4, hits_per_particle: int = 5, n_noise: int = 3
) -> Event:
    """A tiny labelled event on straight radial tracks, built by hand."""
    rng = np.random.default_rng(123)
    rows = []
    truth = []
    hit_id = 1
    particles = []
    for p in range(n_particles):
        pid = 1000 + p
        phi = 2 * np.pi * p / n_particles
        particles.append(
            (pid, 0.0, 0.0, 0.0, 2.0 * np.cos(phi), 2.0 * np.sin(phi), 0.5, 1, hits_per_particle)
        )
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
    hits = pd.DataFrame(
        rows, columns=["hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"]
    )
    hits = hits.astype(
        {"hit_id": "int64", "volume_id": "int32", "layer_id": "int32", "module_id": "int32"}
    )
    truth_df = pd.DataFrame(
        truth, columns=["hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"]
    )
    labelled = truth_df["particle_id"] > 0
    truth_df.loc[labelled, "weight"] = 1.0 / labelled.sum()
    parts = pd.DataFrame(
        particles, columns=["particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"]
    )
    parts = parts.astype({"particle_id": "int64", "q": "int32", "nhits": "int32"})
    return Event(event_id=event_id, hits=hits, truth=truth_df, particles=parts)


@pytest.fixture
def small_event() -> Event:
    return make_small_event()


def truth_submission(event: Event) -> pd.DataFrame:
    """Every labelled hit on the track of its particle; noise on no track (id 0)."""
    pids = event.particle_ids()
    _, track = np.unique(pids, return_inverse=True)
    return pd.DataFrame(
        {
            "event_id": np.full(len(pids), event.event_id, dtype=np.int64),
            "hit_id": event.hits["hit_id"].to_numpy(),
            "track_id": np.where(pids > 0, track + 1, 0).astype(np.int64),
        }
    )


def split_submission(event: Event) -> pd.DataFrame:
    """Each particle's hits cut into two tracks at the middle of their order along z-distance."""
    truth = event.truth
    assert truth is not None
    sub = truth_submission(event)
    vz = event.particles.set_index("particle_id")["vz"] if event.particles is not None else None
    dist = np.abs(
        truth["tz"].to_numpy()
        - (vz.reindex(truth["particle_id"]).fillna(0.0).to_numpy() if vz is not None else 0.0)
    )
    order = np.lexsort((dist, sub["track_id"].to_numpy()))
    tracks = sub["track_id"].to_numpy()[order]
    start = np.r_[0, np.flatnonzero(np.diff(tracks)) + 1]
    counts = np.diff(np.r_[start, len(tracks)])
    rank = np.arange(len(tracks)) - np.repeat(start, counts)
    second_half = rank >= np.repeat(counts, counts) // 2
    new = tracks * 2 + second_half.astype(np.int64)
    out = sub.copy()
    track_ids = np.empty_like(tracks)
    track_ids[order] = np.where(tracks > 0, new, 0)
    out["track_id"] = track_ids
    return out
