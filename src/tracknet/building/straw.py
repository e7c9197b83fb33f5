"""Track building on straw events (2D): TrackNET or a classical follower, many events at once.

A straw event holds a few tens of hits and a test set thousands of events, so nothing
here works one event at a time: a *chunk* of events (``events_per_batch``) is built in
one pass. Every hit carries its event row; a search only ever looks at hits of the
candidate's own event and layer (sorted keys ``(event, layer, y)``), so one batched
model step and one vectorised search serve the whole chunk without mixing events.

Definitions (units: mm)
    *Global layer* ``l = volume_id * layers_per_module + layer_id`` (0 = the first layer
    a track meets); layer ``l`` is the plane ``x = layer_x[l]`` of the straw geometry
    (from the dataset record). A hit is the fired straw's centre ``(x, y)`` with its drift
    distance ``drift_mm``.

Seeding
    Tracks enter before the first module and travel along ``+x``, possibly at an angle.
    A seed is a pair of hits ``(a, b)`` of one event and one module among the first
    ``seed_modules`` modules, ``b`` one to ``seed_max_span`` layers after ``a``, with
    ``|y_b - y_a| <= seed_max_slope * (x_b - x_a) + pitch``. Pairs on non-neighbouring
    layers bridge a layer the track crossed between two straws (about one in five).

Extension: one layer per step
    A candidate stands on a layer ``l`` and looks for its hit on layer ``l + 1``:

    * TrackNET (:class:`StrawTrackNetFollower`): the 2D StepAhead model reads one entry
      per layer crossing (as it was trained, :mod:`tracknet.data.straw_tracks`) and its
      t1 circle (centre, radius times ``radius_scale``) predicts the next crossing;
    * baseline (:class:`StrawLineFollower`): a least-squares line (parabola once the hits
      span more than one module) through the candidate's last ``baseline_fit_hits`` hits
      gives ``y`` at the next layer, and the window is
      ``baseline_window_mm + baseline_window_per_mm * (x_next - x_last)``.

    The hits of layer ``l + 1`` inside the circle (window) are the candidate's children,
    nearest first (at most ``max_branches``); a child's cost grows by its normalised
    distance ``|hit - centre| / radius``, plus ``drift_weight`` times the mismatch of the
    drift circle with the predicted crossing, ``| |y - y_centre| - drift | / radius``.
    When the circle holds no hit, or its nearest hit lies beyond ``skip_above`` times the
    radius, the candidate also continues *without* a hit on that layer (a hole, cost
    ``miss_penalty``): TrackNET is fed the predicted crossing, the baseline just fits its
    hits. At most ``max_misses`` holes in a row; a candidate without children ends.
    The best ``beam_width`` children of each seed live on, and children that stand on the
    same layer after the same two hits are merged (the one with more hits, then lower
    cost, goes on).

    A hole's entry (TrackNET's predicted crossing) is uncertain, but the model reads it as
    a measured point; so until the next hit the radius of each circle is widened to
    ``sqrt(r^2 + sum of the squared radii of the holes since the last hit)``.

Selection
    Ended candidates with at least ``min_hits`` hits go through
    :func:`tracknet.building.selection.select_tracks` (longest first, then lowest mean
    cost; a hit is on at most one track); track ids are numbered 1, 2, ... within each
    event, 0 means "on no track".

:func:`build_straw_batch` builds a :class:`~tracknet.simulation.straw.StrawBatch`;
:func:`build_straw_directory` a straw dataset directory into one submission CSV (written
atomically, with the build record beside it), which is what ``tracknet build`` runs
for a straw directory.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch

from ..errors import ConfigError, DataError
from ..events import UNASSIGNED_TRACK_ID
from .builder import Candidates
from .selection import SelectionConfig, select_tracks

__all__ = [
    "STRAW_ALGORITHMS",
    "StrawBuildConfig",
    "StrawHits",
    "StrawFollower",
    "StrawTrackNetFollower",
    "StrawLineFollower",
    "find_straw_seeds",
    "extend_straw",
    "build_straw_hits",
    "build_straw_batch",
    "build_straw_directory",
    "check_straw_model",
]

STRAW_ALGORITHMS: tuple[str, ...] = ("tracknet", "baseline")
_Y_OFFSET = 5.0e3  # mm: y + offset is positive for any detector smaller than 10 m
_KEY_SPAN = 1.0e4  # mm between two (event, layer) groups of the search key


def _check(name: str, value: Any, *, integer: bool = False, low: float = 0.0, open_low: bool = False) -> None:
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > low if open_low else value >= low)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"straw build {name} must be {kind} {'>' if open_low else '>='} {low:g}, got {value!r}")


@dataclass(frozen=True)
class StrawBuildConfig:
    """Every setting of the straw builder (module docstring; lengths in mm)."""

    seed_modules: int = 2
    seed_max_span: int = 2
    seed_max_slope: float = 0.45
    beam_width: int = 3
    max_branches: int = 2
    max_misses: int = 3
    miss_penalty: float = 1.2
    skip_above: float = 0.5
    drift_weight: float = 0.0
    radius_scale: float | None = None
    baseline_window_mm: float = 4.0
    baseline_window_per_mm: float = 0.2
    baseline_fit_hits: int = 12
    min_hits: int = 3
    max_shared_fraction: float = 0.5
    max_mean_cost: float | None = None
    events_per_batch: int = 4096

    def __post_init__(self) -> None:
        for name in ("seed_modules", "seed_max_span", "beam_width", "max_branches", "baseline_fit_hits", "min_hits", "events_per_batch"):
            _check(name, getattr(self, name), integer=True, low=1)
        _check("max_misses", self.max_misses, integer=True, low=0)
        for name in ("seed_max_slope", "miss_penalty", "skip_above", "drift_weight", "baseline_window_per_mm"):
            _check(name, getattr(self, name))
        _check("baseline_window_mm", self.baseline_window_mm, open_low=True)
        if self.radius_scale is not None:
            _check("radius_scale", self.radius_scale, open_low=True)
        if self.baseline_fit_hits < 2:
            raise ConfigError(f"straw build baseline_fit_hits must be >= 2, got {self.baseline_fit_hits}")
        if self.min_hits < 2:
            raise ConfigError(f"straw build min_hits must be >= 2 (a seed holds 2 hits), got {self.min_hits}")
        self.selection()

    def selection(self) -> SelectionConfig:
        return SelectionConfig(
            min_hits=self.min_hits, max_shared_fraction=self.max_shared_fraction, max_mean_cost=self.max_mean_cost
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, overrides: dict[str, Any] | None = None) -> StrawBuildConfig:
        """The defaults with ``overrides`` applied; unknown keys are an error."""
        overrides = dict(overrides or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown straw build option(s) {unknown}; known: {sorted(known)}")
        return cls(**overrides)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> StrawBuildConfig:
        """The defaults with the overrides of a JSON file (one object)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read build config ({exc.strerror or exc})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a build config must be a JSON object")
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- hits


@dataclass(frozen=True, eq=False)
class StrawHits:
    """The hits of a chunk of events, flat: ``event`` (row 0..E-1), ``x, y, drift`` (mm),
    ``layer`` (global), and the search order ``order`` / ``key`` (sorted by event, layer, y)."""

    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    drift: np.ndarray
    layer: np.ndarray
    layer_x: np.ndarray
    layers_per_module: int
    pitch_mm: float
    order: np.ndarray
    key: np.ndarray

    @classmethod
    def make(
        cls,
        event: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        drift: np.ndarray,
        layer: np.ndarray,
        layer_x: np.ndarray,
        layers_per_module: int,
        pitch_mm: float,
    ) -> StrawHits:
        event = np.asarray(event, dtype=np.int64)
        layer = np.asarray(layer, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        n_layers = len(layer_x)
        if len(layer) and (layer.min() < 0 or layer.max() >= n_layers):
            raise DataError(f"straw hits lie on layers outside the geometry's {n_layers} layers")
        if len(y) and np.abs(y).max() >= _Y_OFFSET:
            raise DataError(f"straw hits with |y| >= {_Y_OFFSET} mm")
        key = (event * n_layers + layer) * _KEY_SPAN + (y + _Y_OFFSET)
        order = np.argsort(key, kind="stable")
        return cls(
            event, np.asarray(x, dtype=np.float64), y, np.asarray(drift, dtype=np.float64), layer,
            np.asarray(layer_x, dtype=np.float64), int(layers_per_module), float(pitch_mm), order, key[order],
        )

    @property
    def n_layers(self) -> int:
        return len(self.layer_x)

    def __len__(self) -> int:
        return len(self.event)

    def window(self, event: np.ndarray, layer: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat ``(query, hit row)`` pairs: the hits of ``(event, layer)`` with ``y_lo <= y <= y_hi``."""
        base = (np.asarray(event, dtype=np.int64) * self.n_layers + layer) * _KEY_SPAN + _Y_OFFSET
        lo = np.searchsorted(self.key, base + y_lo, side="left")
        hi = np.searchsorted(self.key, base + y_hi, side="right")
        count = np.maximum(hi - lo, 0)
        query = np.repeat(np.arange(len(lo), dtype=np.int64), count)
        starts = np.cumsum(count) - count
        pos = np.repeat(lo - starts, count) + np.arange(int(count.sum()), dtype=np.int64)
        return query, self.order[pos]


# --------------------------------------------------------------------------- followers


class StrawFollower(Protocol):
    """What the straw extension needs from a track follower (its state is opaque)."""

    def start(self, entries: np.ndarray) -> Any:
        """State after reading seeds: ``entries`` ``(S, m, 2)`` (x, y mm), one per layer."""
        ...

    def predict(self, state: Any, paths: np.ndarray, n_hits: np.ndarray, hits: StrawHits, next_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Circle ``(centre (N, 2), radius (N,))`` for each candidate's crossing of its next layer."""
        ...

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray) -> Any:
        """State of children: child ``i`` continues ``parents[i]`` with ``entries[i]`` (x, y)."""
        ...

    def take(self, state: Any, rows: np.ndarray) -> Any:
        """The state of the candidates ``rows``."""
        ...


class StrawTrackNetFollower:
    """A 2D StepAhead TrackNET as a :class:`StrawFollower`: one batched GRU step per layer.

    The state is ``(hidden (num_layers, N, state_size), centre (N, 2) mm, radius (N,) mm)``,
    the t1 circle after the last entry; ``radius_scale`` multiplies every radius.
    """

    #: A hole's predicted crossing is fed as if it were measured: its uncertainty is added
    #: to the next circles until a hit is found (module docstring).
    inflate_after_holes = True

    def __init__(self, model: Any, normalizer: Any, *, radius_scale: float = 1.0) -> None:
        if model.input_dim != 2:
            raise ConfigError(f"straw building needs a 2D (x, y) model (input_dim 2), got input_dim {model.input_dim}")
        self.model = model.eval()
        self.normalizer = normalizer
        self.radius_scale = float(radius_scale)

    @torch.no_grad()
    def _step(self, x_mm: np.ndarray, hidden: torch.Tensor | None) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        x = torch.as_tensor(self.normalizer.to_model(x_mm), dtype=torch.float32)
        pred, hidden = self.model.step(x, hidden)
        centre = self.normalizer.to_mm(pred.t1_center.numpy().astype(np.float64))
        radius = self.normalizer.radius_to_mm(pred.t1_radius.numpy().astype(np.float64)) * self.radius_scale
        return hidden, centre, radius

    def start(self, entries: np.ndarray) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        hidden = None
        centre, radius = np.zeros((len(entries), 2)), np.zeros(len(entries))
        if len(entries) == 0:
            return self.model.initial_hidden(0), centre, radius
        for j in range(entries.shape[1]):
            hidden, centre, radius = self._step(entries[:, j], hidden)
        return hidden, centre, radius

    def predict(self, state: Any, paths: np.ndarray, n_hits: np.ndarray, hits: StrawHits, next_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return state[1], state[2]

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray) -> Any:
        if len(parents) == 0:
            return self.take(state, parents)
        hidden = state[0][:, torch.as_tensor(parents)]
        return self._step(entries, hidden)

    def take(self, state: Any, rows: np.ndarray) -> Any:
        return state[0][:, torch.as_tensor(np.asarray(rows, dtype=np.int64))], state[1][rows], state[2][rows]

    @staticmethod
    def concatenate(states: list[Any]) -> Any:
        return torch.cat([s[0] for s in states], dim=1), np.concatenate([s[1] for s in states]), np.concatenate([s[2] for s in states])


class StrawLineFollower:
    """The classical follower: a least-squares line (or parabola) through the last hits.

    ``y(x)`` is fitted to the candidate's last ``fit_hits`` hits (straw centres), a
    parabola when they span more than ``parabola_span_mm`` in ``x`` (a circle of the
    magnetic field, to second order), else a line; the search window at the next layer
    is ``window_mm + window_per_mm * (x_next - x_last)``. No state.
    """

    def __init__(self, *, window_mm: float, window_per_mm: float, fit_hits: int, parabola_span_mm: float = 100.0) -> None:
        self.window_mm = float(window_mm)
        self.window_per_mm = float(window_per_mm)
        self.fit_hits = int(fit_hits)
        self.parabola_span_mm = float(parabola_span_mm)

    def start(self, entries: np.ndarray) -> None:
        return None

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray) -> None:
        return None

    def take(self, state: Any, rows: np.ndarray) -> None:
        return None

    @staticmethod
    def concatenate(states: list[Any]) -> None:
        return None

    def predict(self, state: Any, paths: np.ndarray, n_hits: np.ndarray, hits: StrawHits, next_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(n_hits)
        k = self.fit_hits
        cols = n_hits[:, None] - k + np.arange(k)[None, :]
        valid = cols >= 0
        rows = np.where(valid, paths[np.arange(n)[:, None], np.maximum(cols, 0)], 0)
        x_last = hits.x[paths[np.arange(n), n_hits - 1]]
        x = np.where(valid, hits.x[rows] - x_last[:, None], 0.0) / 100.0  # 100 mm units
        y = np.where(valid, hits.y[rows], 0.0)
        w = valid.astype(np.float64)
        span = np.where(valid, x, np.inf).min(axis=1)
        quadratic = (-span * 100.0 > self.parabola_span_mm) & (valid.sum(axis=1) >= 4)
        # Normal equations of y = a + b x (+ c x^2), weighted by validity.
        s = [np.sum(w * x**p, axis=1) for p in range(5)]
        t = [np.sum(w * y * x**p, axis=1) for p in range(3)]
        m3 = np.stack(
            [np.stack([s[0], s[1], s[2]], -1), np.stack([s[1], s[2], s[3]], -1), np.stack([s[2], s[3], s[4]], -1)], -2
        )
        r3 = np.stack(t, -1)
        m2 = m3[:, :2, :2]
        r2 = r3[:, :2]
        coef = np.zeros((n, 3))
        lin = ~quadratic
        if lin.any():
            det = m2[lin, 0, 0] * m2[lin, 1, 1] - m2[lin, 0, 1] ** 2
            safe = np.abs(det) > 1e-12
            a = np.where(safe, (m2[lin, 1, 1] * r2[lin, 0] - m2[lin, 0, 1] * r2[lin, 1]) / np.where(safe, det, 1), r2[lin, 0] / np.maximum(m2[lin, 0, 0], 1))
            b = np.where(safe, (m2[lin, 0, 0] * r2[lin, 1] - m2[lin, 0, 1] * r2[lin, 0]) / np.where(safe, det, 1), 0.0)
            coef[lin, 0], coef[lin, 1] = a, b
        if quadratic.any():
            coef[quadratic] = np.linalg.solve(m3[quadratic], r3[quadratic][..., None])[..., 0]
        dx = (next_x - x_last) / 100.0
        y_next = coef[:, 0] + coef[:, 1] * dx + coef[:, 2] * dx * dx
        centre = np.stack([next_x, y_next], axis=1)
        return centre, self.window_mm + self.window_per_mm * (next_x - x_last)


# --------------------------------------------------------------------------- seeding


def find_straw_seeds(hits: StrawHits, config: StrawBuildConfig, available: np.ndarray | None = None) -> np.ndarray:
    """Seed pairs ``(S, 2)`` of hit rows (module docstring), sorted by first hit then second."""
    lpm = hits.layers_per_module
    first = np.flatnonzero((hits.layer < config.seed_modules * lpm) & (True if available is None else available))
    pairs: list[np.ndarray] = []
    for span in range(1, config.seed_max_span + 1):
        a = first[(hits.layer[first] % lpm) + span < lpm]
        layer_b = hits.layer[a] + span
        dx = hits.layer_x[layer_b] - hits.x[a]
        half = config.seed_max_slope * dx + hits.pitch_mm
        q, b = hits.window(hits.event[a], layer_b, hits.y[a] - half, hits.y[a] + half)
        if available is not None:
            keep = available[b]
            q, b = q[keep], b[keep]
        pairs.append(np.stack([a[q], b], axis=1))
    seeds = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    order = np.lexsort((seeds[:, 1], seeds[:, 0]))
    return seeds[order].astype(np.int64)


def _seed_entries(hits: StrawHits, seeds: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeds grouped by span: ``(seed rows, entries (S, span + 1, 2))``, with the layers
    between the two hits filled by linear interpolation."""
    a, b = seeds[:, 0], seeds[:, 1]
    span = hits.layer[b] - hits.layer[a]
    groups = []
    for s in np.unique(span):
        rows = np.flatnonzero(span == s)
        layers = hits.layer[a[rows]][:, None] + np.arange(s + 1)[None, :]
        x = hits.layer_x[layers]
        xa, xb = hits.x[a[rows]][:, None], hits.x[b[rows]][:, None]
        ya, yb = hits.y[a[rows]][:, None], hits.y[b[rows]][:, None]
        y = ya + (yb - ya) * (x - xa) / (xb - xa)
        groups.append((rows, np.stack([x, y], axis=-1)))
    return groups


# --------------------------------------------------------------------------- extension


def _ranks(sorted_groups: np.ndarray) -> np.ndarray:
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(n, dtype=bool)
    start[1:] = sorted_groups[1:] != sorted_groups[:-1]
    first = np.flatnonzero(start)
    return np.arange(n, dtype=np.int64) - np.repeat(first, np.diff(np.append(first, n)))


def extend_straw(
    follower: Any, hits: StrawHits, seeds: np.ndarray, config: StrawBuildConfig, *, stats: dict[str, int] | None = None
) -> Candidates:
    """Grow every seed layer by layer (module docstring); the ended candidates."""
    n_layers = hits.n_layers
    width = n_layers
    if len(seeds) == 0:
        return Candidates.empty(width, 2)
    groups = _seed_entries(hits, seeds)
    order = np.concatenate([g[0] for g in groups])
    seeds = seeds[order]
    state = follower.concatenate([follower.start(entries) for _, entries in groups])
    s = len(seeds)
    paths = np.full((s, width), -1, dtype=np.int64)
    paths[:, :2] = seeds
    n_hits = np.full(s, 2, dtype=np.int64)
    cost = np.zeros(s)
    misses = np.zeros(s, dtype=np.int64)
    consec = np.zeros(s, dtype=np.int64)
    carry = np.zeros(s)  # squared radii of the holes since the last hit (inflation)
    inflate = bool(getattr(follower, "inflate_after_holes", False))
    layer = hits.layer[seeds[:, 1]].copy()
    seed_of = np.arange(s, dtype=np.int64)
    done: list[tuple[np.ndarray, ...]] = []
    counters = {"steps": 0, "live_max": s}

    def finish(index: np.ndarray) -> None:
        keep = index[n_hits[index] >= config.min_hits]
        if len(keep):
            done.append((paths[keep], n_hits[keep], cost[keep], misses[keep], seed_of[keep]))

    while len(n_hits):
        counters["steps"] += 1
        n = len(n_hits)
        nxt = layer + 1
        alive = nxt < n_layers
        finish(np.flatnonzero(~alive))
        live = np.flatnonzero(alive)
        if len(live) == 0:
            break
        next_x = hits.layer_x[nxt[live]]
        centre, radius = follower.predict(state, paths, n_hits, hits, hits.layer_x[np.minimum(nxt, n_layers - 1)])
        centre, radius = centre[live], np.maximum(radius[live], 1e-6)
        if inflate:
            radius = np.sqrt(radius * radius + carry[live])
        event = hits.event[paths[live, 0]]
        dx = next_x - centre[:, 0]
        half = np.sqrt(np.maximum(radius * radius - dx * dx, 0.0))
        q, h = hits.window(event, nxt[live], centre[:, 1] - half, centre[:, 1] + half)
        dy = hits.y[h] - centre[q, 1]
        norm = np.sqrt(dx[q] ** 2 + dy**2) / radius[q]
        keep = norm <= 1.0
        q, h, dy, norm = q[keep], h[keep], dy[keep], norm[keep]
        step_cost = norm + config.drift_weight * np.abs(np.abs(dy) - hits.drift[h]) / radius[q]
        by = np.lexsort((h, step_cost, q))
        q, h, step_cost, norm = q[by], h[by], step_cost[by], norm[by]
        first_rank = _ranks(q)
        best = np.full(len(live), np.inf)
        np.minimum.at(best, q, norm)
        take = first_rank < config.max_branches
        q, h, step_cost = q[take], h[take], step_cost[take]
        hole = (best > config.skip_above) & (consec[live] < config.max_misses)
        hq = np.flatnonzero(hole)
        parent = live[np.concatenate([q, hq])]
        child_hit = np.concatenate([h, np.full(len(hq), -1, dtype=np.int64)])
        child_cost = cost[parent] + np.concatenate([step_cost, np.full(len(hq), config.miss_penalty)])
        virtual_y = centre[np.concatenate([q, hq]), 1]
        child_r2 = radius[np.concatenate([q, hq])] ** 2
        has_child = np.zeros(n, dtype=bool)
        has_child[parent] = True
        finish(live[~has_child[live]])
        # Beam: the best beam_width children of each seed.
        child_seed = seed_of[parent]
        o = np.lexsort((child_hit, parent, child_cost, child_seed))
        keep = o[_ranks(child_seed[o]) < config.beam_width]
        # Merge children that stand on the same layer after the same two hits.
        is_hit = child_hit >= 0
        last = np.where(is_hit, child_hit, paths[parent, n_hits[parent] - 1])
        before = np.where(is_hit, paths[parent, n_hits[parent] - 1], paths[parent, n_hits[parent] - 2])
        child_n = n_hits[parent] + is_hit
        if len(keep):
            child_layer = layer[parent] + 1
            m = np.lexsort((keep, child_cost[keep], -child_n[keep], child_layer[keep], before[keep], last[keep]))
            km = keep[m]
            twin = np.zeros(len(km), dtype=bool)
            twin[1:] = (
                (last[km][1:] == last[km][:-1]) & (before[km][1:] == before[km][:-1]) & (child_layer[km][1:] == child_layer[km][:-1])
            )
            keep = np.sort(km[~twin])
        parent, child_hit, child_cost, is_hit, virtual_y, child_r2 = (
            parent[keep], child_hit[keep], child_cost[keep], is_hit[keep], virtual_y[keep], child_r2[keep]
        )
        new_paths = paths[parent]
        rows = np.flatnonzero(is_hit)
        new_paths[rows, n_hits[parent][rows]] = child_hit[rows]
        paths = new_paths
        n_hits = n_hits[parent] + is_hit
        misses = misses[parent] + ~is_hit
        consec = np.where(is_hit, 0, consec[parent] + 1)
        carry = np.where(is_hit, 0.0, child_r2)
        cost = child_cost
        seed_of = seed_of[parent]
        layer = layer[parent] + 1
        entries = np.stack(
            [hits.layer_x[layer], np.where(is_hit, hits.y[np.maximum(child_hit, 0)], virtual_y)], axis=1
        )
        state = follower.advance(state, parent, entries)
        counters["live_max"] = max(counters["live_max"], len(n_hits))
    if stats is not None:
        stats.update(counters)
    if not done:
        return Candidates.empty(width, 2)
    parts = list(zip(*done))
    return Candidates(
        paths=np.concatenate(parts[0]),
        n_hits=np.concatenate(parts[1]),
        cost=np.concatenate(parts[2]),
        misses=np.concatenate(parts[3]),
        seed=np.concatenate(parts[4]),
        n_seed_hits=2,
    )


# --------------------------------------------------------------------------- events


def build_straw_hits(follower: Any, hits: StrawHits, n_events: int, config: StrawBuildConfig, *, stats: dict[str, int] | None = None) -> np.ndarray:
    """Track ids (int64, per hit row; 1, 2, ... within each event, 0: none) of a chunk."""
    seeds = find_straw_seeds(hits, config)
    candidates = extend_straw(follower, hits, seeds, config, stats=stats)
    chosen = select_tracks(candidates, len(hits), config.selection())
    track_of_hit = chosen.track_of_hit
    if stats is not None:
        stats.update(seeds=len(seeds), candidates=candidates.n_candidates, tracks=chosen.n_tracks)
    if chosen.n_tracks == 0:
        return np.full(len(hits), UNASSIGNED_TRACK_ID, dtype=np.int64)
    # Renumber per event, in quality order: track k (1-based) lies in the event of its hits.
    track_event = np.zeros(chosen.n_tracks + 1, dtype=np.int64)
    on = track_of_hit > 0
    track_event[track_of_hit[on]] = hits.event[on]
    t_order = np.argsort(track_event[1:], kind="stable")
    number = np.zeros(chosen.n_tracks + 1, dtype=np.int64)
    number[1 + t_order] = _ranks(track_event[1:][t_order]) + 1
    return number[track_of_hit]


def check_straw_model(loaded: Any, where: str) -> None:
    """One-line :class:`ConfigError` unless ``loaded`` is a 2D straw model."""
    dim = loaded.model.input_dim
    detector = (loaded.meta or {}).get("detector")
    if dim != 2 or detector not in (None, "straw", "2d"):
        raise ConfigError(
            f"{where}: a {dim}D ({detector or 'unknown'}) model cannot build straw events; "
            "train a 2D straw model with `tracknet train experiment=straw`"
        )


def make_straw_follower(algorithm: str, loaded: Any, config: StrawBuildConfig) -> Any:
    if algorithm not in STRAW_ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose one of {list(STRAW_ALGORITHMS)}")
    if algorithm == "tracknet":
        if loaded is None:
            raise ConfigError("algorithm 'tracknet' needs a model checkpoint")
        scale = config.radius_scale if config.radius_scale is not None else float(loaded.meta.get("radius_scale", 1.0))
        return StrawTrackNetFollower(loaded.model, loaded.normalizer, radius_scale=scale)
    return StrawLineFollower(
        window_mm=config.baseline_window_mm, window_per_mm=config.baseline_window_per_mm, fit_hits=config.baseline_fit_hits
    )


def build_straw_batch(
    batch: Any,
    geometry: Any,
    algorithm: str = "tracknet",
    loaded: Any = None,
    config: StrawBuildConfig = StrawBuildConfig(),
    *,
    stats: dict[str, int] | None = None,
    follower: Any = None,
) -> pd.DataFrame:
    """The submission ``event_id, hit_id, track_id`` of every hit of a
    :class:`~tracknet.simulation.straw.StrawBatch` (only hit columns are read), built in
    chunks of ``config.events_per_batch`` events."""
    follower = follower if follower is not None else make_straw_follower(algorithm, loaded, config)
    h = batch.hits
    n_events = len(batch)
    event_ids = batch.events["event_id"]
    row = np.searchsorted(event_ids, h["event_id"])
    layer = h["volume_id"].astype(np.int64) * geometry.layers_per_module + h["layer_id"]
    track = np.zeros(len(row), dtype=np.int64)
    starts = np.searchsorted(row, np.arange(0, n_events + 1, config.events_per_batch))
    if starts[-1] != len(row):
        starts = np.append(starts, len(row))
    for lo, hi in zip(starts[:-1], starts[1:]):
        if hi <= lo:
            continue
        sl = slice(lo, hi)
        first = row[lo]
        hits = StrawHits.make(
            row[sl] - first, h["x"][sl], h["y"][sl], h["drift_mm"][sl], layer[sl],
            geometry.layer_x, geometry.layers_per_module, geometry.pitch_mm,
        )
        part: dict[str, int] = {}
        track[sl] = build_straw_hits(follower, hits, int(row[hi - 1] - first + 1), config, stats=part)
        if stats is not None:
            for k, v in part.items():
                stats[k] = stats.get(k, 0) + v if k != "live_max" else max(stats.get(k, 0), v)
    return pd.DataFrame({"event_id": h["event_id"].astype(np.int64), "hit_id": h["hit_id"].astype(np.int64), "track_id": track})


def build_straw_directory(
    data_dir: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    algorithm: str = "tracknet",
    checkpoint: str | os.PathLike[str] | None = None,
    events: Iterable[int] | None = None,
    progress: bool = True,
    config: StrawBuildConfig | None = None,
) -> Any:
    """Build every event (or the ``events`` ids) of a straw dataset into one submission CSV.

    Same contract as :func:`tracknet.building.api.build_directory`: inputs checked first
    (algorithm, a 2D straw checkpoint for ``tracknet``, the directory, the event ids),
    the CSV written atomically at the end, the build record ``SUB.build.json`` beside it.
    """
    from tqdm.auto import tqdm

    from ..evaluation.report import build_meta_path
    from ..io.atomic import write_json_atomic
    from ..io.straw import StrawDataset
    from ..io.trackml import write_submission
    from ..model.checkpoint import load_checkpoint
    from ..simulation.straw import StrawGeometry
    from .api import DirectoryBuild

    config = config if isinstance(config, StrawBuildConfig) else StrawBuildConfig()
    if algorithm not in STRAW_ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose one of {list(STRAW_ALGORITHMS)}")
    loaded = None
    if algorithm == "tracknet":
        if checkpoint is None:
            raise ConfigError("algorithm 'tracknet' needs --checkpoint")
        loaded = load_checkpoint(checkpoint)
        check_straw_model(loaded, str(checkpoint))
    out = Path(out_csv)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory")
    dataset = StrawDataset.open(data_dir)
    geometry = StrawGeometry.from_dict(dataset.geometry_parameters())
    wanted = None
    if events is not None:
        wanted = np.unique(np.asarray([int(e) for e in events], dtype=np.int64))
        missing = wanted[~np.isin(wanted, dataset.event_ids())]
        if len(missing):
            raise DataError(f"event(s) {missing[:10].tolist()} not found in directory", file=str(data_dir))
    follower = make_straw_follower(algorithm, loaded, config)
    frames: list[pd.DataFrame] = []
    stats: dict[str, int] = {}
    seconds = 0.0
    n_events = 0
    bar = tqdm(total=len(dataset) if wanted is None else len(wanted), desc=f"build straw ({algorithm})", unit="event", disable=not progress)
    for batch in dataset.iter_batches():
        if wanted is not None:
            batch = batch.take(np.flatnonzero(np.isin(batch.events["event_id"], wanted)))
        if not len(batch):
            continue
        for lo in range(0, len(batch), config.events_per_batch):
            part = batch.slice(lo, min(lo + config.events_per_batch, len(batch)))
            started = time.perf_counter()
            frames.append(build_straw_batch(part, geometry, algorithm, loaded, config, stats=stats, follower=follower))
            seconds += time.perf_counter() - started
            n_events += len(part)
            bar.update(len(part))
            bar.set_postfix(tracks=stats.get("tracks", 0), ev_per_s=f"{n_events / max(seconds, 1e-9):.0f}")
    bar.close()
    if not frames:
        raise DataError("no straw events to build", file=str(data_dir))
    submission = pd.concat(frames, ignore_index=True)
    result = DirectoryBuild(
        path=out,
        meta_path=build_meta_path(out),
        n_events=n_events,
        n_hits=len(submission),
        n_tracks=int(stats.get("tracks", 0)),
        seconds_per_event=seconds / max(n_events, 1),
        events={},
    )
    write_submission(submission, out)
    write_json_atomic(
        result.meta_path,
        {
            "algorithm": algorithm,
            "detector": "straw",
            "checkpoint": None if checkpoint is None or algorithm != "tracknet" else str(checkpoint),
            "radius_scale": getattr(follower, "radius_scale", None),
            "data_dir": str(data_dir),
            "n_events": n_events,
            "n_hits": result.n_hits,
            "n_tracks": result.n_tracks,
            "mean_seconds_per_event": result.seconds_per_event,
            "events_per_second": n_events / max(seconds, 1e-9),
            "counts": stats,
            "config": config.to_dict(),
        },
    )
    return result
