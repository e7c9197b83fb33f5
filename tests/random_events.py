"""Random small events and submissions for the property tests, built with numpy from a
seed (hypothesis draws the seed and the shape, numpy the values)."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tracknet.events import CROSSTALK_PARTICLE_ID, UNLABELLED_PARTICLE_ID, Event

__all__ = ["SUBMISSION_MODES", "random_event", "random_submission"]

#: How :func:`random_submission` assigns track ids.
SUBMISSION_MODES: Final = (
    "random",  # uniform ids 0..k
    "zero",  # every hit on no track
    "giant",  # every hit on one track
    "own",  # every hit a track of its own
    "truth",  # each particle one track, noise 0
    "noisy",  # the truth with some hits moved to random tracks
    "split",  # each particle cut into two tracks (duplicates)
    "merge",  # particles merged in pairs
)


def random_event(
    rng: np.random.Generator,
    *,
    event_id: int = 1,
    n_particles: int = 4,
    max_hits: int = 6,
    n_noise: int = 3,
    n_reserved: int = 0,
    reserved_id: int = CROSSTALK_PARTICLE_ID,
    zero_weights: bool = False,
) -> Event:
    """An event of ``n_particles`` particles (1..``max_hits`` hits each, large random
    ids), ``n_noise`` noise hits and ``n_reserved`` hits of a reserved id (-1 unlabelled,
    -2 crosstalk), rows shuffled, random unique hit ids and positive weights on the
    particles' hits (all 0 with ``zero_weights``)."""
    if reserved_id not in (UNLABELLED_PARTICLE_ID, CROSSTALK_PARTICLE_ID):
        raise ValueError(f"not a reserved particle id: {reserved_id}")
    pids = np.unique(rng.integers(1, 2**62, n_particles, dtype=np.int64))
    counts = rng.integers(1, max_hits + 1, pids.size)
    particle_id = np.concatenate(
        [
            np.repeat(pids, counts),
            np.zeros(n_noise, dtype=np.int64),
            np.full(n_reserved, reserved_id, dtype=np.int64),
        ]
    )
    n = particle_id.size
    particle_id = particle_id[rng.permutation(n)]
    hit_id = 1 + rng.choice(10 * n + 10, size=n, replace=False).astype(np.int64)
    xyz = rng.normal(0.0, 300.0, (n, 3))
    weight = np.where(particle_id > 0, rng.random(n) + 0.01, 0.0)
    if zero_weights or weight.sum() == 0:
        weight[:] = 0.0
    else:
        weight /= weight.sum()
    hits = pd.DataFrame(
        {
            "hit_id": hit_id,
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
            "volume_id": rng.integers(1, 20, n).astype(np.int32),
            "layer_id": rng.integers(1, 10, n).astype(np.int32),
            "module_id": rng.integers(1, 100, n).astype(np.int32),
        }
    )
    momentum = rng.normal(0.0, 1.5, (n, 3))
    truth = pd.DataFrame(
        {
            "hit_id": hit_id,
            "particle_id": particle_id,
            "tx": xyz[:, 0],
            "ty": xyz[:, 1],
            "tz": xyz[:, 2],
            "tpx": momentum[:, 0],
            "tpy": momentum[:, 1],
            "tpz": momentum[:, 2],
            "weight": weight,
        }
    )
    p = rng.normal(0.0, 1.5, (pids.size, 3))
    p[rng.random(pids.size) < 0.1, :2] = 0.0  # along the beam: pT 0, |eta| infinite
    vertex = rng.normal(0.0, 1.0, (pids.size, 3)) * np.where(
        rng.random((pids.size, 1)) < 0.2, 50.0, 0.1
    )
    particles = pd.DataFrame(
        {
            "particle_id": pids,
            "vx": vertex[:, 0],
            "vy": vertex[:, 1],
            "vz": vertex[:, 2],
            "px": p[:, 0],
            "py": p[:, 1],
            "pz": p[:, 2],
            "q": rng.choice(np.array([-1, 1], dtype=np.int32), pids.size),
            "nhits": counts.astype(np.int32),
        }
    )
    return Event(event_id=event_id, hits=hits, truth=truth, particles=particles)


def random_submission(
    event: Event, rng: np.random.Generator, mode: str, *, n_tracks: int = 5
) -> pd.DataFrame:
    """The submission ``event_id, hit_id, track_id`` of every hit of ``event`` (rows
    shuffled, track ids relabelled to large values half of the time)."""
    pid = event.particle_ids()
    n = pid.size
    truth = np.zeros(n, dtype=np.int64)
    positive = pid > 0
    truth[positive] = np.unique(pid[positive], return_inverse=True)[1] + 1
    if mode == "random":
        track = rng.integers(0, n_tracks + 1, n)
    elif mode == "zero":
        track = np.zeros(n, dtype=np.int64)
    elif mode == "giant":
        track = np.ones(n, dtype=np.int64)
    elif mode == "own":
        track = np.arange(1, n + 1)
    elif mode == "truth":
        track = truth
    elif mode == "noisy":
        moved = rng.random(n) < 0.3
        track = np.where(moved, rng.integers(0, n_tracks + 1, n), truth)
    elif mode == "split":
        track = np.where(truth > 0, 2 * truth + (rng.random(n) < 0.5), 0)
    elif mode == "merge":
        track = (truth + 1) // 2
    else:
        raise ValueError(f"unknown submission mode {mode!r}")
    track = np.asarray(track, dtype=np.int64)
    ids = np.unique(track[track > 0])
    if rng.random() < 0.5 and ids.size:
        # Relabel the tracks (0 stays 0) with large, non-contiguous ids.
        new = np.unique(rng.integers(1, 2**63 - 1, ids.size + 8, dtype=np.int64))[: ids.size]
        if new.size == ids.size:
            where = np.minimum(np.searchsorted(ids, track), ids.size - 1)
            track = np.where(track > 0, rng.permutation(new)[where], 0)
    order = rng.permutation(n)
    return pd.DataFrame(
        {
            "event_id": np.full(n, event.event_id, dtype=np.int64),
            "hit_id": event.hits["hit_id"].to_numpy()[order],
            "track_id": track[order],
        }
    )
