"""Track candidates: seeds extended hit by hit, all candidates of an event in one batch.

:func:`extend_seeds` is the beam search shared by the learned and the classical follower;
they differ only in the :class:`Extender` that predicts the next search spheres
(:class:`TrackNetExtender` here, :class:`~tracknet.building.baseline.HelixExtender`).
Each step searches the t1 sphere, branches, bridges holes with the t2 sphere, keeps the
best candidates per seed and ends those that leave the detector; all array arithmetic.

See docs/extension.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from ..data.normalize import Normalizer
from ..errors import ConfigError
from ..model.step_ahead import StepAheadTrackNet
from ..schema import Settings, setting
from .geometry import Envelope, LayerSurfaces
from .regions import Spheres, layer_regions
from .search import HitIndex, Neighbours

__all__ = [
    "Candidates",
    "Extender",
    "ExtensionConfig",
    "Spheres",
    "TrackNetExtender",
    "extend_seeds",
    "workers_problem",
]


class Extender(Protocol):
    """What the extension loop needs from a track follower (state is opaque to it)."""

    def start(self, seed_positions: np.ndarray, seed_layers: np.ndarray) -> tuple[Any, Spheres]:
        """State and spheres after reading seeds: positions ``(S, m, 3)`` mm, layer keys
        ``(S, m)``."""
        ...

    def advance(
        self,
        state: Any,
        parents: np.ndarray,
        hit_positions: np.ndarray,
        hit_layers: np.ndarray,
        hole_positions: np.ndarray,
        has_hole: np.ndarray,
    ) -> tuple[Any, Spheres]:
        """State and spheres of children: child ``i`` continues candidate ``parents[i]`` with
        the hit at ``hit_positions[i]`` (layer key ``hit_layers[i]``), after a skipped step
        at ``hole_positions[i]`` where ``has_hole[i]``."""
        ...


# --------------------------------------------------------------------------- TrackNET


class TrackNetExtender:
    """StepAhead TrackNET as an :class:`Extender`: one batched GRU step per hit.

    ``radius_scale`` multiplies every predicted radius (after conversion to mm) and
    ``max_radius_mm`` caps it (a sphere bigger than that holds so many hits in a dense
    event that its pick is a guess, and it costs the most time); the
    state is the GRU hidden state ``(num_layers, N, H)``.
    """

    def __init__(
        self,
        model: StepAheadTrackNet,
        normalizer: Normalizer,
        *,
        radius_scale: float = 1.0,
        max_radius_mm: float = math.inf,
        batch_size: int = 262_144,
        surfaces: LayerSurfaces | None = None,
        layer_radius_mm: float | None = None,
        surface_margin_mm: float = 0.0,
    ) -> None:
        if model.input_dim != 3:
            raise ConfigError(
                "the track builder needs a model of (x, y, z) hits (input_dim 3), "
                f"got input_dim {model.input_dim}"
            )
        if not (
            isinstance(radius_scale, (int, float))
            and np.isfinite(radius_scale)
            and radius_scale > 0
        ):
            raise ConfigError(f"radius_scale must be a finite number > 0, got {radius_scale!r}")
        self.model = model.eval()
        self.normalizer = normalizer
        self.radius_scale = float(radius_scale)
        if not (isinstance(max_radius_mm, (int, float)) and max_radius_mm > 0):
            raise ConfigError(f"max_radius_mm must be a number > 0, got {max_radius_mm!r}")
        self.max_radius_mm = float(max_radius_mm)
        self.batch_size = int(batch_size)
        if layer_radius_mm is not None and not (
            isinstance(layer_radius_mm, (int, float)) and 0 < layer_radius_mm < math.inf
        ):
            raise ConfigError(f"layer_radius_mm must be a number > 0, got {layer_radius_mm!r}")
        if layer_radius_mm is not None and surfaces is None:
            raise ConfigError("layer search regions (layer_radius_mm) need the layer surfaces")
        self.surfaces = surfaces
        self.layer_radius_mm = None if layer_radius_mm is None else float(layer_radius_mm)
        self.surface_margin_mm = float(surface_margin_mm)
        self._dtype = torch.float32
        self._device = next(model.parameters()).device

    def _to_model(self, positions_mm: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(
            self.normalizer.to_model(np.asarray(positions_mm, dtype=np.float64)),
            dtype=self._dtype,
            device=self._device,
        )

    def _spheres(self, pred: Any) -> Spheres:
        scale = self.radius_scale

        def centre(t: torch.Tensor) -> np.ndarray:
            return self.normalizer.to_mm(t.detach().cpu().numpy().astype(np.float64))

        def radius(t: torch.Tensor) -> np.ndarray:
            mm: np.ndarray = (
                self.normalizer.radius_to_mm(t.detach().cpu().numpy().astype(np.float64)) * scale
            )
            return mm

        return Spheres(
            centre(pred.t1_center),
            radius(pred.t1_radius),
            centre(pred.t2_center),
            radius(pred.t2_radius),
        )

    def _chunks(
        self, x: torch.Tensor, hidden: torch.Tensor | None
    ) -> list[tuple[Any, torch.Tensor]]:
        """The model's step over ``x``, in chunks of ``batch_size`` rows: the prediction
        and the new state of each chunk."""
        size = self.batch_size
        return [
            self.model.step(
                x[lo : lo + size], None if hidden is None else hidden[:, lo : lo + size]
            )
            for lo in range(0, max(x.shape[0], 1), size)
        ]

    @torch.no_grad()
    def _step(self, x: torch.Tensor, hidden: torch.Tensor | None) -> tuple[Spheres, torch.Tensor]:
        """One model step over a batch: its spheres and the new state."""
        chunks = self._chunks(x, hidden)
        if len(chunks) == 1:
            return self._spheres(chunks[0][0]), chunks[0][1]
        spheres = Spheres.concatenate([self._spheres(pred) for pred, _ in chunks])
        return spheres, torch.cat([h for _, h in chunks], dim=1)

    @torch.no_grad()
    def _hidden_step(self, x: torch.Tensor, hidden: torch.Tensor | None) -> torch.Tensor:
        """The state after one model step (its spheres are not needed)."""
        states = [h for _, h in self._chunks(x, hidden)]
        return states[0] if len(states) == 1 else torch.cat(states, dim=1)

    def start(
        self, seed_positions: np.ndarray, seed_layers: np.ndarray
    ) -> tuple[torch.Tensor, Spheres]:
        n, m = seed_positions.shape[:2]
        if n == 0:
            empty = np.zeros((0, 3))
            initial = self.model.initial_hidden(0, device=self._device)
            return initial, Spheres(empty, np.zeros(0), empty.copy(), np.zeros(0))
        # Seeds that begin with the same hits share the GRU state of that beginning: each
        # distinct prefix is read once (same state, fewer model rows).
        flat = np.ascontiguousarray(seed_positions, dtype=np.float64).reshape(n, m * 3)
        hidden: torch.Tensor | None = None
        group = np.zeros(n, dtype=np.int64)  # prefix group of each seed, one level up
        spheres: Spheres | None = None
        for j in range(m):
            _, first, inverse = np.unique(
                flat[:, : 3 * (j + 1)], axis=0, return_index=True, return_inverse=True
            )
            parent = group[first]
            step_in = (
                None if hidden is None else hidden[:, torch.as_tensor(parent, device=hidden.device)]
            )
            x = self._to_model(seed_positions[first, j])
            if j < m - 1:
                hidden = self._hidden_step(x, step_in)
            else:
                spheres, hidden = self._step(x, step_in)
            group = inverse.reshape(-1)
        assert hidden is not None and spheres is not None
        at = torch.as_tensor(group, device=hidden.device)
        spheres = spheres.take(group)
        return hidden[:, at], self._finish(spheres, seed_positions[:, -1], seed_layers[:, -1])

    def _finish(self, spheres: Spheres, last: np.ndarray, last_layer: np.ndarray) -> Spheres:
        """The model's spheres (radii in mm, uncapped) turned into search regions: on
        layers where asked (:meth:`_layer_regions`), then every radius capped."""
        if self.layer_radius_mm is not None:
            assert self.surfaces is not None
            spheres = layer_regions(
                spheres,
                self.surfaces,
                last,
                last_layer,
                layer_radius_mm=self.layer_radius_mm,
                margin_mm=self.surface_margin_mm,
            )
        cap = self.max_radius_mm
        return spheres._replace(
            t1_radius=np.minimum(spheres.t1_radius, cap),
            t2_radius=np.minimum(spheres.t2_radius, cap),
            t1b_radius=None if spheres.t1b_radius is None else np.minimum(spheres.t1b_radius, cap),
        )

    def advance(
        self,
        state: torch.Tensor,
        parents: np.ndarray,
        hit_positions: np.ndarray,
        hit_layers: np.ndarray,
        hole_positions: np.ndarray,
        has_hole: np.ndarray,
    ) -> tuple[torch.Tensor, Spheres]:
        if len(parents) == 0:
            return state[:, :0], Spheres(
                np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros(0)
            )
        hidden = state[:, torch.as_tensor(parents, device=state.device)]
        first = np.where(has_hole[:, None], hole_positions, hit_positions)
        spheres, hidden = self._step(self._to_model(first), hidden)
        holes = np.flatnonzero(has_hole)
        if len(holes):
            rows = torch.as_tensor(holes, device=hidden.device)
            second, h2 = self._step(self._to_model(hit_positions[holes]), hidden[:, rows])
            hidden = hidden.clone()
            hidden[:, rows] = h2
            spheres = spheres.copy()
            for field_now, field_new in zip(spheres[:4], second[:4], strict=True):
                field_now[holes] = field_new
        return hidden, self._finish(spheres, hit_positions, hit_layers)


# --------------------------------------------------------------------------- loop


def workers_problem(value: int) -> str | None:
    """What is wrong with a ``workers`` value (k-d tree threads: -1 or a positive count)."""
    return None if value == -1 or value > 0 else "must be a positive integer or -1"


@dataclass(frozen=True)
class ExtensionConfig(Settings):
    """Settings of the extension loop (see docs/extension.md).

    ``beam_width``: live candidates kept per seed; ``max_branches``: hits one candidate may
    branch into per step; ``max_misses``: holes (skipped steps) allowed per candidate;
    ``miss_penalty``: cost of a hole, in units of normalised distance; ``max_hits``: the
    longest candidate (hits, seed included); ``min_hits``: ended candidates with fewer
    hits are dropped at once; ``workers``: k-d tree query threads (-1: all cores).
    """

    label: ClassVar[str] = "extension"

    beam_width: int = setting(3, low=1)
    max_branches: int = setting(2, low=1)
    max_misses: int = setting(1, low=0)
    miss_penalty: float = setting(0.5, low=0)
    max_hits: int = setting(30, low=2)
    min_hits: int = setting(4, low=1)
    skip_branches: bool = True
    skip_above: float = setting(0.3, low=0)
    merge_paths: bool = True
    workers: int = setting(-1, check=workers_problem)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Ended candidates: ``paths`` ``(C, L)`` hit rows (``-1`` past ``n_hits``), ``n_hits``,
    ``cost`` (summed normalised distances plus miss penalties), ``misses``, ``seed`` (row
    of the seed array they grew from) and ``n_seed_hits`` (hits taken from the seed)."""

    paths: np.ndarray
    n_hits: np.ndarray
    cost: np.ndarray
    misses: np.ndarray
    seed: np.ndarray
    n_seed_hits: int

    @property
    def n_candidates(self) -> int:
        return len(self.n_hits)

    @classmethod
    def empty(cls, max_hits: int, n_seed_hits: int = 0) -> Candidates:
        return cls(
            np.zeros((0, max_hits), np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            n_seed_hits,
        )

    def mean_cost(self) -> np.ndarray:
        """Cost per hit added beyond the seed (0 for a bare seed)."""
        added = np.maximum(self.n_hits - self.n_seed_hits, 1)
        mean: np.ndarray = self.cost / added
        return mean


def _first_ranks(sorted_groups: np.ndarray) -> np.ndarray:
    """Rank of each element within its run of equal values (input sorted by group)."""
    n = len(sorted_groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(n, dtype=bool)
    start[1:] = sorted_groups[1:] != sorted_groups[:-1]
    first = np.flatnonzero(start)
    counts = np.diff(np.append(first, n))
    return np.arange(n, dtype=np.int64) - np.repeat(first, counts)


def _search(
    index: HitIndex,
    index_rows: np.ndarray,
    centres: np.ndarray,
    radii: np.ndarray,
    queries: np.ndarray,
    paths: np.ndarray,
    k: int,
    extra: int,
) -> Neighbours:
    """Up to ``k`` usable hits (event rows) nearest each sphere of ``queries``; the query
    field holds the candidate index. Hits already on the candidate are excluded."""
    if len(queries) == 0:
        return Neighbours.empty()
    found = index.nearest(centres[queries], radii[queries], k + extra)
    cand = queries[found.query]
    rows = index_rows[found.hit]
    own = (paths[cand] == rows[:, None]).any(axis=1)
    found = Neighbours(cand[~own], rows[~own], found.distance[~own])
    keep = _first_ranks(found.query) < k
    return found.take(keep)


def _merge_regions(
    a: Neighbours, a_cost: np.ndarray, b: Neighbours, b_cost: np.ndarray, k: int
) -> tuple[Neighbours, np.ndarray]:
    """Hits of two regions per candidate as one list: a hit in both counts once (its lower
    cost), then the ``k`` cheapest per candidate, sorted by candidate and cost."""
    query = np.concatenate([a.query, b.query])
    hit = np.concatenate([a.hit, b.hit])
    distance = np.concatenate([a.distance, b.distance])
    cost = np.concatenate([a_cost, b_cost])
    order = np.lexsort((hit, cost, query))
    query, hit, distance, cost = query[order], hit[order], distance[order], cost[order]
    pair = np.lexsort((cost, hit, query))
    repeat = np.zeros(len(pair), dtype=bool)
    repeat[1:] = (query[pair][1:] == query[pair][:-1]) & (hit[pair][1:] == hit[pair][:-1])
    keep = np.ones(len(query), dtype=bool)
    keep[pair[repeat]] = False
    query, hit, distance, cost = query[keep], hit[keep], distance[keep], cost[keep]
    first = _first_ranks(query) < k
    return Neighbours(query[first], hit[first], distance[first]), cost[first]


def extend_seeds(
    extender: Extender,
    positions: np.ndarray,
    layer_keys: np.ndarray,
    seeds: np.ndarray,
    available: np.ndarray,
    envelope: Envelope,
    config: ExtensionConfig = ExtensionConfig(),
    *,
    stats: dict[str, int] | None = None,
) -> Candidates:
    """Grow every seed into candidates (see docs/extension.md) and return the ended ones.

    ``positions`` ``(N, 3)`` mm and ``layer_keys`` ``(N,)`` describe all hits of the event;
    ``seeds`` ``(S, m)`` holds hit rows; only hits where ``available`` is true can be added.
    ``stats`` (optional) receives counts: ``steps`` (iterations), ``queries`` (sphere
    searches) and ``live_max`` (most live candidates at once).
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    s, m = seeds.shape
    width = config.max_hits
    if m > width:
        raise ConfigError(f"max_hits ({width}) must be at least the seed size ({m})")
    if s == 0:
        return Candidates.empty(width, m)
    rows_available = np.flatnonzero(available)
    index = HitIndex(positions[rows_available], workers=config.workers)

    paths = np.full((s, width), -1, dtype=np.int64)
    paths[:, :m] = seeds
    n_hits = np.full(s, m, dtype=np.int64)
    cost = np.zeros(s)
    misses = np.zeros(s, dtype=np.int64)
    seed_of = np.arange(s, dtype=np.int64)
    state, spheres = extender.start(positions[seeds], layer_keys[seeds])

    done: list[tuple[np.ndarray, ...]] = []
    counters = {"steps": 0, "queries": 0, "live_max": s}

    def finish(index_: np.ndarray) -> None:
        keep = index_[n_hits[index_] >= config.min_hits]
        if len(keep):
            done.append((paths[keep], n_hits[keep], cost[keep], misses[keep], seed_of[keep]))

    extra = 2  # room for hits the candidate already holds among the nearest
    while len(n_hits):
        counters["steps"] += 1
        n = len(n_hits)
        full = n_hits >= width
        inside1 = envelope.contains(spheres.t1_center) & ~full
        q1 = np.flatnonzero(inside1)
        t1 = _search(
            index,
            rows_available,
            spheres.t1_center,
            spheres.t1_radius,
            q1,
            paths,
            config.max_branches,
            extra,
        )
        t1_cost = t1.distance / np.maximum(spheres.t1_radius[t1.query], 1e-12)
        if spheres.t1b_center is not None and spheres.t1b_radius is not None:
            qb = np.flatnonzero(envelope.contains(spheres.t1b_center) & ~full)
            tb = _search(
                index,
                rows_available,
                spheres.t1b_center,
                spheres.t1b_radius,
                qb,
                paths,
                config.max_branches,
                extra,
            )
            counters["queries"] += len(qb)
            t1, t1_cost = _merge_regions(
                t1,
                t1_cost,
                tb,
                tb.distance / np.maximum(spheres.t1b_radius[tb.query], 1e-12),
                config.max_branches,
            )
        has_t1 = np.zeros(n, dtype=bool)
        has_t1[t1.query] = True
        may_skip = ~full & (misses < config.max_misses)
        if config.skip_branches:
            # Also branch over a hole when the best t1 hit is not clearly right.
            best_t1 = np.full(n, np.inf)
            np.minimum.at(best_t1, t1.query, t1_cost)
            may_skip &= best_t1 > config.skip_above
        else:
            may_skip &= ~has_t1
        may_skip &= envelope.contains(spheres.t2_center)
        q2 = np.flatnonzero(may_skip)
        t2 = _search(
            index,
            rows_available,
            spheres.t2_center,
            spheres.t2_radius,
            q2,
            paths,
            config.max_branches,
            extra,
        )
        counters["queries"] += len(q1) + len(q2)

        parent = np.concatenate([t1.query, t2.query])
        hit = np.concatenate([t1.hit, t2.hit])
        hole = np.concatenate([np.zeros(len(t1.query), bool), np.ones(len(t2.query), bool)])
        step_cost = np.concatenate(
            [t1_cost, t2.distance / np.maximum(spheres.t2_radius[t2.query], 1e-12)]
        )
        child_cost = cost[parent] + step_cost + hole * config.miss_penalty

        # Candidates without a child end here; so, as well, do those whose only way on is
        # over a hole (the track may end here, and the hole child may be a wrong turn).
        has_child = np.zeros(n, dtype=bool)
        has_child[parent] = True
        finish(np.flatnonzero(~has_child | (~has_t1 & may_skip)))

        # Beam: the best beam_width children of every seed.
        child_seed = seed_of[parent]
        order = np.lexsort((hit, parent, child_cost, child_seed))
        keep = order[_first_ranks(child_seed[order]) < config.beam_width]
        if config.merge_paths and len(keep):
            # Children that end on the same two hits continue alike: keep the best one
            # (most hits, then lowest cost) whatever seed it grew from.
            previous = paths[parent[keep], n_hits[parent[keep]] - 1]
            child_hits = n_hits[parent[keep]] + 1
            merged = np.lexsort((keep, child_cost[keep], -child_hits, previous, hit[keep]))
            twin = np.zeros(len(merged), dtype=bool)
            twin[1:] = (hit[keep][merged][1:] == hit[keep][merged][:-1]) & (
                previous[merged][1:] == previous[merged][:-1]
            )
            keep = keep[merged[~twin]]
        order = np.sort(keep)  # children grouped in parent order (deterministic layout)
        parent, hit, hole, child_cost = parent[order], hit[order], hole[order], child_cost[order]

        new_paths = paths[parent]
        new_paths[np.arange(len(parent)), n_hits[parent]] = hit
        paths = new_paths
        n_hits = n_hits[parent] + 1
        misses = misses[parent] + hole
        cost = child_cost
        seed_of = seed_of[parent]
        state, spheres = extender.advance(
            state,
            parent,
            positions[hit],
            layer_keys[hit],
            spheres.t1_center[parent],
            hole,
        )
        counters["live_max"] = max(counters["live_max"], len(n_hits))

    if stats is not None:
        stats.update(counters)
    if not done:
        return Candidates.empty(width, m)
    parts = list(zip(*done, strict=True))
    return Candidates(
        paths=np.concatenate(parts[0]),
        n_hits=np.concatenate(parts[1]),
        cost=np.concatenate(parts[2]),
        misses=np.concatenate(parts[3]),
        seed=np.concatenate(parts[4]),
        n_seed_hits=m,
    )
