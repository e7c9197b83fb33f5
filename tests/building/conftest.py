"""Helpers for the building tests: small simulated barrel events and a quickly trained model.

:func:`train_quick_model` is a deliberately tiny plain-PyTorch loop (a few seconds on one
CPU core) over simulated tracks, using the project's own data preparation, loss and
checkpoint format; it is not a training pipeline, just enough of a model to build with.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from tracknet.building.calibration import calibrate_radius_scale
from tracknet.data import (
    Normalizer,
    TrackDataset,
    TrackFilter,
    TrackSet,
    drop_repeated_layers,
    event_tracks,
    make_dataloader,
)
from tracknet.events import Event
from tracknet.model import StepAheadTrackNet, step_ahead_loss
from tracknet.model.checkpoint import load_checkpoint, save_checkpoint
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


def train_quick_model(
    path: Path,
    *,
    n_events: int = 3,
    n_particles: int = 2500,
    steps: int = 1500,
    seed: int = 0,
    hidden_size: int = 32,
    volumes: tuple[int, ...] = BARREL_VOLUMES,
) -> Path:
    """Train StepAhead TrackNET for ``steps`` Adam steps on simulated tracks; save it.

    The events cover the barrel volumes unless ``volumes`` says otherwise (e.g.
    ``tracknet.simulation.ALL_VOLUMES`` for the whole detector).

    The radius scale that makes the t1 spheres hold 95% of the training tracks' next hits
    goes into the checkpoint meta (``radius_scale``), where the builder reads it.
    """
    events = [
        barrel_event(1000 + i, n_particles, seed=seed + 1, volumes=volumes) for i in range(n_events)
    ]
    tracks = training_tracks(events)
    normalizer = Normalizer()
    dataset = TrackDataset(tracks, normalizer)
    with torch_threads(1):
        torch.manual_seed(seed)
        model = StepAheadTrackNet(hidden_size=hidden_size, num_layers=2)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        loader = make_dataloader(dataset, 128, seed=seed)
        done, epoch = 0, 0
        model.train()
        while done < steps:
            loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
            epoch += 1
            for batch in loader:
                pred = model(batch.inputs, batch.lengths)
                loss, _ = step_ahead_loss(
                    pred, batch.targets_t1, batch.targets_t2, batch.mask_t1, batch.mask_t2
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                done += 1
                if done >= steps:
                    break
        model.eval()
        detector = "trackml-barrel" if tuple(volumes) == BARREL_VOLUMES else "trackml"
        save_checkpoint(path, model, normalizer, {"detector": detector})
        scale = calibrate_radius_scale(load_checkpoint(path), tracks, quantile=0.95)
    return save_checkpoint(
        path, model, normalizer, {"detector": detector, "radius_scale": scale, "steps": steps}
    )


@pytest.fixture(scope="session")
def quick_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a model trained for a few seconds (once per test session)."""
    return train_quick_model(tmp_path_factory.mktemp("model") / "quick.ckpt")


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
