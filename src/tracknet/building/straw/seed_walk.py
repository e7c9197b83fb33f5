"""The seed classifier's walk: every seed steps layer by layer and takes a candidate or none.

At each layer the seed's hits so far (drift-resolved) are extrapolated as the line
follower does; the ``K`` hits nearest the extrapolation inside its window are the
candidates, described by :func:`_features`. A chooser picks one of them or none: the LSTM
(:class:`StrawSeedLstmFollower`) when building, the truth when preparing training
sequences (:func:`seed_sequences`). See docs/straw-building.md (The seed classifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ...errors import ConfigError
from ...events import UNLABELLED_PARTICLE_ID
from ..builder import Candidates, _first_ranks
from .fits import _MAX_SLOPE2, circle_residuals
from .followers import StrawLineFollower
from .hits import StrawHits
from .seeding import find_straw_seeds, resolve_seeds
from .settings import StrawBuildConfig

__all__ = [
    "SLOT_FEATURES",
    "STEP_FEATURES",
    "SeedSequences",
    "StrawSeedLstmFollower",
    "seed_sequences",
    "walk_seeds",
]

#: Features of each candidate slot (the first one: the slot holds a hit).
SLOT_FEATURES = 5
#: Features of the step itself.
STEP_FEATURES = 8
_RESIDUAL_MM = 2.0  # the scale of tanh(residual / scale), a slot's absolute residual


class _Chooser(Protocol):
    def start(self, n: int) -> None: ...

    def choose(
        self, rows: np.ndarray, features: np.ndarray, slot_hits: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The slot taken (``K``: none) by each seed ``rows`` and its cost (>= 0)."""
        ...


def _features(
    dy: np.ndarray,
    dy_wire: np.ndarray,
    drift: np.ndarray,
    present: np.ndarray,
    window: np.ndarray,
    dx: np.ndarray,
    n_hits: np.ndarray,
    consec: np.ndarray,
    first_of_module: np.ndarray,
    prev_dy: np.ndarray,
    n_layers: int,
    max_misses: int,
    straw_radius_mm: float,
) -> np.ndarray:
    """Rows ``(N, K * SLOT_FEATURES + STEP_FEATURES)``, float32 (see docs/straw-building.md)."""
    w = window[:, None]
    slots = np.stack(
        [
            present.astype(np.float64),
            np.where(present, dy / w, 0.0),
            np.where(present, np.tanh(dy / _RESIDUAL_MM), 0.0),
            np.where(present, drift / straw_radius_mm, 0.0),
            np.where(present, dy_wire / w, 0.0),
        ],
        axis=-1,
    )
    step = np.stack(
        [
            dx / 100.0,
            window / 10.0,
            n_hits / n_layers,
            consec / (max_misses + 1.0),
            first_of_module.astype(np.float64),
            present.sum(axis=1) / present.shape[1],
            np.isfinite(prev_dy).astype(np.float64),
            np.where(np.isfinite(prev_dy), np.tanh(prev_dy / _RESIDUAL_MM), 0.0),
        ],
        axis=1,
    )
    return np.concatenate([slots.reshape(len(dy), -1), step], axis=1).astype(np.float32)


def walk_seeds(
    chooser: _Chooser,
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    n_candidates: int,
    *,
    variants: np.ndarray | None = None,
) -> tuple[Candidates, np.ndarray]:
    """Walk every left/right variant of ``seeds`` (or only the variant rows ``variants``)
    to the last layer; the candidates of at least ``min_hits`` hits and the ``y`` each
    path hit was taken at."""
    n_layers = hits.n_layers
    empty = Candidates.empty(n_layers, 2), np.zeros((0, n_layers))
    if len(seeds) == 0:
        return empty
    min_drift = (
        StrawLineFollower.min_drift_mm
        if config.resolve_min_drift_mm is None
        else config.resolve_min_drift_mm
    )
    drift = np.where(hits.drift >= min_drift, hits.drift, 0.0)
    seed_of, ya, yb = resolve_seeds(hits, seeds, config, True, drift)
    if variants is not None:
        seed_of, ya, yb = seed_of[variants], ya[variants], yb[variants]
    s = len(seed_of)
    if s == 0:
        return empty
    k = n_candidates
    paths = np.full((s, n_layers), -1, dtype=np.int64)
    paths[:, :2] = seeds[seed_of]
    path_y = np.zeros((s, n_layers))
    path_y[:, 0], path_y[:, 1] = ya, yb
    n_hits = np.full(s, 2, dtype=np.int64)
    layer = hits.layer[paths[:, 1]].copy()
    consec = np.zeros(s, dtype=np.int64)
    misses = np.zeros(s, dtype=np.int64)
    cost = np.zeros(s)
    prev_dy = np.full(s, np.nan)  # the residual of the hit taken at the last step (nan: none)
    extrapolate = StrawLineFollower(
        window_mm=config.baseline_window_mm,
        window_per_mm=config.baseline_window_per_mm,
        fit_hits=config.baseline_fit_hits,
    )
    chooser.start(s)
    live = np.arange(s)
    lpm = hits.layers_per_module
    step = 0
    while True:
        live = live[(layer[live] + 1 < n_layers) & (consec[live] <= config.max_misses)]
        if len(live) == 0:
            break
        nxt = layer[live] + 1
        if step % lpm == lpm - 1:
            # Every few layers the sides so far are resolved again against their circle.
            ly = path_y[live]
            _refine_sides(paths[live], ly, hits, drift)
            path_y[live] = ly
        step += 1
        next_x = hits.layer_x[nxt]
        lp, ln, ly = paths[live], n_hits[live], path_y[live]
        centre, window = extrapolate.predict(None, lp, ln, hits, next_x, path_y=ly)
        window = window * config.lstm_window_scale
        last_x = hits.x[lp[np.arange(len(live)), ln - 1]]
        last_y = ly[np.arange(len(live)), ln - 1]
        run = np.maximum(next_x - last_x, 1e-6)
        slope = (centre[:, 1] - last_y) / run
        sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
        margin = hits.straw_radius_mm * sec
        event = hits.event[lp[:, 0]]
        q, h = hits.window(
            event, nxt, centre[:, 1] - window - margin, centre[:, 1] + window + margin
        )
        y_wire = hits.y[h]
        side = np.where(centre[q, 1] >= y_wire, 1.0, -1.0)
        y_res = y_wire + side * drift[h] * sec[q]
        dy = y_res - centre[q, 1]
        inside = np.abs(dy) <= window[q]
        q, h, dy, y_res = q[inside], h[inside], dy[inside], y_res[inside]
        by = np.lexsort((h, np.abs(dy), q))
        q, h, dy, y_res = q[by], h[by], dy[by], y_res[by]
        rank = _first_ranks(q)
        on = rank < k
        q, h, dy, y_res, rank = q[on], h[on], dy[on], y_res[on], rank[on]
        n = len(live)
        slot_hits = np.full((n, k), -1, dtype=np.int64)
        slot_hits[q, rank] = h
        slot_dy = np.zeros((n, k))
        slot_dy[q, rank] = dy
        slot_y = np.zeros((n, k))
        slot_y[q, rank] = y_res
        present = slot_hits >= 0
        safe = np.maximum(slot_hits, 0)
        features = _features(
            slot_dy,
            np.where(present, hits.y[safe] - centre[:, 1:2], 0.0),
            np.where(present, drift[safe], 0.0),
            present,
            window,
            next_x - last_x,
            ln,
            consec[live],
            (nxt % lpm) == 0,
            prev_dy[live],
            n_layers,
            config.max_misses,
            hits.straw_radius_mm,
        )
        choice, step_cost = chooser.choose(live, features, slot_hits)
        took = choice < k
        rows, cols = live[took], choice[took]
        paths[rows, n_hits[rows]] = slot_hits[np.flatnonzero(took), cols]
        path_y[rows, n_hits[rows]] = slot_y[np.flatnonzero(took), cols]
        n_hits[rows] += 1
        prev_dy[live] = np.nan
        prev_dy[rows] = slot_dy[np.flatnonzero(took), cols]
        consec[live] = np.where(took, 0, consec[live] + 1)
        misses[live] += ~took
        cost[live] += step_cost
        layer[live] = nxt
    keep = np.flatnonzero(n_hits >= config.min_hits)
    path_y = path_y[keep]
    _refine_sides(paths[keep], path_y, hits, drift)
    # Holes after the last hit are no misses of the track.
    candidates = Candidates(
        paths=paths[keep],
        n_hits=n_hits[keep],
        cost=cost[keep],
        misses=np.maximum(misses[keep] - consec[keep], 0),
        seed=seed_of[keep],
        n_seed_hits=2,
    )
    return candidates, path_y


def _refine_sides(
    paths: np.ndarray, path_y: np.ndarray, hits: StrawHits, drift: np.ndarray, rounds: int = 3
) -> None:
    """Resolve each path hit's left/right ambiguity again against the circle fitted through
    the path (in place): the walk chose the side nearest a prediction from the hits
    before; the fit sees them all. A side flips when that brings the hit nearer the
    circle (the residual across the track changes by twice the drift distance)."""
    valid = paths >= 0
    if not valid.any():
        return
    rows = np.maximum(paths, 0)
    x = np.where(valid, hits.x[rows], 0.0)
    y_wire = hits.y[rows]
    d = np.where(valid, drift[rows], 0.0)
    for _ in range(rounds):
        res, fit = circle_residuals(x, np.where(valid, path_y, 0.0), valid, with_fit=True)
        cos = np.maximum(np.abs(fit[2]), 0.1)[:, None]
        side = np.sign(path_y - y_wire)
        flip = valid & (d > 0) & (np.abs(res - 2.0 * side * d) < np.abs(res))
        if not flip.any():
            return
        path_y[flip] = (y_wire - side * d / cos)[flip]


class StrawSeedLstmFollower:
    """The seed classifier as a chooser: one batched LSTM step per layer, argmax taken; the
    cost of a step is ``-log p`` of the choice."""

    #: The walk resolves the drift circles (fits and clean-up read resolved positions).
    resolve_drift = True
    min_drift_mm = StrawLineFollower.min_drift_mm

    def __init__(self, model: Any) -> None:
        self.model = model.eval()
        self.n_candidates = int(model.n_candidates)
        if model.slot_features != SLOT_FEATURES or model.step_features != STEP_FEATURES:
            raise ConfigError(
                f"the seed classifier reads {model.slot_features} slot and "
                f"{model.step_features} step features; this TrackNET writes {SLOT_FEATURES} "
                f"and {STEP_FEATURES}: train it again"
            )
        self._h: torch.Tensor | None = None
        self._c: torch.Tensor | None = None

    def start(self, n: int) -> None:
        shape = (self.model.num_layers, n, self.model.hidden_size)
        self._h, self._c = torch.zeros(shape), torch.zeros(shape)

    @torch.no_grad()
    def choose(
        self, rows: np.ndarray, features: np.ndarray, slot_hits: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._h is not None and self._c is not None, "start() first"
        index = torch.as_tensor(rows)
        logits, (h, c) = self.model.step(
            torch.from_numpy(features),
            (self._h[:, index].contiguous(), self._c[:, index].contiguous()),
        )
        self._h[:, index], self._c[:, index] = h, c
        logp = torch.log_softmax(logits, dim=1)
        best = logp.argmax(dim=1)
        cost = -logp.gather(1, best[:, None])[:, 0]
        return best.numpy().astype(np.int64), cost.numpy().astype(np.float64)

    def candidates(
        self, hits: StrawHits, seeds: np.ndarray, config: StrawBuildConfig
    ) -> tuple[Candidates, np.ndarray]:
        return walk_seeds(self, hits, seeds, config, self.n_candidates)


@dataclass(frozen=True)
class SeedSequences:
    """Training sequences of the walk: ``features (B, T, F)`` float32, ``labels (B, T)``
    (slot taken by the truth, ``K`` none, ``-100`` past a sequence's end), and
    ``true_seed (B,)`` whether the seed's two hits are of one labelled particle."""

    features: np.ndarray
    labels: np.ndarray
    true_seed: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


class _TruthChooser:
    """Takes the slot of the seed's particle (none if absent); records every step."""

    def __init__(self, particle: np.ndarray, target: np.ndarray, n_candidates: int) -> None:
        self.particle = particle
        self.target = target
        self.k = n_candidates
        self.steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def start(self, n: int) -> None:
        self.steps = []

    def choose(
        self, rows: np.ndarray, features: np.ndarray, slot_hits: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        own = (slot_hits >= 0) & (
            self.particle[np.maximum(slot_hits, 0)] == self.target[rows][:, None]
        )
        label = np.where(own.any(axis=1), own.argmax(axis=1), self.k).astype(np.int64)
        self.steps.append((rows, features, label))
        return label, np.zeros(len(rows))


def seed_sequences(
    hits: StrawHits,
    particle: np.ndarray,
    config: StrawBuildConfig,
    n_candidates: int,
    *,
    max_seeds: int | None,
    rng: np.random.Generator,
) -> SeedSequences:
    """The truth's walk of the seeds of ``hits`` (``particle`` per hit row; ids <= 0 are
    noise or unlabelled hits, never a target), ``max_seeds`` variants drawn by ``rng``.
    Seeds of two unlabelled hits are left out: they may be tracks nobody labelled."""
    drift = np.where(hits.drift >= StrawLineFollower.min_drift_mm, hits.drift, 0.0)
    seeds = find_straw_seeds(hits, config)
    seed_of, _, _ = resolve_seeds(hits, seeds, config, True, drift)
    # A seed of two unlabelled hits may be a real track nobody labelled: not a lesson.
    unknown = (particle[seeds[seed_of, 0]] == UNLABELLED_PARTICLE_ID) & (
        particle[seeds[seed_of, 1]] == UNLABELLED_PARTICLE_ID
    )
    chosen = np.flatnonzero(~unknown)
    if max_seeds is not None and len(chosen) > max_seeds:
        chosen = np.sort(rng.choice(chosen, size=max_seeds, replace=False))
    pa, pb = particle[seeds[seed_of[chosen], 0]], particle[seeds[seed_of[chosen], 1]]
    target = np.where((pa == pb) & (pa > 0), pa, 0)
    target = np.where(target > 0, target, np.iinfo(np.int64).min)  # matches no hit
    truth = _TruthChooser(particle, target, n_candidates)
    walk_seeds(truth, hits, seeds, config, n_candidates, variants=chosen)
    n_features = n_candidates * SLOT_FEATURES + STEP_FEATURES
    b = len(chosen)
    if not truth.steps:
        return SeedSequences(
            np.zeros((b, 0, n_features), np.float32), np.zeros((b, 0), np.int64), target > 0
        )
    rows = np.concatenate([r for r, _, _ in truth.steps])
    step = np.concatenate([np.full(len(r), i) for i, (r, _, _) in enumerate(truth.steps)])
    # A seed's steps are consecutive steps of the walk from its first: number them from 0.
    first = np.full(b, np.iinfo(np.int64).max)
    np.minimum.at(first, rows, step)
    t = step - first[rows]
    length = int(t.max()) + 1
    features = np.zeros((b, length, n_features), np.float32)
    labels = np.full((b, length), -100, dtype=np.int64)
    features[rows, t] = np.concatenate([f for _, f, _ in truth.steps])
    labels[rows, t] = np.concatenate([lab for _, _, lab in truth.steps])
    return SeedSequences(features, labels, target > 0)
