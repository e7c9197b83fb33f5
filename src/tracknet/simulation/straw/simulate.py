"""Simulate straw-tracker events, many at a time: occupancy -> tracks -> straws -> response.

Events are generated in blocks of :data:`BLOCK_EVENTS` ids with flat arrays; an event
depends only on ``(config, seed, event_id)``, and switching one effect off leaves the
tracks and the other effects unchanged.

See ``docs/simulation.md`` (The straw tracker) for the random streams and the event
format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from tracknet.errors import ConfigError
from tracknet.events import Event
from tracknet.schema import Settings, setting
from tracknet.simulation.straw.batch import StrawBatch, rechunk
from tracknet.simulation.straw.conditions import DetectorConditions
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.response import (
    SignalHits,
    StrawResponse,
    detector_hits,
    efficiency_mask,
    smear_drift,
)
from tracknet.simulation.straw.tracks import (
    Occupancy,
    TrackGun,
    TrackStates,
    sample_times,
    sample_track_counts,
    sample_tracks,
    straw_crossings,
)

__all__ = [
    "BLOCK_EVENTS",
    "GENERATOR",
    "STREAM_TAG",
    "BlockStreams",
    "StrawConfig",
    "assemble_batch",
    "block_streams",
    "iter_straw_batches",
    "simulate_block",
    "simulate_straw_batch",
    "simulate_straw_event",
    "simulate_straw_events",
]

#: Events per random-stream block: part of the definition of the generated data.
BLOCK_EVENTS = 256
#: Separates the straw simulator's streams from other users of the same seed.
STREAM_TAG = 0x5354524157  # "STRAW"
GENERATOR = "tracknet.simulation.straw"
_MAX_EVENT_ID = 2**40


@dataclass(frozen=True)
class StrawConfig(Settings):
    """Everything that defines generated straw events (besides seed and event ids)."""

    label: ClassVar[str] = "straw config"

    geometry: StrawGeometry = setting(default_factory=StrawGeometry)
    gun: TrackGun = setting(default_factory=TrackGun)
    occupancy: Occupancy = setting(default_factory=Occupancy)
    response: StrawResponse = setting(default_factory=StrawResponse)
    conditions: DetectorConditions = setting(default_factory=DetectorConditions)


class BlockStreams(NamedTuple):
    """The independent random streams of one block, one per simulation step."""

    time: np.random.Generator
    counts: np.random.Generator
    tracks: np.random.Generator
    efficiency: np.random.Generator
    drift: np.random.Generator
    crosstalk: np.random.Generator
    noise: np.random.Generator


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def block_streams(seed: int, block: int, tag: int = STREAM_TAG) -> BlockStreams:
    """The random streams of block ``block`` of a run with ``seed``."""
    children = np.random.SeedSequence([_check_seed(seed), int(tag), int(block)]).spawn(
        len(BlockStreams._fields)
    )
    return BlockStreams(*(np.random.default_rng(c) for c in children))


def assemble_batch(
    event_ids: np.ndarray,
    n_tracks: np.ndarray,
    times_us: np.ndarray,
    hits: SignalHits,
    particles: Mapping[str, np.ndarray],
    geometry: StrawGeometry,
    meta: Mapping[str, Any] | None = None,
    *,
    hit_ids: np.ndarray | None = None,
) -> StrawBatch:
    """A :class:`StrawBatch` of final hits (sorted by event row, then straw id).

    ``particles`` holds per-track columns ``event`` (row), ``particle_id``, ``vx``,
    ``vy``, ``px``, ``py``, ``q``, sorted by ``(event, particle_id)``; ``nhits`` is
    counted from ``hits``. Hit positions, ids, weights follow ``docs/simulation.md``;
    ``hit_ids`` (one per hit, unique within each event) replaces the numbering, and the
    hits are then re-ordered by ``(event, hit_id)``.
    """
    n = len(hits.event)
    if hit_ids is not None:
        order = np.lexsort((np.asarray(hit_ids), hits.event))
        hits = SignalHits(*(getattr(hits, f)[order] for f in SignalHits._fields))
        hit_id = np.asarray(hit_ids, dtype=np.int64)[order]
    else:
        hit_id = (
            np.arange(n, dtype=np.int64) - np.searchsorted(hits.event, hits.event, side="left") + 1
        )
    event_row = hits.event
    module, layer, straw = geometry.decompose(hits.straw_id)
    labelled = hits.particle_id > 0
    per_event = np.bincount(event_row[labelled], minlength=len(event_ids))
    with np.errstate(divide="ignore"):
        weight = np.where(labelled, 1.0 / np.maximum(per_event[event_row], 1), 0.0)
    p_event = np.asarray(particles["event"], dtype=np.int64)
    p_id = np.asarray(particles["particle_id"], dtype=np.int64)
    p_key = p_event * (1 << 31) + p_id
    h_key = event_row[labelled] * (1 << 31) + hits.particle_id[labelled]
    nhits = np.bincount(np.searchsorted(p_key, h_key), minlength=len(p_key))[: len(p_key)]
    zeros_h = np.zeros(n)
    zeros_p = np.zeros(len(p_id))
    return StrawBatch(
        events={
            "event_id": np.asarray(event_ids, dtype=np.int64),
            "n_tracks": np.asarray(n_tracks, dtype=np.int32),
            "time_in_fill_us": np.asarray(times_us, dtype=np.float64),
        },
        hits={
            "event_id": np.asarray(event_ids, dtype=np.int64)[event_row],
            "hit_id": hit_id,
            "x": geometry.straw_x[hits.straw_id],
            "y": geometry.straw_y[hits.straw_id],
            "z": zeros_h,
            "volume_id": module.astype(np.int32),
            "layer_id": layer.astype(np.int32),
            "module_id": straw.astype(np.int32),
            "straw_id": hits.straw_id.astype(np.int32),
            "drift_mm": hits.drift.astype(np.float64),
            "particle_id": hits.particle_id.astype(np.int64),
            "tx": hits.tx.astype(np.float64),
            "ty": hits.ty.astype(np.float64),
            "tz": zeros_h,
            "tpx": hits.tpx.astype(np.float64),
            "tpy": hits.tpy.astype(np.float64),
            "tpz": zeros_h,
            "weight": weight,
        },
        particles={
            "event_id": np.asarray(event_ids, dtype=np.int64)[p_event],
            "particle_id": p_id,
            "vx": np.asarray(particles["vx"], dtype=np.float64),
            "vy": np.asarray(particles["vy"], dtype=np.float64),
            "vz": zeros_p,
            "px": np.asarray(particles["px"], dtype=np.float64),
            "py": np.asarray(particles["py"], dtype=np.float64),
            "pz": zeros_p,
            "q": np.asarray(particles["q"], dtype=np.int32),
            "nhits": nhits.astype(np.int32),
        },
        meta=dict(meta or {}),
    )


def simulate_block(config: StrawConfig, seed: int, block: int) -> StrawBatch:
    """The :data:`BLOCK_EVENTS` events of block ``block`` (ids ``block * BLOCK_EVENTS ...``)."""
    if block < 0:
        raise ConfigError(f"block must be >= 0, got {block}")
    streams = block_streams(seed, block)
    geometry, gun, response = config.geometry, config.gun, config.response
    n_events = BLOCK_EVENTS
    event_ids = block * n_events + np.arange(n_events, dtype=np.int64)
    times = sample_times(config.occupancy, n_events, streams.time)
    counts = sample_track_counts(config.occupancy, times, streams.counts)
    track_event = np.repeat(np.arange(n_events, dtype=np.int64), counts)
    tracks: TrackStates = sample_tracks(gun, geometry, int(counts.sum()), streams.tracks)
    detector = None if config.conditions.nominal else config.conditions.build(geometry)
    true = straw_crossings(tracks, geometry, gun.stop_angle_deg, detector)
    keep = efficiency_mask(len(true.track), response.efficiency, streams.efficiency)
    track = true.track[keep]
    drift = smear_drift(
        true.dca[keep], response.drift_sigma_mm, geometry.straw_radius_mm, streams.drift
    )
    track_start = np.cumsum(counts) - counts
    event_row = track_event[track]
    particle_id = track - track_start[event_row] + 1
    signal = SignalHits(
        event=event_row,
        straw_id=true.straw_id[keep],
        drift=drift,
        particle_id=particle_id,
        tx=true.tx[keep],
        ty=true.ty[keep],
        tpx=true.tpx[keep],
        tpy=true.tpy[keep],
    )
    hits = detector_hits(signal, n_events, geometry, response, streams.crosstalk, streams.noise)
    all_tracks = np.arange(len(track_event), dtype=np.int64)
    particles = {
        "event": track_event,
        "particle_id": all_tracks - track_start[track_event] + 1,
        "vx": tracks.x0,
        "vy": tracks.y0,
        "px": tracks.p * np.cos(tracks.phi0),
        "py": tracks.p * np.sin(tracks.phi0),
        "q": tracks.q,
    }
    return assemble_batch(event_ids, counts, times, hits, particles, geometry, {"kind": "straw"})


def _check_range(n_events: int, first_event_id: int) -> None:
    for name, value in (("number of events", n_events), ("first event id", first_event_id)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    if first_event_id + n_events > _MAX_EVENT_ID:
        raise ConfigError(f"event ids must stay below {_MAX_EVENT_ID}")


def iter_straw_batches(
    config: StrawConfig,
    n_events: int,
    seed: int,
    first_event_id: int = 0,
    *,
    events_per_batch: int = 10_000,
) -> Iterator[StrawBatch]:
    """Events ``first_event_id .. first_event_id + n_events - 1`` in batches of
    ``events_per_batch`` (the last may be shorter)."""
    _check_range(n_events, first_event_id)
    _check_seed(seed)
    if (
        isinstance(events_per_batch, bool)
        or not isinstance(events_per_batch, (int, np.integer))
        or events_per_batch < 1
    ):
        raise ConfigError(f"events per batch must be a positive integer, got {events_per_batch!r}")
    stop = first_event_id + n_events

    def blocks() -> Iterator[StrawBatch]:
        for block in range(first_event_id // BLOCK_EVENTS, -(-stop // BLOCK_EVENTS)):
            batch = simulate_block(config, seed, block)
            lo = max(first_event_id - block * BLOCK_EVENTS, 0)
            hi = min(stop - block * BLOCK_EVENTS, BLOCK_EVENTS)
            yield batch if (lo, hi) == (0, BLOCK_EVENTS) else batch.slice(lo, hi)

    yield from rechunk(blocks(), events_per_batch)


def simulate_straw_batch(
    config: StrawConfig, n_events: int, seed: int, first_event_id: int = 0
) -> StrawBatch:
    """Events ``first_event_id ..`` (``n_events`` of them) as one :class:`StrawBatch`."""
    batches = list(
        iter_straw_batches(
            config, n_events, seed, first_event_id, events_per_batch=max(n_events, 1)
        )
    )
    return StrawBatch.concat(batches) if batches else StrawBatch.empty({"kind": "straw"})


def simulate_straw_events(
    config: StrawConfig, n_events: int, seed: int, first_event_id: int = 0
) -> Iterator[Event]:
    """The events one by one as :class:`~tracknet.events.Event` objects."""
    for batch in iter_straw_batches(
        config, n_events, seed, first_event_id, events_per_batch=BLOCK_EVENTS
    ):
        yield from batch.iter_events()


def simulate_straw_event(config: StrawConfig, event_id: int, seed: int) -> Event:
    """The one event ``event_id`` of the run with ``seed``."""
    return simulate_straw_batch(config, 1, seed, event_id).event(0)
