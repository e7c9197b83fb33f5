"""Detector response of the straw tracker: inefficiency, drift smearing, crosstalk, noise.

:class:`StrawResponse` holds the settings, each effect off at its neutral value; the
functions here apply them, together with one hit per straw, as pure functions on flat
arrays of many events at once; randomness only from ``rng``.

See ``docs/simulation.md`` (The straw tracker, Response).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple, overload

import numpy as np

from tracknet.events import CROSSTALK_PARTICLE_ID, NOISE_PARTICLE_ID
from tracknet.schema import Settings, setting
from tracknet.simulation.straw.geometry import StrawGeometry

__all__ = [
    "DRIFT_RESOLUTION_MM",
    "PRIORITY_BACKGROUND",
    "PRIORITY_CROSSTALK",
    "PRIORITY_NOISE",
    "PRIORITY_TRACK",
    "SignalHits",
    "StrawResponse",
    "crosstalk_hits",
    "detector_hits",
    "efficiency_mask",
    "noise_hits",
    "single_hit_mask",
    "smear_drift",
]

#: Drift-distance resolution of a straw (mm): the tracker's measured hit resolution.
DRIFT_RESOLUTION_MM = 0.11

#: Which hit a straw keeps when several sources fire it (smallest first).
PRIORITY_BACKGROUND = -1
PRIORITY_TRACK = 0
PRIORITY_CROSSTALK = 1
PRIORITY_NOISE = 2


@dataclass(frozen=True)
class StrawResponse(Settings):
    """Detector effects (see ``docs/simulation.md``); :meth:`ideal` turns each off."""

    label: ClassVar[str] = "straw response"

    efficiency: float = setting(0.98, low=0.0, high=1.0)
    noise_rate: float = setting(0.001, low=0.0, high=1.0)
    crosstalk: float = setting(0.01, low=0.0, high=1.0)
    drift_sigma_mm: float = setting(DRIFT_RESOLUTION_MM, low=0.0)
    single_hit_per_straw: bool = True

    @classmethod
    def ideal(cls) -> StrawResponse:
        """Every effect off: full efficiency, exact drift, no crosstalk, no noise."""
        return cls(efficiency=1.0, noise_rate=0.0, crosstalk=0.0, drift_sigma_mm=0.0)


def efficiency_mask(n: int, efficiency: float, rng: np.random.Generator) -> np.ndarray:
    """Which of ``n`` crossed straws record a hit."""
    if efficiency >= 1.0:
        return np.ones(n, dtype=bool)
    return rng.random(n) < efficiency


def smear_drift(
    dca: np.ndarray, sigma_mm: float, radius_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """Measured drift distances: ``dca + N(0, sigma)`` clipped to ``[0, radius]``."""
    if sigma_mm <= 0:
        return np.asarray(dca, dtype=np.float64).copy()
    return np.clip(dca + sigma_mm * rng.standard_normal(len(dca)), 0.0, radius_mm)


def crosstalk_hits(
    straw_id: np.ndarray, geometry: StrawGeometry, probability: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Crosstalk of fired straws: ``(source row, neighbour straw id)``.

    Each fired straw's neighbours ``straw - 1`` and ``straw + 1`` of the same layer (those
    that exist) fire independently with ``probability``. Rows are ordered by source row,
    the lower neighbour first.
    """
    n = len(straw_id)
    if probability <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    fire = rng.random((n, 2)) < probability
    within = np.asarray(straw_id, dtype=np.int64) % geometry.straws_per_layer
    fire[:, 0] &= within > 0
    fire[:, 1] &= within < geometry.straws_per_layer - 1
    source, side = np.nonzero(fire)
    return source.astype(np.int64), np.asarray(straw_id, dtype=np.int64)[source] + (2 * side - 1)


def noise_hits(
    n_events: int, geometry: StrawGeometry, rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise of ``n_events`` events: ``(event row, straw id, drift mm)``.

    Every straw of every event fires independently with probability ``rate`` (a
    Bernoulli process over the ``n_events * n_straws`` straws, drawn exactly through
    geometric gaps between firing straws: the work grows with the number of noise hits,
    not of straws). Sorted by event row, then straw id.
    """
    total = n_events * geometry.n_straws
    if rate <= 0 or total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    expected = total * rate
    chunks: list[np.ndarray] = []
    reached = -1
    while reached < total - 1:
        size = int(expected + 6.0 * math.sqrt(expected) + 16)
        gaps = rng.geometric(rate, size=size).astype(np.int64)
        positions = reached + np.cumsum(gaps)
        chunks.append(positions)
        reached = int(positions[-1])
    flat = np.concatenate(chunks)
    flat = flat[flat < total]
    event, straw = np.divmod(flat, geometry.n_straws)
    drift = rng.random(len(flat)) * geometry.straw_radius_mm
    return event, straw, drift


def single_hit_mask(
    event: np.ndarray, straw_id: np.ndarray, priority: np.ndarray, drift: np.ndarray
) -> np.ndarray:
    """Keep one hit per ``(event, straw)``: the smallest ``priority``, then the smallest
    drift (then the first row)."""
    n = len(event)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((np.arange(n), drift, priority, straw_id, event))
    e, s = event[order], straw_id[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (e[1:] != e[:-1]) | (s[1:] != s[:-1])
    keep = np.zeros(n, dtype=bool)
    keep[order[first]] = True
    return keep


class SignalHits(NamedTuple):
    """Labelled hits of tracks (or any source that keeps its labels), one row per hit:
    event row, straw id, drift (mm), particle id, closest point and momentum there."""

    event: np.ndarray
    straw_id: np.ndarray
    drift: np.ndarray
    particle_id: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    tpx: np.ndarray
    tpy: np.ndarray

    @classmethod
    def concat(cls, items: list[SignalHits]) -> SignalHits:
        return cls(*(np.concatenate([getattr(i, f) for i in items]) for f in cls._fields))

    def subset(self, keep: np.ndarray) -> SignalHits:
        return SignalHits(*(getattr(self, f)[keep] for f in self._fields))


@overload
def detector_hits(
    signal: SignalHits,
    n_events: int,
    geometry: StrawGeometry,
    response: StrawResponse,
    rng_crosstalk: np.random.Generator,
    rng_noise: np.random.Generator,
    *,
    signal_priority: np.ndarray | None = ...,
    with_signal_rows: Literal[False] = ...,
) -> SignalHits: ...
@overload
def detector_hits(
    signal: SignalHits,
    n_events: int,
    geometry: StrawGeometry,
    response: StrawResponse,
    rng_crosstalk: np.random.Generator,
    rng_noise: np.random.Generator,
    *,
    signal_priority: np.ndarray | None = ...,
    with_signal_rows: Literal[True],
) -> tuple[SignalHits, np.ndarray]: ...
def detector_hits(
    signal: SignalHits,
    n_events: int,
    geometry: StrawGeometry,
    response: StrawResponse,
    rng_crosstalk: np.random.Generator,
    rng_noise: np.random.Generator,
    *,
    signal_priority: np.ndarray | None = None,
    with_signal_rows: bool = False,
) -> SignalHits | tuple[SignalHits, np.ndarray]:
    """All hits of ``n_events`` events from the signal hits: one hit per straw (when on),
    crosstalk of the fired straws, noise; sorted by ``(event, straw_id)``.

    Crosstalk and noise rows carry their reserved particle id, their straw centre as
    ``(tx, ty)`` and zero momentum. ``signal_priority`` (None:
    :data:`PRIORITY_TRACK` for every row) lets a caller rank some signal rows first
    (the unchanged background of a semi-synthetic event).
    """
    priority = (
        np.full(len(signal.event), PRIORITY_TRACK, dtype=np.int64)
        if signal_priority is None
        else signal_priority
    )
    rows = np.arange(len(signal.event), dtype=np.int64)
    if response.single_hit_per_straw and len(signal.event):
        keep = single_hit_mask(signal.event, signal.straw_id, priority, signal.drift) | (
            priority == PRIORITY_BACKGROUND
        )
        signal, priority, rows = signal.subset(keep), priority[keep], rows[keep]
    sources = np.flatnonzero(priority == PRIORITY_TRACK)
    source, neighbour = crosstalk_hits(
        signal.straw_id[sources], geometry, response.crosstalk, rng_crosstalk
    )
    source = sources[source]
    n_event, n_straw, n_drift = noise_hits(n_events, geometry, response.noise_rate, rng_noise)
    extra_straw = np.concatenate([neighbour, n_straw])
    n_extra = len(extra_straw)
    extra = SignalHits(
        event=np.concatenate([signal.event[source], n_event]).astype(np.int64),
        straw_id=extra_straw,
        drift=np.concatenate([signal.drift[source], n_drift]),
        particle_id=np.concatenate(
            [np.full(len(source), CROSSTALK_PARTICLE_ID), np.full(len(n_event), NOISE_PARTICLE_ID)]
        ).astype(np.int64),
        tx=geometry.straw_x[extra_straw],
        ty=geometry.straw_y[extra_straw],
        tpx=np.zeros(n_extra),
        tpy=np.zeros(n_extra),
    )
    hits = SignalHits.concat([signal, extra])
    priority = np.concatenate(
        [priority, np.full(len(source), PRIORITY_CROSSTALK), np.full(len(n_event), PRIORITY_NOISE)]
    )
    rows = np.concatenate([rows, np.full(n_extra, -1, dtype=np.int64)])
    if response.single_hit_per_straw:
        keep = single_hit_mask(hits.event, hits.straw_id, priority, hits.drift) | (
            priority == PRIORITY_BACKGROUND
        )
        hits, priority, rows = hits.subset(keep), priority[keep], rows[keep]
    order = np.lexsort((priority, hits.drift, hits.straw_id, hits.event))
    return (hits.subset(order), rows[order]) if with_signal_rows else hits.subset(order)
