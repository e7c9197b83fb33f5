"""Straw events -> training tracks: each particle's hits ordered along ``x``, one per layer.

A straw track (particle ``particle_id > 0`` of an event) is the sequence of its hits in
the order the particle crossed the layers. Tracks of the 2D straw model travel along
``+x`` and cross every layer plane once (the simulator follows a track only while it
moves forward, :mod:`tracknet.simulation.straw.tracks`), so the order is the order of
the *global layer* ``volume_id * layers_per_module + layer_id`` (equivalently of ``x``).
When a particle fired two straws of one layer (possible for steep tracks), only the
hit with the smaller drift distance (the straw the track passes nearest) is kept.

One entry per layer crossing
    A track's sequence holds **one entry per layer** from its first hit's layer to its
    last hit's layer, so that every step of the model goes exactly one layer further
    (``x`` of the next entry is the next layer's ``x``). A layer with a hit gives the
    hit's position (below). A layer the track crossed without a hit (it passed between
    two straws, about one layer in five, or the straw was inefficient) gives the
    trajectory's crossing of that layer, interpolated linearly in ``x`` between the
    points of the hits before and after it (the true closest points ``(tx, ty)`` with
    ``positions="wire"``, the resolved crossings with ``"resolved"``). The track builder
    does the same: it feeds the predicted crossing while it looks on, and once it finds
    the next hit the model re-reads the missed layers interpolated between the two hits
    (:mod:`tracknet.building.straw`). Without these entries the next hit would lie one,
    two or three layers ahead at random (after the third layer of a module, 11 cm
    further), and the t1 circles would have to cover that whole range.

A hit's position
    ``positions="wire"``: the fired straw's centre ``(x, y)``. ``positions="resolved"``:
    the crossing of the layer plane by the trajectory, ``y_wire +- drift * sqrt(1 +
    slope^2)`` (:func:`resolved_y`) on the side of the true trajectory and with its true
    slope (the momentum at the hit): the left/right ambiguity of the drift circle
    resolved with the truth, as the builder resolves it by trying both sides. Drifts
    below ``min_drift_mm`` stay at the wire.

Noise (``particle_id`` 0), crosstalk (-2) and unlabelled (-1) hits are not track hits and
never enter a training track; they are background that the builder must leave out.
Everything is vectorised over all hits of a
:class:`~tracknet.simulation.straw.batch.StrawBatch`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..simulation.straw.batch import StrawBatch

__all__ = ["POSITIONS", "StrawTracks", "resolved_y", "straw_tracks"]

#: How a hit becomes a track entry: the straw centre, or the drift-resolved crossing.
POSITIONS: tuple[str, ...] = ("wire", "resolved")


@dataclass(frozen=True)
class StrawTracks:
    """Ragged straw tracks: ``coords`` ``(n_entries, 2)`` (x, y mm, float64), one entry
    per layer crossing in track order, ``is_hit`` (``False``: a layer crossed without a
    hit, its entry interpolated), ``offsets`` ``(n_tracks + 1,)``, and per track
    ``event_id``, ``particle_id`` and ``p`` (GeV, the momentum at entry; NaN when the
    particles table lacks the track)."""

    coords: np.ndarray
    offsets: np.ndarray
    event_id: np.ndarray
    particle_id: np.ndarray
    p: np.ndarray
    is_hit: np.ndarray

    @property
    def n_tracks(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def take_events(self, event_ids: np.ndarray) -> StrawTracks:
        """The tracks of the given events (order kept)."""
        keep = np.isin(self.event_id, np.asarray(event_ids, dtype=np.int64))
        index = np.flatnonzero(keep)
        lengths = self.lengths[index]
        starts = self.offsets[:-1][index]
        rows = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(
            int(lengths.sum())
        )
        return StrawTracks(
            coords=self.coords[rows],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            event_id=self.event_id[index],
            particle_id=self.particle_id[index],
            p=self.p[index],
            is_hit=self.is_hit[rows],
        )


def resolved_y(
    y_wire: np.ndarray,
    drift: np.ndarray,
    side: np.ndarray,
    slope: np.ndarray,
    min_drift_mm: float = 0.0,
) -> np.ndarray:
    """The crossing of the layer plane by a track passing ``drift`` (mm) from the wire at
    ``y_wire`` on ``side`` (+1: larger ``y``, -1: smaller) with slope ``dy/dx``:
    ``y_wire + side * drift * sqrt(1 + slope^2)`` (exact for a straight track). A drift
    below ``min_drift_mm`` is not resolved: the wire itself (within ``min_drift_mm`` of
    either side), so that a wrong side can never cost more than that."""
    off = np.where(drift >= min_drift_mm, drift, 0.0) * np.sqrt(1.0 + slope * slope)
    crossing: np.ndarray = y_wire + side * off
    return crossing


def straw_tracks(
    batch: StrawBatch,
    layer_x: np.ndarray,
    layers_per_module: int,
    min_hits: int = 3,
    positions: str = "wire",
    min_drift_mm: float = 0.0,
) -> StrawTracks:
    """The tracks of every labelled particle of ``batch`` with at least ``min_hits`` hits
    after keeping one hit per layer, one entry per layer crossing from the track's
    first hit to its last (see the module docstring); ``layer_x`` (mm) is the ``x`` of
    every global layer. ``positions``: ``"wire"`` (a hit's entry is its straw centre) or
    ``"resolved"`` (the left/right ambiguity resolved with the truth: the crossing
    :func:`resolved_y` on the side of the true trajectory, with its true slope; drifts
    below ``min_drift_mm`` stay at the wire)."""
    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {list(POSITIONS)}, got {positions!r}")
    layer_x = np.asarray(layer_x, dtype=np.float64)
    h = batch.hits
    labelled = np.flatnonzero(h["particle_id"] > 0)
    event = h["event_id"][labelled]
    pid = h["particle_id"][labelled]
    layer = (
        h["volume_id"][labelled].astype(np.int64) * int(layers_per_module) + h["layer_id"][labelled]
    )
    drift = h["drift_mm"][labelled]
    order = np.lexsort((drift, layer, pid, event))
    event, pid, layer, rows = event[order], pid[order], layer[order], labelled[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (event[1:] != event[:-1]) | (pid[1:] != pid[:-1]) | (layer[1:] != layer[:-1])
    event, pid, layer, rows = event[first], pid[first], layer[first], rows[first]
    start = np.ones(len(rows), dtype=bool)
    start[1:] = (event[1:] != event[:-1]) | (pid[1:] != pid[:-1])
    heads = np.flatnonzero(start)
    counts = np.diff(np.append(heads, len(rows)))
    long_enough = counts >= min_hits
    keep_hit = np.repeat(long_enough, counts)
    event, pid, layer, rows = event[keep_hit], pid[keep_hit], layer[keep_hit], rows[keep_hit]
    heads, counts = np.cumsum(np.append(0, counts[long_enough]))[:-1], counts[long_enough]
    n_tracks = len(heads)
    t_event, t_pid = event[heads], pid[heads]
    # One entry per layer crossing from the first to the last hit of each track.
    first_layer = layer[heads]
    last_layer = layer[heads + counts - 1]
    n_entries = last_layer - first_layer + 1
    entry_track = np.repeat(np.arange(n_tracks, dtype=np.int64), n_entries)
    entry_start = np.cumsum(n_entries) - n_entries
    entry_layer = first_layer[entry_track] + (
        np.arange(int(n_entries.sum())) - entry_start[entry_track]
    )
    span = len(layer_x) + 1
    hit_track = np.repeat(np.arange(n_tracks, dtype=np.int64), counts)
    hit_key = hit_track * span + layer
    entry_key = entry_track * span + entry_layer
    prev = np.searchsorted(hit_key, entry_key, side="right") - 1
    is_hit = hit_key[prev] == entry_key
    nxt = np.minimum(prev + 1, len(hit_key) - 1)
    x = layer_x[entry_layer]
    y = h["y"][rows][prev].astype(np.float64)
    # A layer crossed without a hit: the trajectory's crossing, interpolated along x
    # between the true points (tx, ty) of the hits around it.
    tx, ty = h["tx"][rows], h["ty"][rows]
    if positions == "resolved":
        wire_y = h["y"][rows].astype(np.float64)
        side = np.where(ty >= wire_y, 1.0, -1.0)
        tpx, tpy = h["tpx"][rows], h["tpy"][rows]
        slope = np.where(np.abs(tpx) > 0, tpy / np.where(np.abs(tpx) > 0, tpx, 1.0), 0.0)
        hit_y = resolved_y(
            wire_y, h["drift_mm"][rows].astype(np.float64), side, slope, min_drift_mm
        )
        y = hit_y[prev]
        tx, ty = layer_x[layer], hit_y
    virtual = ~is_hit
    if virtual.any():
        p, q = prev[virtual], nxt[virtual]
        dx = tx[q] - tx[p]
        w = np.where(np.abs(dx) > 0, (x[virtual] - tx[p]) / np.where(np.abs(dx) > 0, dx, 1.0), 0.5)
        y[virtual] = ty[p] + w * (ty[q] - ty[p])
    # Momentum at entry from the particles table (sorted by event_id, particle_id).
    pe, pp = batch.particles["event_id"], batch.particles["particle_id"]
    p_all = np.hypot(batch.particles["px"], batch.particles["py"])
    key_p = pe * (1 << 31) + pp
    key_t = t_event * (1 << 31) + t_pid
    p_track = np.full(n_tracks, np.nan)
    if len(key_p):
        where = np.minimum(np.searchsorted(key_p, key_t), len(key_p) - 1)
        found = key_p[where] == key_t
        p_track[found] = p_all[where[found]]
    return StrawTracks(
        coords=np.stack([x, y], axis=1),
        offsets=np.concatenate([[0], np.cumsum(n_entries)]).astype(np.int64),
        event_id=t_event.astype(np.int64),
        particle_id=t_pid.astype(np.int64),
        p=p_track,
        is_hit=is_hit,
    )
