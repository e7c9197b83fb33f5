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
    distance ``drift_mm`` ``d``.

Left/right (drift) resolution (``resolve_drift``; default: on for the baseline, and for
a TrackNET model trained on resolved positions, ``data.straw.positions: resolved``)
    A track passing at distance ``d`` from the wire with slope ``t = dy/dx`` crosses the
    layer plane at ``y_wire +- d * sqrt(1 + t^2)``: one of two points (the left/right
    ambiguity), each far more precise than the straw centre (the simulated drift is exact
    by default). Drifts below ``resolve_min_drift_mm`` (default: the model's
    ``data.straw.min_drift_mm``, 0) stay at the wire. Every position below (seeds,
    entries fed to TrackNET, points fitted by the baseline, the track fit) is such a
    crossing; without resolution it is the straw centre and the fits are not used.

Seeding
    Tracks enter before the first module and travel along ``+x``, possibly at an angle.
    A seed is a pair of hits ``(a, b)`` of one event and one module among the first
    ``seed_modules`` modules, ``b`` one to ``seed_max_span`` layers after ``a``, with
    ``|y_b - y_a| <= seed_max_slope * (x_b - x_a) + pitch``. Pairs on non-neighbouring
    layers bridge a layer the track crossed between two straws (about one in five). With
    resolution a seed has up to four *variants*, the side combinations of its two hits
    (slope and sides iterated to agreement; variants steeper than ``seed_max_slope`` dropped); they share
    the seed's beam.

Extension: one layer per step
    A candidate stands on a layer ``l`` and looks for its hit on layer ``l + 1``:

    * TrackNET (:class:`StrawTrackNetFollower`): the 2D StepAhead model reads one entry
      per layer crossing (as it was trained, :mod:`tracknet.data.straw_tracks`) and its
      t1 circle (centre, radius times ``radius_scale``; default 3 with resolution, whose
      fits judge the hits, else the checkpoint's) predicts the next crossing; the
      centre is slid along the line from the last entry onto the plane of layer
      ``l + 1`` (the model's step along ``x`` is not trusted, only its direction);
    * baseline (:class:`StrawLineFollower`): a least-squares line (parabola once the hits
      span more than one module) through the candidate's last ``baseline_fit_hits`` hits
      gives ``y`` at the next layer, and the window is
      ``baseline_window_mm + baseline_window_per_mm * (x_next - x_last)``.

    The hits of layer ``l + 1`` inside the circle (window) are the candidate's children:
    with resolution (and ``both_sides``) each side of a hit's drift circle that lies in
    the circle is a child of its own (the beam decides; without ``both_sides`` only the
    side nearest the centre), and a child whose point takes the candidate more than
    ``beam_fit_rms_mm`` (residual RMS per degree of freedom) off the circle fitted
    through its points (:func:`circle_residuals`; from the 4th point on) is refused; the
    nearest ``max_branches`` remain. A child's cost grows by its normalised distance
    ``|point - centre| / radius``, plus ``drift_weight`` times
    ``| |y - y_centre| - drift | / radius`` (off by default).
    When the circle holds no such point, or its nearest lies beyond ``skip_above`` times the
    radius, the candidate also continues *without* a hit on that layer (a hole, cost
    ``miss_penalty``): TrackNET is fed the predicted crossing, the baseline just fits its
    hits. At most ``max_misses`` holes in a row; a candidate without children ends.
    The best ``beam_width`` children of each seed live on, and children that stand on the
    same layer after the same two hits (taken on the same side) are merged (the one with
    more hits, then lower cost, goes on).

    A hole's entry (TrackNET's predicted crossing) is uncertain, but the model reads it as
    a measured point; so until the next hit the radius of each circle is widened to
    ``sqrt(r^2 + sum of the squared radii of the holes since the last hit)``. When the
    next hit is found the model re-reads the holes as in training: from its state after
    the last hit, the missed layers interpolated on the line between the two hits, then
    the new hit.

Selection and clean-up (the last four only with resolution)
    Ended candidates with at least ``min_hits`` hits are fitted: up to ``fit_max_removed``
    points farther than ``fit_trim_mm`` from the circle are taken out, then a candidate
    with a residual RMS above ``max_fit_rms_mm`` is dropped. The rest go through
    :func:`tracknet.building.selection.select_tracks` (longest first, then lowest mean
    cost; a hit is on at most one track). Then, per event:

    * **merge** (:func:`merge_pieces`): two tracks one after the other (no common layer
      range) whose hits lie on one circle within ``merge_rms_mm`` become one;
    * **attach** (:func:`attach_by_fit`): each track is followed layer by layer before its
      first and after its last hit along its fitted circle, taking the free hit whose
      drift circle passes within ``attach_mm`` of the crossing (``max_misses`` empty
      layers in a row end it);
    * **fragments** (:func:`absorb_fragments`): a track of at most ``fragment_max_hits``
      hits, half of which lie within ``attach_mm`` of a longer track's circle, is taken
      apart, those hits joining the longer track where it has none on their layer;
    * tracks with fewer than ``min_track_hits`` hits are dropped.

    Track ids are numbered 1, 2, ... within each event (in quality order), 0 means "on
    no track".

:func:`build_straw_batch` builds a :class:`~tracknet.simulation.straw.StrawBatch`;
:func:`build_straw_directory` a straw dataset directory into one submission CSV (written
atomically, with the build record beside it), which is what ``tracknet build`` runs
for a straw directory.
"""

from __future__ import annotations

import dataclasses
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
from .api import ALGORITHMS
from .builder import Candidates, _first_ranks
from .selection import SelectionConfig, select_tracks

__all__ = [
    "RESOLVED_RADIUS_SCALE",
    "STRAW_ALGORITHMS",
    "StrawBuildConfig",
    "StrawFollower",
    "StrawHits",
    "StrawLineFollower",
    "StrawTrackNetFollower",
    "absorb_fragments",
    "attach_by_fit",
    "build_straw_batch",
    "build_straw_directory",
    "build_straw_hits",
    "check_straw_model",
    "circle_residuals",
    "circle_y_at",
    "extend_straw",
    "find_straw_seeds",
    "fit_candidates",
    "merge_pieces",
    "resolve_seeds",
    "resolves_drift",
]

STRAW_ALGORITHMS: tuple[str, ...] = ALGORITHMS  # the same two as for TrackML events
_Y_OFFSET = 5.0e3  # mm: y + offset is positive for any detector smaller than 10 m
_KEY_SPAN = 1.0e4  # mm between two (event, layer) groups of the search key
_MAX_SLOPE2 = 3.5**2
#: Default ``radius_scale`` of TrackNET's circles when hits are drift-resolved.
RESOLVED_RADIUS_SCALE = 3.0  # the steepest slope (squared) a drift circle is resolved with


def _check(
    name: str, value: Any, *, integer: bool = False, low: float = 0.0, open_low: bool = False
) -> None:
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    else:
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
        ok = ok and (value > low if open_low else value >= low)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ConfigError(
            f"straw build {name} must be {kind} {'>' if open_low else '>='} {low:g}, got {value!r}"
        )


@dataclass(frozen=True)
class StrawBuildConfig:
    """Every setting of the straw builder (module docstring; lengths in mm)."""

    seed_modules: int = 3
    seed_max_span: int = 2
    seed_max_slope: float = 0.45
    beam_width: int = 5
    max_branches: int = 4
    max_misses: int = 3
    miss_penalty: float = 1.2
    skip_above: float = 0.5
    drift_weight: float = 0.0
    resolve_drift: bool | None = None
    resolve_min_drift_mm: float | None = None
    radius_scale: float | None = None
    baseline_window_mm: float = 4.0
    baseline_window_per_mm: float = 0.2
    baseline_fit_hits: int = 12
    min_hits: int = 3
    min_track_hits: int = 4
    max_shared_fraction: float = 0.5
    max_mean_cost: float | None = None
    both_sides: bool = True
    max_fit_rms_mm: float | None = 0.3
    fit_trim_mm: float = 1.5
    fit_max_removed: int = 2
    merge_rms_mm: float | None = 1.0
    beam_fit_rms_mm: float | None = 0.2
    attach_mm: float | None = 0.5
    fragment_max_hits: int = 10
    merge_rounds: int = 2
    events_per_batch: int = 4096

    def __post_init__(self) -> None:
        for name in (
            "seed_modules",
            "seed_max_span",
            "beam_width",
            "max_branches",
            "baseline_fit_hits",
            "min_hits",
            "min_track_hits",
            "events_per_batch",
        ):
            _check(name, getattr(self, name), integer=True, low=1)
        _check("max_misses", self.max_misses, integer=True, low=0)
        for name in ("fit_max_removed", "merge_rounds", "fragment_max_hits"):
            _check(name, getattr(self, name), integer=True, low=0)
        _check("fit_trim_mm", self.fit_trim_mm, open_low=True)
        for name in ("max_fit_rms_mm", "merge_rms_mm", "beam_fit_rms_mm", "attach_mm"):
            if getattr(self, name) is not None:
                _check(name, getattr(self, name), open_low=True)
        if not isinstance(self.both_sides, bool):
            raise ConfigError(
                f"straw build both_sides must be true or false, got {self.both_sides!r}"
            )
        for name in (
            "seed_max_slope",
            "miss_penalty",
            "skip_above",
            "drift_weight",
            "baseline_window_per_mm",
        ):
            _check(name, getattr(self, name))
        _check("baseline_window_mm", self.baseline_window_mm, open_low=True)
        if self.radius_scale is not None:
            _check("radius_scale", self.radius_scale, open_low=True)
        if self.resolve_min_drift_mm is not None:
            _check("resolve_min_drift_mm", self.resolve_min_drift_mm)
        if self.resolve_drift is not None and not isinstance(self.resolve_drift, bool):
            raise ConfigError(
                f"straw build resolve_drift must be true, false or null, got {self.resolve_drift!r}"
            )
        if self.baseline_fit_hits < 2:
            raise ConfigError(
                f"straw build baseline_fit_hits must be >= 2, got {self.baseline_fit_hits}"
            )
        if self.min_hits < 2:
            raise ConfigError(
                f"straw build min_hits must be >= 2 (a seed holds 2 hits), got {self.min_hits}"
            )
        self.selection()

    def selection(self) -> SelectionConfig:
        return SelectionConfig(
            min_hits=self.min_hits,
            max_shared_fraction=self.max_shared_fraction,
            max_mean_cost=self.max_mean_cost,
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
        from .api import read_build_json

        data = read_build_json(path)
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
    straw_radius_mm: float = 3.0

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
        straw_radius_mm: float | None = None,
    ) -> StrawHits:
        """``straw_radius_mm`` (default: half the pitch) bounds the drift distances."""
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
            event,
            np.asarray(x, dtype=np.float64),
            y,
            np.asarray(drift, dtype=np.float64),
            layer,
            np.asarray(layer_x, dtype=np.float64),
            int(layers_per_module),
            float(pitch_mm),
            order,
            key[order],
            float(0.5 * pitch_mm if straw_radius_mm is None else straw_radius_mm),
        )

    @property
    def n_layers(self) -> int:
        return len(self.layer_x)

    def __len__(self) -> int:
        return len(self.event)

    def window(
        self, event: np.ndarray, layer: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
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

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        *,
        path_y: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Circle ``(centre (N, 2), radius (N,))`` for each candidate's crossing of its next
        layer; ``path_y`` ``(N, width)``: the ``y`` each path hit was taken at (drift-resolved
        or the straw centre)."""
        ...

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray, **kwargs: Any) -> Any:
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
    #: The predicted centre is slid onto the next layer's plane (module docstring).
    project_to_layer = True

    def __init__(
        self,
        model: Any,
        normalizer: Any,
        *,
        radius_scale: float = 1.0,
        resolve_drift: bool = False,
        min_drift_mm: float = 0.0,
    ) -> None:
        if model.input_dim != 2:
            raise ConfigError(
                f"straw building needs a 2D (x, y) model (input_dim 2), got input_dim {model.input_dim}"
            )
        self.model = model.eval()
        self.normalizer = normalizer
        self.radius_scale = float(radius_scale)
        #: The model was trained on drift-resolved positions (``data.straw.positions``).
        self.resolve_drift = bool(resolve_drift)
        #: Drifts below this stay at the wire (``data.straw.min_drift_mm`` of training).
        self.min_drift_mm = float(min_drift_mm)

    @torch.no_grad()
    def _step(
        self, x_mm: np.ndarray, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        x = torch.as_tensor(self.normalizer.to_model(x_mm), dtype=torch.float32)
        pred, hidden = self.model.step(x, hidden)
        centre = self.normalizer.to_mm(pred.t1_center.numpy().astype(np.float64))
        radius = (
            self.normalizer.radius_to_mm(pred.t1_radius.numpy().astype(np.float64))
            * self.radius_scale
        )
        return hidden, centre, radius

    def start(self, entries: np.ndarray) -> tuple[Any, ...]:
        hidden = None
        centre, radius = np.zeros((len(entries), 2)), np.zeros(len(entries))
        if len(entries) == 0:
            hidden = self.model.initial_hidden(0)
        for j in range(entries.shape[1]):
            hidden, centre, radius = self._step(entries[:, j], hidden)
        return (
            hidden,
            centre,
            radius,
            hidden,
            entries[:, -1].copy(),
            np.zeros(len(entries), dtype=np.int64),
        )

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        **_: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        return state[1], state[2]

    def advance(
        self,
        state: Any,
        parents: np.ndarray,
        entries: np.ndarray,
        is_hit: np.ndarray | None = None,
        layer_x: np.ndarray | None = None,
    ) -> Any:
        """Children's states. A hole's child reads the predicted crossing; a hit after
        ``k`` holes is read after the model re-reads the ``k`` holes as the straight line
        between the last hit and this one (as in training, where a missed layer's entry
        is interpolated between its neighbouring hits), from the state after the last hit."""
        if len(parents) == 0:
            return self.take(state, parents)
        hidden_all, _, _, anchor_all, anchor_xy_all, holes_all = state
        if is_hit is None or layer_x is None:
            is_hit = np.ones(len(parents), dtype=bool)
        holes = holes_all[parents]
        replay = is_hit & (holes > 0)
        direct = np.flatnonzero(~replay)
        hidden, centre, radius = self._step(
            entries[direct], hidden_all[:, torch.as_tensor(parents[direct])]
        )
        out_hidden = torch.empty(
            (hidden.shape[0], len(parents), hidden.shape[2]), dtype=hidden.dtype
        )
        out_centre, out_radius = np.zeros((len(parents), 2)), np.zeros(len(parents))
        out_hidden[:, torch.as_tensor(direct)] = hidden
        out_centre[direct], out_radius[direct] = centre, radius
        for k in np.unique(holes[replay]):
            rows = np.flatnonzero(replay & (holes == k))
            h = anchor_all[:, torch.as_tensor(parents[rows])]
            x0, y0 = anchor_xy_all[parents[rows], 0], anchor_xy_all[parents[rows], 1]
            x1, y1 = entries[rows, 0], entries[rows, 1]
            first = np.searchsorted(layer_x, x0 - 1e-6)
            for j in range(1, k + 1):
                xj = layer_x[first + j]
                yj = y0 + (y1 - y0) * (xj - x0) / (x1 - x0)
                h, _, _ = self._step(np.stack([xj, yj], axis=1), h)
            h, c, r = self._step(entries[rows], h)
            out_hidden[:, torch.as_tensor(rows)] = h
            out_centre[rows], out_radius[rows] = c, r
        new_holes = np.where(is_hit, 0, holes + 1)
        anchor = anchor_all[:, torch.as_tensor(parents)].clone()
        hit_rows = torch.as_tensor(np.flatnonzero(is_hit))
        anchor[:, hit_rows] = out_hidden[:, hit_rows]
        anchor_xy = np.where(is_hit[:, None], entries, anchor_xy_all[parents])
        return out_hidden, out_centre, out_radius, anchor, anchor_xy, new_holes

    def take(self, state: Any, rows: np.ndarray) -> Any:
        rows = np.asarray(rows, dtype=np.int64)
        t = torch.as_tensor(rows)
        return (
            state[0][:, t],
            state[1][rows],
            state[2][rows],
            state[3][:, t],
            state[4][rows],
            state[5][rows],
        )

    @staticmethod
    def concatenate(states: list[Any]) -> Any:
        return tuple(
            torch.cat([s[i] for s in states], dim=1)
            if i in (0, 3)
            else np.concatenate([s[i] for s in states])
            for i in range(6)
        )


class StrawLineFollower:
    """The classical follower: a least-squares line (or parabola) through the last hits.

    ``y(x)`` is fitted to the candidate's last ``fit_hits`` hits (straw centres), a
    parabola when they span more than ``parabola_span_mm`` in ``x`` (a circle of the
    magnetic field, to second order), else a line; the search window at the next layer
    is ``window_mm + window_per_mm * (x_next - x_last)``. No state.
    """

    #: Default left/right resolution of the hits (``StrawBuildConfig.resolve_drift``).
    resolve_drift = True
    min_drift_mm = 0.25

    def __init__(
        self,
        *,
        window_mm: float,
        window_per_mm: float,
        fit_hits: int,
        parabola_span_mm: float = 100.0,
    ) -> None:
        self.window_mm = float(window_mm)
        self.window_per_mm = float(window_per_mm)
        self.fit_hits = int(fit_hits)
        self.parabola_span_mm = float(parabola_span_mm)

    def start(self, entries: np.ndarray) -> None:
        return None

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray, **_: Any) -> None:
        return None

    def take(self, state: Any, rows: np.ndarray) -> None:
        return None

    @staticmethod
    def concatenate(states: list[Any]) -> None:
        return None

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        *,
        path_y: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(n_hits)
        k = self.fit_hits
        cols = n_hits[:, None] - k + np.arange(k)[None, :]
        valid = cols >= 0
        rows = np.where(valid, paths[np.arange(n)[:, None], np.maximum(cols, 0)], 0)
        x_last = hits.x[paths[np.arange(n), n_hits - 1]]
        x = np.where(valid, hits.x[rows] - x_last[:, None], 0.0) / 100.0  # 100 mm units
        fitted_y = (
            hits.y[rows] if path_y is None else path_y[np.arange(n)[:, None], np.maximum(cols, 0)]
        )
        y = np.where(valid, fitted_y, 0.0)
        w = valid.astype(np.float64)
        span = np.where(valid, x, np.inf).min(axis=1)
        quadratic = (-span * 100.0 > self.parabola_span_mm) & (valid.sum(axis=1) >= 4)
        # Normal equations of y = a + b x (+ c x^2), weighted by validity.
        s = [np.sum(w * x**p, axis=1) for p in range(5)]
        t = [np.sum(w * y * x**p, axis=1) for p in range(3)]
        m3 = np.stack(
            [
                np.stack([s[0], s[1], s[2]], -1),
                np.stack([s[1], s[2], s[3]], -1),
                np.stack([s[2], s[3], s[4]], -1),
            ],
            -2,
        )
        r3 = np.stack(t, -1)
        m2 = m3[:, :2, :2]
        r2 = r3[:, :2]
        coef = np.zeros((n, 3))
        lin = ~quadratic
        if lin.any():
            det = m2[lin, 0, 0] * m2[lin, 1, 1] - m2[lin, 0, 1] ** 2
            safe = np.abs(det) > 1e-12
            a = np.where(
                safe,
                (m2[lin, 1, 1] * r2[lin, 0] - m2[lin, 0, 1] * r2[lin, 1]) / np.where(safe, det, 1),
                r2[lin, 0] / np.maximum(m2[lin, 0, 0], 1),
            )
            b = np.where(
                safe,
                (m2[lin, 0, 0] * r2[lin, 1] - m2[lin, 0, 1] * r2[lin, 0]) / np.where(safe, det, 1),
                0.0,
            )
            coef[lin, 0], coef[lin, 1] = a, b
        if quadratic.any():
            coef[quadratic] = np.linalg.solve(m3[quadratic], r3[quadratic][..., None])[..., 0]
        dx = (next_x - x_last) / 100.0
        y_next = coef[:, 0] + coef[:, 1] * dx + coef[:, 2] * dx * dx
        centre = np.stack([next_x, y_next], axis=1)
        return centre, self.window_mm + self.window_per_mm * (next_x - x_last)


# --------------------------------------------------------------------------- seeding


def find_straw_seeds(
    hits: StrawHits, config: StrawBuildConfig, available: np.ndarray | None = None
) -> np.ndarray:
    """Seed pairs ``(S, 2)`` of hit rows (module docstring), sorted by first hit then second."""
    lpm = hits.layers_per_module
    first = np.flatnonzero(
        (hits.layer < config.seed_modules * lpm) & (True if available is None else available)
    )
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


def resolve_seeds(
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    resolve: bool,
    drift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(seed index, y_a, y_b)`` of the seed variants: without ``resolve`` one per seed at
    the straw centres; with it, the four left/right combinations of the two drift
    circles (module docstring), those steeper than ``seed_max_slope`` dropped."""
    a, b = seeds[:, 0], seeds[:, 1]
    if not resolve:
        return np.arange(len(seeds), dtype=np.int64), hits.y[a], hits.y[b]
    drift = hits.drift if drift is None else drift
    index = np.repeat(np.arange(len(seeds), dtype=np.int64), 4)
    sa = np.tile(np.array([-1.0, -1.0, 1.0, 1.0]), len(seeds))
    sb = np.tile(np.array([-1.0, 1.0, -1.0, 1.0]), len(seeds))
    ra, rb = a[index], b[index]
    dx = hits.x[rb] - hits.x[ra]
    ya, yb = hits.y[ra], hits.y[rb]
    slope = (yb - ya) / dx
    for _ in range(5):
        sec = np.sqrt(1.0 + slope * slope)
        ya = hits.y[ra] + sa * drift[ra] * sec
        yb = hits.y[rb] + sb * drift[rb] * sec
        slope = (yb - ya) / dx
    keep = np.abs(slope) <= config.seed_max_slope
    # Identical variants (a drift of 0 has one side only) are kept once.
    keep &= ~((sa > 0) & (drift[ra] <= 0.0)) & ~((sb > 0) & (drift[rb] <= 0.0))
    return index[keep], ya[keep], yb[keep]


def _seed_entries(
    hits: StrawHits, seeds: np.ndarray, ya: np.ndarray, yb: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeds grouped by span: ``(seed rows, entries (S, span + 1, 2))``, with the layers
    between the two hits (at ``y_a``, ``y_b``) filled by linear interpolation."""
    a, b = seeds[:, 0], seeds[:, 1]
    span = hits.layer[b] - hits.layer[a]
    groups = []
    for s in np.unique(span):
        rows = np.flatnonzero(span == s)
        layers = hits.layer[a[rows]][:, None] + np.arange(s + 1)[None, :]
        x = hits.layer_x[layers]
        xa, xb = hits.x[a[rows]][:, None], hits.x[b[rows]][:, None]
        y0, y1 = ya[rows][:, None], yb[rows][:, None]
        y = y0 + (y1 - y0) * (x - xa) / (xb - xa)
        groups.append((rows, np.stack([x, y], axis=-1)))
    return groups


# --------------------------------------------------------------------------- extension


def resolve_min_drift(follower: Any, config: StrawBuildConfig) -> float:
    """Drifts (mm) below which hits stay at the wire: the config's, else the follower's."""
    if config.resolve_min_drift_mm is not None:
        return float(config.resolve_min_drift_mm)
    return float(getattr(follower, "min_drift_mm", 0.0))


def resolves_drift(follower: Any, config: StrawBuildConfig) -> bool:
    """Whether hits are drift-resolved: ``config.resolve_drift``, or (None) the follower's
    own ``resolve_drift`` (a TrackNET model: the positions it was trained on)."""
    if config.resolve_drift is not None:
        return bool(config.resolve_drift)
    return bool(getattr(follower, "resolve_drift", False))


def _appended_fit_rms(
    paths: np.ndarray,
    path_y: np.ndarray,
    n_hits: np.ndarray,
    parent: np.ndarray,
    hit: np.ndarray,
    hit_y: np.ndarray,
    hits: StrawHits,
) -> np.ndarray:
    """Residual RMS (mm per degree of freedom; 0 below 4 hits) of the circle through the
    hits of candidates ``parent`` with ``hit`` (taken at ``hit_y``) appended."""
    rms = np.zeros(len(parent))
    big = np.flatnonzero(n_hits[parent] >= 3)
    if len(big) == 0:
        return rms
    par = parent[big]
    p = paths[par]
    y = path_y[par]
    rows = np.arange(len(big))
    col = n_hits[par]
    p[rows, col] = hit[big]
    y[rows, col] = hit_y[big]
    valid = p >= 0
    x = np.where(valid, hits.x[np.maximum(p, 0)], 0.0)
    res = circle_residuals(x, np.where(valid, y, 0.0), valid)
    rms[big] = np.sqrt(np.sum(res * res, axis=1) / np.maximum(col + 1 - 3, 1))
    return rms


def extend_straw(
    follower: Any,
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    *,
    stats: dict[str, int] | None = None,
    return_y: bool = False,
) -> Any:
    """Grow every seed layer by layer (module docstring); the ended candidates, and with
    ``return_y`` also the ``y`` (mm) each path hit was taken at (drift-resolved or the
    straw centre), ``(n_candidates, width)``."""
    n_layers = hits.n_layers
    width = n_layers
    if len(seeds) == 0:
        return Candidates.empty(width, 2)
    resolve = resolves_drift(follower, config)
    min_drift = resolve_min_drift(follower, config)
    drift = np.where(hits.drift >= min_drift, hits.drift, 0.0)
    seed_index, seed_ya, seed_yb = resolve_seeds(hits, seeds, config, resolve, drift)
    if len(seed_index) == 0:
        return Candidates.empty(width, 2)
    variants = seeds[seed_index]
    groups = _seed_entries(hits, variants, seed_ya, seed_yb)
    order = np.concatenate([g[0] for g in groups])
    seed_of = seed_index[order]
    variants, seed_ya, seed_yb = variants[order], seed_ya[order], seed_yb[order]
    state = follower.concatenate([follower.start(entries) for _, entries in groups])
    s = len(variants)
    paths = np.full((s, width), -1, dtype=np.int64)
    paths[:, :2] = variants
    path_y = np.zeros((s, width))
    path_y[:, 0], path_y[:, 1] = seed_ya, seed_yb
    last_y = seed_yb.copy()
    last_side = np.zeros(s, dtype=np.int64)
    n_hits = np.full(s, 2, dtype=np.int64)
    cost = np.zeros(s)
    misses = np.zeros(s, dtype=np.int64)
    consec = np.zeros(s, dtype=np.int64)
    carry = np.zeros(s)  # squared radii of the holes since the last hit (inflation)
    inflate = bool(getattr(follower, "inflate_after_holes", False))
    project = bool(getattr(follower, "project_to_layer", False))
    layer = hits.layer[variants[:, 1]].copy()
    done: list[tuple[np.ndarray, ...]] = []
    counters = {"steps": 0, "live_max": s, "seed_variants": s}

    def finish(index: np.ndarray) -> None:
        keep = index[n_hits[index] >= config.min_hits]
        if len(keep):
            done.append(
                (paths[keep], n_hits[keep], cost[keep], misses[keep], seed_of[keep], path_y[keep])
            )

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
        centre, radius = follower.predict(
            state, paths, n_hits, hits, hits.layer_x[np.minimum(nxt, n_layers - 1)], path_y=path_y
        )
        centre, radius = centre[live], np.maximum(radius[live], 1e-6)
        if inflate:
            radius = np.sqrt(radius * radius + carry[live])
        event = hits.event[paths[live, 0]]
        if project:
            # The plane of the next layer is known: slide the centre along the line from
            # the last entry to the predicted crossing onto it (a model that misjudges the
            # step along x, e.g. at a module gap after a seed in a later layer, keeps its
            # direction).
            last_x = hits.layer_x[layer[live]]
            run = centre[:, 0] - last_x
            ok = run > 1e-3 * (next_x - last_x)
            t = np.where(ok, (next_x - last_x) / np.where(ok, run, 1.0), 1.0)
            centre = np.stack(
                [
                    np.where(ok, next_x, centre[:, 0]),
                    last_y[live] + t * (centre[:, 1] - last_y[live]),
                ],
                axis=1,
            )
        dx = next_x - centre[:, 0]
        half = np.sqrt(np.maximum(radius * radius - dx * dx, 0.0))
        if resolve:
            # The slope from the last entry to the predicted crossing: a hit's crossing
            # lies drift * sec on the side of its wire nearest the prediction.
            slope = (centre[:, 1] - last_y[live]) / np.maximum(
                next_x - hits.layer_x[layer[live]], 1e-6
            )
            sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
            margin = hits.straw_radius_mm * sec
        else:
            sec = margin = np.zeros(len(live))
        q, h = hits.window(
            event, nxt[live], centre[:, 1] - half - margin, centre[:, 1] + half + margin
        )
        hit_y = hits.y[h]
        side = np.zeros(len(h), dtype=np.int64)
        if resolve:
            off = drift[h] * sec[q]
            if config.both_sides:
                # Both sides of each drift circle are children (the beam decides); a drift
                # of 0 (or below the resolution threshold) has one side only.
                two = off > 0
                extra = np.flatnonzero(two)
                q = np.concatenate([q, q[extra]])
                h = np.concatenate([h, h[extra]])
                side = np.concatenate([np.where(two, 1, 0), np.full(len(extra), -1)])
                hit_y = hits.y[h] + side * off[np.concatenate([np.arange(len(off)), extra])]
            else:
                side = np.where(centre[q, 1] >= hit_y, 1, -1)
                hit_y = hit_y + side * off
        dy = hit_y - centre[q, 1]
        norm = np.sqrt(dx[q] ** 2 + dy**2) / radius[q]
        keep = norm <= 1.0
        q, h, dy, norm, hit_y, side = (
            q[keep],
            h[keep],
            dy[keep],
            norm[keep],
            hit_y[keep],
            side[keep],
        )
        if resolve and config.beam_fit_rms_mm is not None and len(q):
            # A hit that takes the candidate off a circle through its hits is no child.
            fits = (
                _appended_fit_rms(paths, path_y, n_hits, live[q], h, hit_y, hits)
                <= config.beam_fit_rms_mm
            )
            q, h, dy, norm, hit_y, side = (
                q[fits],
                h[fits],
                dy[fits],
                norm[fits],
                hit_y[fits],
                side[fits],
            )
        step_cost = norm + config.drift_weight * np.abs(np.abs(dy) - hits.drift[h]) / radius[q]
        by = np.lexsort((side, h, step_cost, q))
        q, h, step_cost, norm, hit_y, side = (
            q[by],
            h[by],
            step_cost[by],
            norm[by],
            hit_y[by],
            side[by],
        )
        first_rank = _first_ranks(q)
        best = np.full(len(live), np.inf)
        np.minimum.at(best, q, norm)
        take = first_rank < config.max_branches
        q, h, step_cost, hit_y, side = q[take], h[take], step_cost[take], hit_y[take], side[take]
        hole = (best > config.skip_above) & (consec[live] < config.max_misses)
        hq = np.flatnonzero(hole)
        parent = live[np.concatenate([q, hq])]
        child_hit = np.concatenate([h, np.full(len(hq), -1, dtype=np.int64)])
        child_cost = cost[parent] + np.concatenate(
            [step_cost, np.full(len(hq), config.miss_penalty)]
        )
        child_y = np.concatenate([hit_y, centre[hq, 1]])
        child_side = np.concatenate([side, np.full(len(hq), 2, dtype=np.int64)])
        child_r2 = radius[np.concatenate([q, hq])] ** 2
        has_child = np.zeros(n, dtype=bool)
        has_child[parent] = True
        finish(live[~has_child[live]])
        # Beam: the best beam_width children of each seed (all its left/right variants).
        child_seed = seed_of[parent]
        o = np.lexsort((child_hit, parent, child_cost, child_seed))
        keep = o[_first_ranks(child_seed[o]) < config.beam_width]
        # Merge children that stand on the same layer after the same two hits.
        is_hit = child_hit >= 0
        last = np.where(is_hit, child_hit, paths[parent, n_hits[parent] - 1])
        before = np.where(
            is_hit, paths[parent, n_hits[parent] - 1], paths[parent, n_hits[parent] - 2]
        )
        child_n = n_hits[parent] + is_hit
        # The side of the last hit is part of "the same hits" (both sides may live on).
        child_last_side = np.where(is_hit, child_side, last_side[parent])
        if len(keep):
            child_layer = layer[parent] + 1
            m = np.lexsort(
                (
                    keep,
                    child_cost[keep],
                    -child_n[keep],
                    child_layer[keep],
                    child_last_side[keep],
                    before[keep],
                    last[keep],
                )
            )
            km = keep[m]
            twin = np.zeros(len(km), dtype=bool)
            twin[1:] = (
                (last[km][1:] == last[km][:-1])
                & (before[km][1:] == before[km][:-1])
                & (child_layer[km][1:] == child_layer[km][:-1])
                & (child_last_side[km][1:] == child_last_side[km][:-1])
            )
            keep = np.sort(km[~twin])
        parent, child_hit, child_cost, is_hit, child_y, child_r2, child_last_side = (
            parent[keep],
            child_hit[keep],
            child_cost[keep],
            is_hit[keep],
            child_y[keep],
            child_r2[keep],
            child_last_side[keep],
        )
        last_side = child_last_side
        new_paths = paths[parent]
        new_path_y = path_y[parent]
        rows = np.flatnonzero(is_hit)
        new_paths[rows, n_hits[parent][rows]] = child_hit[rows]
        new_path_y[rows, n_hits[parent][rows]] = child_y[rows]
        paths, path_y = new_paths, new_path_y
        n_hits = n_hits[parent] + is_hit
        misses = misses[parent] + ~is_hit
        consec = np.where(is_hit, 0, consec[parent] + 1)
        carry = np.where(is_hit, 0.0, child_r2)
        cost = child_cost
        seed_of = seed_of[parent]
        layer = layer[parent] + 1
        last_y = child_y
        entries = np.stack([hits.layer_x[layer], child_y], axis=1)
        state = follower.advance(state, parent, entries, is_hit=is_hit, layer_x=hits.layer_x)
        counters["live_max"] = max(counters["live_max"], len(n_hits))
    if stats is not None:
        stats.update(counters)
    if not done:
        empty = Candidates.empty(width, 2)
        return (empty, np.zeros((0, width))) if return_y else empty
    parts = list(zip(*done))
    candidates = Candidates(
        paths=np.concatenate(parts[0]),
        n_hits=np.concatenate(parts[1]),
        cost=np.concatenate(parts[2]),
        misses=np.concatenate(parts[3]),
        seed=np.concatenate(parts[4]),
        n_seed_hits=2,
    )
    return (candidates, np.concatenate(parts[5])) if return_y else candidates


# --------------------------------------------------------------------------- track fit


def circle_residuals(
    x: np.ndarray, y: np.ndarray, valid: np.ndarray, with_fit: bool = False
) -> Any:
    """Residuals (mm, 0 where not ``valid``) of each row's points ``(x, y)`` ``(N, W)`` from
    the circle fitted through them (rows with at least 3 valid points; fewer: 0).

    The fit is linear and stable down to straight lines: in the frame of the chord from
    the row's first to its last valid point (``u`` along, ``v`` across, centred on its
    middle) a circle through the points is ``v = a + b u + c (u^2 + v^2)`` to first order
    in ``v`` (``c`` = half the curvature), fitted by least squares in ``v``. With
    ``with_fit`` also the fit ``(x_mid, y_mid, cos, sin, half chord, coefficients)``.
    """
    n, w = x.shape
    if n == 0:
        empty = np.zeros(0)
        return (
            (np.zeros((0, w)), (empty, empty, empty, empty, empty, np.zeros((0, 3))))
            if with_fit
            else np.zeros((0, w))
        )
    count = valid.sum(axis=1)
    first = np.argmax(valid, axis=1)
    last = w - 1 - np.argmax(valid[:, ::-1], axis=1)
    rows = np.arange(n)
    x0, y0, x1, y1 = x[rows, first], y[rows, first], x[rows, last], y[rows, last]
    length = np.maximum(np.hypot(x1 - x0, y1 - y0), 1e-9)
    c, s = (x1 - x0) / length, (y1 - y0) / length
    scale = 0.5 * length[:, None]
    dxm, dym = x - 0.5 * (x0 + x1)[:, None], y - 0.5 * (y0 + y1)[:, None]
    u = (dxm * c[:, None] + dym * s[:, None]) / scale
    v = (-dxm * s[:, None] + dym * c[:, None]) / scale
    wt = valid.astype(np.float64)
    cols = [np.ones_like(u), u, u * u + v * v]
    m = np.empty((n, 3, 3))
    r = np.empty((n, 3))
    for i in range(3):
        r[:, i] = np.sum(wt * cols[i] * v, axis=1)
        for j in range(3):
            m[:, i, j] = np.sum(wt * cols[i] * cols[j], axis=1)
    ok = count >= 3
    m[~ok] = np.eye(3)
    r[~ok] = 0.0
    m += np.eye(3) * 1e-12
    coef = np.linalg.solve(m, r[..., None])[..., 0]
    fit = coef[:, 0:1] + coef[:, 1:2] * u + coef[:, 2:3] * cols[2]
    residuals = np.where(valid & ok[:, None], (v - fit) * scale, 0.0)
    if with_fit:
        return residuals, (0.5 * (x0 + x1), 0.5 * (y0 + y1), c, s, scale[:, 0], coef)
    return residuals


def circle_y_at(fit: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    """``y`` (mm) where each row's fitted circle (:func:`circle_residuals` ``with_fit``)
    crosses the plane ``x`` ``(N,)`` (the branch near its points)."""
    xm, ym, c, s, scale, coef = fit
    a, b, k = coef[:, 0], coef[:, 1], coef[:, 2]
    v = np.zeros(len(x))
    for _ in range(4):
        u = ((x - xm) / scale + v * s) / np.where(np.abs(c) > 1e-9, c, 1e-9)
        w = a + b * u + k * u * u
        v = 2.0 * w / (1.0 + np.sqrt(np.maximum(1.0 - 4.0 * k * w, 0.0)))
    return ym + scale * (u * s + v * c)


def fit_candidates(
    candidates: Candidates, path_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> tuple[Candidates, np.ndarray, np.ndarray]:
    """Candidates after the track fit (module docstring): up to ``fit_max_removed`` hits
    farther than ``fit_trim_mm`` from the circle through the candidate's hits are taken
    out (the worst first, refitting after each), then a candidate whose residual RMS
    (per degree of freedom) exceeds ``max_fit_rms_mm`` is dropped. Returns the kept
    candidates, their ``path_y`` and every candidate's RMS (mm, before the cut)."""
    paths = candidates.paths.copy()
    n_hits = candidates.n_hits.copy()
    valid = paths >= 0
    x = np.where(valid, hits.x[np.maximum(paths, 0)], 0.0)
    y = np.where(valid, path_y, 0.0)
    for _ in range(config.fit_max_removed + 1):
        res = np.abs(circle_residuals(x, y, valid))
        worst = np.argmax(res, axis=1)
        rows = np.arange(len(paths))
        bad = (res[rows, worst] > config.fit_trim_mm) & (n_hits > config.min_hits)
        if _ == config.fit_max_removed or not bad.any():
            break
        r = np.flatnonzero(bad)
        paths[r, worst[r]] = -1
        valid[r, worst[r]] = False
        n_hits[r] -= 1
    dof = np.maximum(n_hits - 3, 1)
    rms = np.sqrt(np.sum(res * res, axis=1) / dof)
    keep = (
        rms <= config.max_fit_rms_mm
        if config.max_fit_rms_mm is not None
        else np.ones(len(rms), dtype=bool)
    )
    kept = Candidates(
        paths=paths[keep],
        n_hits=n_hits[keep],
        cost=candidates.cost[keep],
        misses=candidates.misses[keep],
        seed=candidates.seed[keep],
        n_seed_hits=candidates.n_seed_hits,
    )
    return kept, path_y[keep], rms


def _track_hit_y(
    chosen: Any, candidates: Candidates, path_y: np.ndarray, n_hits: int
) -> np.ndarray:
    """The ``y`` (mm) each hit of a chosen track was taken at (NaN for hits on no track)."""
    out = np.full(n_hits, np.nan)
    if chosen.n_tracks == 0:
        return out
    paths = candidates.paths[chosen.candidate]
    ys = path_y[chosen.candidate]
    track = np.repeat(np.arange(1, chosen.n_tracks + 1), paths.shape[1]).reshape(paths.shape)
    valid = paths >= 0
    rows, ys, track = paths[valid], ys[valid], track[valid]
    mine = chosen.track_of_hit[rows] == track
    out[rows[mine]] = ys[mine]
    return out


def merge_pieces(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> np.ndarray:
    """Join tracks of one event that are pieces of one trajectory (module docstring).

    Two tracks ``A``, ``B`` of an event with ``A``'s last layer before ``B``'s first are
    joined when the circle through all their hits has a residual RMS (per degree of
    freedom) of at most ``merge_rms_mm``; pairs are taken best first, each track in at
    most one pair per round, for ``merge_rounds`` rounds. Returns the new track ids
    (those of the earlier pieces kept, numbering not compacted)."""
    track_of_hit = track_of_hit.copy()
    n_layers = hits.n_layers
    for _ in range(config.merge_rounds):
        on = np.flatnonzero(track_of_hit > 0)
        if len(on) == 0:
            break
        ids, on, inverse, x, y, valid, event, _ = _track_matrix(track_of_hit, hit_y, hits)
        n = len(ids)
        first = np.argmax(valid, axis=1)
        last = n_layers - 1 - np.argmax(valid[:, ::-1], axis=1)
        a, b = _event_pairs(event)
        pair = last[a] < first[b]
        a, b = a[pair], b[pair]
        if len(a) == 0:
            break
        vu = valid[a] | valid[b]
        xu = np.where(valid[a], x[a], x[b])
        yu = np.where(valid[a], y[a], y[b])
        res = circle_residuals(xu, yu, vu)
        rms = np.sqrt(np.sum(res * res, axis=1) / np.maximum(vu.sum(axis=1) - 3, 1))
        ok = rms <= config.merge_rms_mm
        a, b, rms = a[ok], b[ok], rms[ok]
        if len(a) == 0:
            break
        # Mutual best pairs: the best pair of both of its tracks.
        best_a = np.full(n, np.inf)
        np.minimum.at(best_a, a, rms)
        np.minimum.at(best_a, b, rms)
        take = (rms == best_a[a]) & (rms == best_a[b])
        a, b = a[take], b[take]
        # Ties can pair one track twice; keep each track's first pair only, and no
        # chains (a track both earlier and later piece) within one round.
        _, first_a = np.unique(a, return_index=True)
        keep_a = np.zeros(len(a), dtype=bool)
        keep_a[first_a] = True
        _, first_b = np.unique(b, return_index=True)
        keep_b = np.zeros(len(b), dtype=bool)
        keep_b[first_b] = True
        single = keep_a & keep_b & ~np.isin(a, b)
        a, b = a[single], b[single]
        if len(a) == 0:
            break
        new_id = ids.copy()
        new_id[b] = ids[a]
        track_of_hit[on] = new_id[inverse]
    return track_of_hit


def _track_matrix(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits
) -> tuple[np.ndarray, ...]:
    """Tracks as ``(ids, inverse, x, y, valid, event, hit row)`` matrices by global layer."""
    on = np.flatnonzero(track_of_hit > 0)
    n_layers = hits.n_layers
    ids, inverse = np.unique(track_of_hit[on], return_inverse=True)
    n = len(ids)
    x = np.zeros((n, n_layers))
    y = np.zeros((n, n_layers))
    valid = np.zeros((n, n_layers), dtype=bool)
    row = np.full((n, n_layers), -1, dtype=np.int64)
    x[inverse, hits.layer[on]] = hits.x[on]
    y[inverse, hits.layer[on]] = hit_y[on]
    valid[inverse, hits.layer[on]] = True
    row[inverse, hits.layer[on]] = on
    event = np.zeros(n, dtype=np.int64)
    event[inverse] = hits.event[on]
    return ids, on, inverse, x, y, valid, event, row


def _event_pairs(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(a, b)``, ``a != b``, of rows with the same ``event``."""
    order = np.argsort(event, kind="stable")
    ev_sorted = event[order]
    start = np.searchsorted(ev_sorted, ev_sorted, side="left")
    count = np.searchsorted(ev_sorted, ev_sorted, side="right") - start
    a = np.repeat(order, count)
    b = order[
        np.repeat(start, count)
        + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    ]
    keep = a != b
    return a[keep], b[keep]


def absorb_fragments(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> np.ndarray:
    """Dissolve short tracks that are fragments of a longer track of their event (module
    docstring): a track of at most ``fragment_max_hits`` hits, at least half of whose
    drift circles pass within ``attach_mm`` of the circle fitted through a longer track,
    is taken apart; those of its hits on layers where the longer track has none join it,
    the others are left free."""
    track_of_hit = track_of_hit.copy()
    if not np.any(track_of_hit > 0):
        return track_of_hit
    ids, on, inverse, x, y, valid, event, row = _track_matrix(track_of_hit, hit_y, hits)
    size = valid.sum(axis=1)
    a, b = _event_pairs(event)  # a: fragment candidate, b: longer track
    keep = (size[a] <= config.fragment_max_hits) & (size[b] > size[a]) & (size[b] >= 4)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return track_of_hit
    _, fit = circle_residuals(x, y, valid, with_fit=True)
    n_layers = hits.n_layers
    pair_rows = np.repeat(np.arange(len(a)), n_layers)
    layer = np.tile(np.arange(n_layers), len(a))
    fb = tuple(f[b[pair_rows]] for f in fit)
    yc = circle_y_at(fb, hits.layer_x[layer]).reshape(len(a), n_layers)
    slope = circle_y_at(fb, hits.layer_x[layer] + 1.0).reshape(len(a), n_layers) - yc
    sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
    r = np.maximum(row[a], 0)
    wire = hits.y[r]
    off = hits.drift[r] * sec
    y_hit = wire + np.where(yc >= wire, off, -off)
    close = valid[a] & (np.abs(y_hit - yc) <= config.attach_mm)
    frag = 2 * close.sum(axis=1) >= size[a]
    if not frag.any():
        return track_of_hit
    # Each fragment goes to its longest host.
    fa, fb_, fclose, fy = a[frag], b[frag], close[frag], y_hit[frag]
    o = np.lexsort((-size[fb_], fa))
    fa, fb_, fclose, fy = fa[o], fb_[o], fclose[o], fy[o]
    head = _first_ranks(fa) == 0
    fa, fb_, fclose, fy = fa[head], fb_[head], fclose[head], fy[head]
    # Hosts are not themselves dissolved.
    ok = ~np.isin(fb_, fa)
    fa, fb_, fclose, fy = fa[ok], fb_[ok], fclose[ok], fy[ok]
    frag_rows = row[fa][valid[fa]]
    track_of_hit[frag_rows] = UNASSIGNED_TRACK_ID
    join = fclose & ~valid[fb_]
    # Two fragments may offer the same layer to one host: the first one wins.
    jr, jl = np.nonzero(join)
    key = fb_[jr] * n_layers + jl
    _, first = np.unique(key, return_index=True)
    jr, jl = jr[first], jl[first]
    track_of_hit[row[fa[jr], jl]] = ids[fb_[jr]]
    hit_y[row[fa[jr], jl]] = fy[jr, jl]
    return track_of_hit


def attach_by_fit(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> np.ndarray:
    """Grow tracks layer by layer before their first and after their last hit along the
    circle through their hits (module docstring): on each such layer the free hit whose
    drift circle lies nearest the fitted crossing joins when it lies within
    ``attach_mm``; ``max_misses + 1`` layers in a row without one end it. Vectorised
    over tracks; one pass per layer step. ``hit_y`` gets the crossings of the attached
    hits (in place)."""
    track_of_hit = track_of_hit.copy()
    if not np.any(track_of_hit > 0):
        return track_of_hit
    n_layers = hits.n_layers
    ids, _, _, x, y, valid, event, _ = _track_matrix(track_of_hit, hit_y, hits)
    n = len(ids)
    free = track_of_hit <= 0
    for direction in (-1, 1):
        edge = (
            np.argmax(valid, axis=1)
            if direction < 0
            else n_layers - 1 - np.argmax(valid[:, ::-1], axis=1)
        )
        gap = np.zeros(n, dtype=np.int64)
        for _ in range(n_layers - 1):
            target = edge + direction
            go = (
                (target >= 0)
                & (target < n_layers)
                & (gap <= config.max_misses)
                & (valid.sum(axis=1) >= 4)
            )
            rows = np.flatnonzero(go)
            if len(rows) == 0:
                break
            _, fit = circle_residuals(x[rows], y[rows], valid[rows], with_fit=True)
            lx = hits.layer_x[target[rows]]
            yc = circle_y_at(fit, lx)
            slope = circle_y_at(fit, lx + 1.0) - yc
            sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
            reach = config.attach_mm + hits.straw_radius_mm * sec
            q, hrow = hits.window(event[rows], target[rows], yc - reach, yc + reach)
            ok = free[hrow]
            q, hrow = q[ok], hrow[ok]
            off = hits.drift[hrow] * sec[q]
            y_hit = hits.y[hrow] + np.where(yc[q] >= hits.y[hrow], off, -off)
            dist = np.abs(y_hit - yc[q])
            good = dist <= config.attach_mm
            q, hrow, y_hit, dist = q[good], hrow[good], y_hit[good], dist[good]
            # The nearest hit per track; a hit wanted by two tracks goes to the nearer.
            o = np.lexsort((hrow, dist, q))
            q, hrow, y_hit, dist = q[o], hrow[o], y_hit[o], dist[o]
            head = _first_ranks(q) == 0
            q, hrow, y_hit, dist = q[head], hrow[head], y_hit[head], dist[head]
            o = np.lexsort((q, dist, hrow))
            q, hrow, y_hit = q[o], hrow[o], y_hit[o]
            head = _first_ranks(hrow) == 0
            q, hrow, y_hit = q[head], hrow[head], y_hit[head]
            r = rows[q]
            t = target[r]
            x[r, t], y[r, t], valid[r, t] = hits.layer_x[t], y_hit, True
            track_of_hit[hrow] = ids[r]
            hit_y[hrow] = y_hit
            free[hrow] = False
            found = np.zeros(n, dtype=bool)
            found[r] = True
            gap[rows] = np.where(found[rows], 0, gap[rows] + 1)
            edge[rows] = target[rows]
            edge = np.where(go, edge, -10 * n_layers)  # finished tracks stay out
    return track_of_hit


# --------------------------------------------------------------------------- events


def build_straw_hits(
    follower: Any,
    hits: StrawHits,
    n_events: int,
    config: StrawBuildConfig,
    *,
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """Track ids (int64, per hit row; 1, 2, ... within each event, 0: none) of a chunk."""
    seeds = find_straw_seeds(hits, config)
    candidates, path_y = extend_straw(follower, hits, seeds, config, stats=stats, return_y=True)
    if config.max_fit_rms_mm is not None and resolves_drift(follower, config):
        candidates, path_y, _ = fit_candidates(candidates, path_y, hits, config)
    chosen = select_tracks(candidates, len(hits), config.selection())
    track_of_hit = chosen.track_of_hit
    if config.merge_rms_mm is not None and resolves_drift(follower, config) and chosen.n_tracks > 1:
        hit_y = _track_hit_y(chosen, candidates, path_y, len(hits))
        track_of_hit = merge_pieces(track_of_hit, hit_y, hits, config)
    if config.attach_mm is not None and resolves_drift(follower, config) and chosen.n_tracks > 0:
        if config.merge_rms_mm is None or chosen.n_tracks <= 1:
            hit_y = _track_hit_y(chosen, candidates, path_y, len(hits))
        track_of_hit = attach_by_fit(track_of_hit, hit_y, hits, config)
        if config.fragment_max_hits > 0:
            track_of_hit = absorb_fragments(track_of_hit, hit_y, hits, config)
    if config.min_track_hits > config.min_hits:
        # Tracks still shorter than min_track_hits after the merge are dropped.
        size = np.bincount(track_of_hit, minlength=chosen.n_tracks + 1)
        track_of_hit = np.where(
            size[track_of_hit] >= config.min_track_hits, track_of_hit, UNASSIGNED_TRACK_ID
        )
    if stats is not None:
        n_tracks = len(np.unique(track_of_hit[track_of_hit > 0]))
        stats.update(seeds=len(seeds), candidates=candidates.n_candidates, tracks=n_tracks)
    # Renumber 1, 2, ... within each event, in quality order (selection numbers tracks
    # by quality; clean-up keeps the number of a track's best piece).
    out = np.full(len(hits), UNASSIGNED_TRACK_ID, dtype=np.int64)
    on = np.flatnonzero(track_of_hit > 0)
    if len(on):
        pairs, inverse = np.unique(
            np.stack([hits.event[on], track_of_hit[on]], axis=1), axis=0, return_inverse=True
        )
        out[on] = (_first_ranks(pairs[:, 0]) + 1)[inverse.ravel()]
    return out


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
        raise ConfigError(
            f"unknown algorithm {algorithm!r}; choose one of {list(STRAW_ALGORITHMS)}"
        )
    if algorithm == "tracknet":
        if loaded is None:
            raise ConfigError("algorithm 'tracknet' needs a model checkpoint")
        data = (loaded.meta or {}).get("data") or {}
        resolved = data.get("positions", "wire") == "resolved"
        resolve = resolved if config.resolve_drift is None else config.resolve_drift
        if config.radius_scale is not None:
            scale = config.radius_scale
        else:
            # With resolution the circle fits judge the hits: wide circles are safe.
            scale = (
                RESOLVED_RADIUS_SCALE if resolve else float(loaded.meta.get("radius_scale", 1.0))
            )
        return StrawTrackNetFollower(
            loaded.model,
            loaded.normalizer,
            radius_scale=scale,
            resolve_drift=resolved,
            min_drift_mm=float(data.get("min_drift_mm", 0.0)),
        )
    return StrawLineFollower(
        window_mm=config.baseline_window_mm,
        window_per_mm=config.baseline_window_per_mm,
        fit_hits=config.baseline_fit_hits,
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
            row[sl] - first,
            h["x"][sl],
            h["y"][sl],
            h["drift_mm"][sl],
            layer[sl],
            geometry.layer_x,
            geometry.layers_per_module,
            geometry.pitch_mm,
            geometry.straw_radius_mm,
        )
        part: dict[str, int] = {}
        track[sl] = build_straw_hits(
            follower, hits, int(row[hi - 1] - first + 1), config, stats=part
        )
        if stats is not None:
            for k, v in part.items():
                stats[k] = stats.get(k, 0) + v if k != "live_max" else max(stats.get(k, 0), v)
    return pd.DataFrame(
        {
            "event_id": h["event_id"].astype(np.int64),
            "hit_id": h["hit_id"].astype(np.int64),
            "track_id": track,
        }
    )


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
        raise ConfigError(
            f"unknown algorithm {algorithm!r}; choose one of {list(STRAW_ALGORITHMS)}"
        )
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
            raise DataError(
                f"event(s) {missing[:10].tolist()} not found in directory", file=str(data_dir)
            )
    follower = make_straw_follower(algorithm, loaded, config)
    frames: list[pd.DataFrame] = []
    stats: dict[str, int] = {}
    seconds = 0.0
    n_events = 0
    bar = tqdm(
        total=len(dataset) if wanted is None else len(wanted),
        desc=f"build straw ({algorithm})",
        unit="event",
        disable=not progress,
    )
    for batch in dataset.iter_batches():
        if wanted is not None:
            batch = batch.take(np.flatnonzero(np.isin(batch.events["event_id"], wanted)))
        if not len(batch):
            continue
        for lo in range(0, len(batch), config.events_per_batch):
            part = batch.slice(lo, min(lo + config.events_per_batch, len(batch)))
            started = time.perf_counter()
            frames.append(
                build_straw_batch(
                    part, geometry, algorithm, loaded, config, stats=stats, follower=follower
                )
            )
            seconds += time.perf_counter() - started
            n_events += len(part)
            bar.update(len(part))
            bar.set_postfix(
                tracks=stats.get("tracks", 0), ev_per_s=f"{n_events / max(seconds, 1e-9):.0f}"
            )
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
            "checkpoint": None
            if checkpoint is None or algorithm != "tracknet"
            else str(checkpoint),
            "radius_scale": getattr(follower, "radius_scale", None),
            "resolve_drift": resolves_drift(follower, config),
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
