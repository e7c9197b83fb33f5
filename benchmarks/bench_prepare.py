"""Time track preparation and the StepAhead TrackNET training step on CPU.

Prints one JSON line:

* ``prepare_*``: tracks per second of :func:`tracknet.data.event_tracks` (grouping and
  trajectory ordering; reading the CSV excluded) on the labelled barrel event ez-0.2,
  and on a full-event-sized event made of ez-0.2 copied ``--copies`` times (each copy
  rotated about the beam axis and given its own hit and particle ids), since the large
  real events have no truth;
* ``train_*``: tracks per second of a training step (forward, loss, backward, Adam) with
  ``torch.set_num_threads(--threads)``, float32, on batches of the large event's tracks
  (at least 3 hits): ``model_only`` on pre-built batches, ``with_loader`` including the
  length-grouped DataLoader (``num_workers=0``).

Usage: ``python benchmarks/bench_prepare.py [--copies 10] [--batch-size 256]
[--hidden-size 32] [--num-layers 2] [--threads 2] [--steps 60]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
import torch

from _common import SHARED_TRACKML, emit, timed
from tracknet.data import TrackDataset, TrackFilter, event_tracks, make_dataloader
from tracknet.events import Event
from tracknet.io.trackml import read_event
from tracknet.model import StepAheadTrackNet, step_ahead_loss


def replicate(event: Event, copies: int) -> Event:
    """``copies`` rotated copies of a labelled event in one event, ids kept unique."""
    hits, truth, particles = event.hits, event.truth, event.particles
    assert truth is not None and particles is not None
    pid = truth["particle_id"].to_numpy()
    table_ids = particles["particle_id"].to_numpy()
    # Particle-table row + 1 of every hit (0 for noise): new ids are row + 1 + k * n_particles.
    by_id = np.argsort(table_ids)
    pos = np.clip(np.searchsorted(table_ids[by_id], pid), 0, len(table_ids) - 1)
    dense = np.where((pid > 0) & (table_ids[by_id][pos] == pid), by_id[pos] + 1, 0)
    n_hits, n_particles = len(hits), len(particles)
    h_parts, t_parts, p_parts = [], [], []
    for k in range(copies):
        angle = 2.0 * np.pi * k / copies
        c, s = np.cos(angle), np.sin(angle)
        h = hits.copy()
        h["hit_id"] = hits["hit_id"].to_numpy() + k * (hits["hit_id"].max() + 1)
        h["x"], h["y"] = c * hits["x"] - s * hits["y"], s * hits["x"] + c * hits["y"]
        t = truth.copy()
        t["hit_id"] = h["hit_id"].to_numpy()
        t["particle_id"] = np.where(dense > 0, dense + k * n_particles, 0)
        for a, b in (("tx", "ty"), ("tpx", "tpy")):
            t[a], t[b] = c * truth[a] - s * truth[b], s * truth[a] + c * truth[b]
        p = particles.copy()
        p["particle_id"] = np.arange(1, n_particles + 1) + k * n_particles
        p["particle_id"] = p["particle_id"].astype(np.int64)
        for a, b in (("vx", "vy"), ("px", "py")):
            p[a], p[b] = c * particles[a] - s * particles[b], s * particles[a] + c * particles[b]
        h_parts.append(h)
        t_parts.append(t)
        p_parts.append(p)
    assert sum(len(h) for h in h_parts) == copies * n_hits
    return Event(
        event_id=event.event_id,
        hits=pd.concat(h_parts, ignore_index=True),
        truth=pd.concat(t_parts, ignore_index=True),
        particles=pd.concat(p_parts, ignore_index=True),
    )


def train_throughput(batches: list, model: StepAheadTrackNet, steps: int) -> float:  # type: ignore[type-arg]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def one(batch) -> None:  # type: ignore[no-untyped-def]
        pred = model(batch.inputs, batch.lengths)
        loss, _ = step_ahead_loss(
            pred, batch.targets_t1, batch.targets_t2, batch.mask_t1, batch.mask_t2
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for batch in batches[:5]:  # warm-up
        one(batch)
    n_tracks = 0
    start = time.perf_counter()
    for i in range(steps):
        batch = batches[i % len(batches)]
        one(batch)
        n_tracks += len(batch.lengths)
    return n_tracks / (time.perf_counter() - start)


def loader_throughput(
    dataset: TrackDataset, model: StepAheadTrackNet, batch_size: int, steps: int
) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = make_dataloader(dataset, batch_size, seed=1)
    n_tracks, done, epoch = 0, 0, 0
    start = time.perf_counter()
    while done < steps:
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        for batch in loader:
            pred = model(batch.inputs, batch.lengths)
            loss, _ = step_ahead_loss(
                pred, batch.targets_t1, batch.targets_t2, batch.mask_t1, batch.mask_t2
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n_tracks += len(batch.lengths)
            done += 1
            if done >= steps:
                break
        epoch += 1
    return n_tracks / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()

    prefix = SHARED_TRACKML / "event1000-barrel" / "ez-0.2" / "event000001000"
    if not prefix.parent.is_dir():
        print(f"skipped: {prefix.parent} is absent", file=sys.stderr)
        return 0
    read_s, _, event = timed(lambda: read_event(prefix), repeats=3)
    small_s, _, small = timed(lambda: event_tracks(event), repeats=7)
    large_event = replicate(event, args.copies)
    large_s, _, large = timed(lambda: event_tracks(large_event), repeats=5)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train = TrackFilter(min_hits=3).apply(large)
    dataset = TrackDataset(train)
    sampler_batches = list(make_dataloader(dataset, args.batch_size, seed=0))
    model = StepAheadTrackNet(hidden_size=args.hidden_size, num_layers=args.num_layers)
    model_only = train_throughput(sampler_batches, model, args.steps)
    with_loader = loader_throughput(dataset, model, args.batch_size, args.steps)
    mean_len = float(train.lengths.mean())

    emit(
        "prepare_and_train",
        {
            "event": "ez-0.2/event000001000",
            "read_seconds": round(read_s, 4),
            "prepare_small_tracks": small.n_tracks,
            "prepare_small_hits": small.n_hits,
            "prepare_small_seconds": round(small_s, 5),
            "prepare_small_tracks_per_second": round(small.n_tracks / small_s),
            "prepare_large_copies": args.copies,
            "prepare_large_hits_in_event": large_event.n_hits,
            "prepare_large_tracks": large.n_tracks,
            "prepare_large_seconds": round(large_s, 4),
            "prepare_large_tracks_per_second": round(large.n_tracks / large_s),
            "prepare_large_hits_per_second": round(large.n_hits / large_s),
            "train_tracks": train.n_tracks,
            "train_mean_hits_per_track": round(mean_len, 2),
            "train_batch_size": args.batch_size,
            "train_hidden_size": args.hidden_size,
            "train_num_layers": args.num_layers,
            "train_threads": torch.get_num_threads(),
            "train_dtype": "float32",
            "train_steps": args.steps,
            "train_model_only_tracks_per_second": round(model_only),
            "train_with_loader_tracks_per_second": round(with_loader),
            "torch": torch.__version__,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
