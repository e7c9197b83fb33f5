"""Neighbour search with one radius per query: which hits lie inside each search sphere.

:class:`HitIndex` wraps a k-d tree over hit positions (mm): :meth:`HitIndex.nearest`
(the ``k`` nearest hits inside each sphere, what the builder uses) and
:meth:`HitIndex.ball` (every hit inside). Both return :class:`Neighbours`, flat arrays
sorted by query then distance, so results are deterministic.

See docs/extension.md.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from ..errors import ConfigError, DataError

__all__ = ["HitIndex", "Neighbours"]


class Neighbours(NamedTuple):
    """Flat search result: pair ``i`` says hit ``hit[i]`` lies ``distance[i]`` mm from the
    centre of query ``query[i]`` (inside its sphere). Sorted by query, then distance."""

    query: np.ndarray  # int64
    hit: np.ndarray  # int64, index into the positions the HitIndex was built from
    distance: np.ndarray  # float64, mm

    @classmethod
    def empty(cls) -> Neighbours:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))

    def counts(self, n_queries: int) -> np.ndarray:
        """Hits found per query, int64 ``(n_queries,)``."""
        return np.bincount(self.query, minlength=n_queries).astype(np.int64)

    def take(self, mask: np.ndarray) -> Neighbours:
        """The pairs where ``mask`` (bool or index array) holds, order kept."""
        return Neighbours(self.query[mask], self.hit[mask], self.distance[mask])


def _check_queries(centres: np.ndarray, radii: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1] != 3:
        raise DataError(f"search centres must have shape (Q, 3), got {centres.shape}")
    radii = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(centres),))
    if not np.all(np.isfinite(centres)):
        raise DataError("search centres must be finite")
    if np.any(~(radii >= 0)) or not np.all(np.isfinite(radii)):
        raise DataError("search radii must be finite and >= 0")
    return centres, radii


def _sorted(query: np.ndarray, hit: np.ndarray, distance: np.ndarray) -> Neighbours:
    order = np.lexsort((hit, distance, query))
    return Neighbours(query[order], hit[order], distance[order])


class HitIndex:
    """A k-d tree over hit positions (mm) for spheres of individual radii.

    ``workers`` is passed to the tree queries (``-1``: all cores). Building is cheap
    (about 10 ms for 100k hits), so a builder makes one index per event or per stage.
    """

    def __init__(self, positions: np.ndarray, *, leafsize: int = 16, workers: int = 1) -> None:
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise DataError(f"hit positions must have shape (N, 3), got {positions.shape}")
        if not np.all(np.isfinite(positions)):
            raise DataError("hit positions must be finite")
        if (
            isinstance(workers, bool)
            or not isinstance(workers, int)
            or workers == 0
            or workers < -1
        ):
            raise ConfigError(f"search workers must be a positive integer or -1, got {workers!r}")
        self.positions = positions
        self.workers = workers
        self._tree = cKDTree(positions, leafsize=leafsize) if len(positions) else None

    @property
    def n_hits(self) -> int:
        return len(self.positions)

    def ball(self, centres: np.ndarray, radii: np.ndarray | float) -> Neighbours:
        """Every hit with ``|hit - centre| <= radius``, for each query."""
        centres, radii = _check_queries(centres, radii)
        if self._tree is None or len(centres) == 0:
            return Neighbours.empty()
        lists = self._tree.query_ball_point(
            centres, r=radii, workers=self.workers, return_sorted=False
        )
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        total = int(counts.sum())
        hit = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=total)
        query = np.repeat(np.arange(len(centres), dtype=np.int64), counts)
        distance = np.linalg.norm(self.positions[hit] - centres[query], axis=1)
        # The tree compares squared distances; keep the definition exact at the boundary.
        keep = distance <= radii[query]
        return _sorted(query[keep], hit[keep], distance[keep])

    def nearest(self, centres: np.ndarray, radii: np.ndarray | float, k: int) -> Neighbours:
        """Up to ``k`` hits nearest each centre among those with ``|hit - centre| <= radius``."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"search k must be an integer >= 1, got {k!r}")
        centres, radii = _check_queries(centres, radii)
        if self._tree is None or len(centres) == 0:
            return Neighbours.empty()
        k = int(min(k, self.n_hits))
        # The bound prunes the search; the exact per-query radius is applied afterwards.
        bound = float(np.nextafter(radii.max(), np.inf)) if len(radii) else 0.0
        distance, hit = self._tree.query(
            centres, k=k, distance_upper_bound=bound, workers=self.workers
        )
        distance = distance.reshape(len(centres), k)
        hit = hit.reshape(len(centres), k)
        found = hit < self.n_hits
        # Recompute exactly (the tree's value can differ in the last bit) and cut per query.
        exact = np.full(distance.shape, np.inf)
        rows, cols = np.nonzero(found)
        exact[rows, cols] = np.linalg.norm(self.positions[hit[rows, cols]] - centres[rows], axis=1)
        inside = found & (exact <= radii[:, None])
        # Rows come out by query; within a row the tree orders by distance. Re-sort only
        # the (rare) rows where the exact distances disagree with the tree's order.
        order = (
            np.argsort(np.where(inside, exact, np.inf), axis=1, kind="stable") if k > 1 else None
        )
        if order is not None:
            exact = np.take_along_axis(exact, order, axis=1)
            hit = np.take_along_axis(hit, order, axis=1)
            inside = np.take_along_axis(inside, order, axis=1)
        rows, cols = np.nonzero(inside)
        return Neighbours(
            rows.astype(np.int64), hit[rows, cols].astype(np.int64), exact[rows, cols]
        )
