"""Detector surfaces and envelope, derived from an event's hits (no geometry file needed).

:class:`LayerSurfaces` summarises every ``(volume_id, layer_id)`` as one idealised barrel
cylinder or end-cap disk; :class:`Envelope` is the region holding the event's hits,
which a search sphere leaves when its centre lies beyond it. Only hits are read, never
truth, so the same code serves every TrackML-like detector.

See docs/extension.md (and docs/seeding.md for the surfaces).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Envelope", "LayerSurfaces", "layer_keys"]


def layer_keys(volume_id: np.ndarray, layer_id: np.ndarray) -> np.ndarray:
    """One int64 per ``(volume_id, layer_id)``: ``volume << 32 | layer`` (ids >= 0)."""
    return (np.asarray(volume_id, dtype=np.int64) << 32) | np.asarray(layer_id, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class LayerSurfaces:
    """One idealised surface per layer; arrays of shape ``(L,)`` sorted by ``keys``.

    ``keys``: :func:`layer_keys` of the layer; ``barrel``: True
    for a cylinder ``r = position``, False for a disk ``z = position``; ``low``/``high``:
    the extent along the surface (``z`` for a cylinder, ``r`` for a disk); ``spread``: the
    largest distance of a hit from the surface across it (module staggering: in ``r`` for
    a cylinder, in ``z`` for a disk). All mm.
    """

    keys: np.ndarray
    barrel: np.ndarray
    position: np.ndarray
    low: np.ndarray
    high: np.ndarray
    spread: np.ndarray

    @property
    def n_layers(self) -> int:
        return len(self.keys)

    @classmethod
    def from_hits(
        cls, positions: np.ndarray, volume_id: np.ndarray, layer_id: np.ndarray
    ) -> LayerSurfaces:
        """Surfaces of the layers present among the hits (vectorised over hits)."""
        positions = np.asarray(positions, dtype=np.float64)
        keys = layer_keys(volume_id, layer_id)
        if len(keys) == 0:
            empty = np.zeros(0)
            return cls(np.zeros(0, np.int64), np.zeros(0, bool), empty, empty, empty, empty)
        unique, inverse = np.unique(keys, return_inverse=True)
        n = len(unique)
        r = np.hypot(positions[:, 0], positions[:, 1])
        z = positions[:, 2]

        def extent(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            low = np.full(n, np.inf)
            high = np.full(n, -np.inf)
            np.minimum.at(low, inverse, values)
            np.maximum.at(high, inverse, values)
            return low, high

        def median(values: np.ndarray) -> np.ndarray:
            order = np.lexsort((values, inverse))
            counts = np.bincount(inverse, minlength=n)
            starts = np.cumsum(counts) - counts
            lo = order[starts + (counts - 1) // 2]
            hi = order[starts + counts // 2]
            middle: np.ndarray = 0.5 * (values[lo] + values[hi])
            return middle

        r_low, r_high = extent(r)
        z_low, z_high = extent(z)
        barrel = (r_high - r_low) < (z_high - z_low)
        position = np.where(barrel, median(r), median(z))
        across_low = np.where(barrel, r_low, z_low)
        across_high = np.where(barrel, r_high, z_high)
        return cls(
            keys=unique,
            barrel=barrel,
            position=position,
            low=np.where(barrel, z_low, r_low),
            high=np.where(barrel, z_high, r_high),
            spread=np.maximum(position - across_low, across_high - position),
        )

    def line_crossings(
        self,
        points: np.ndarray,
        directions: np.ndarray,
        exclude: np.ndarray,
        margin_mm: float,
        pairs: np.ndarray | None = None,
    ) -> np.ndarray:
        """Distance ``t`` ``(N, L)`` (mm, inf where none) along each straight line
        ``points + t * directions`` (unit directions, ``(N, 3)``) to its first crossing
        ahead (``t > 0``) of each surface, within the surface's extent plus ``margin_mm``;
        the layer ``exclude`` ``(N,)`` (a layer key) of each line is left out. ``pairs``
        (bool ``(N, L)``, default all): the only (line, surface) pairs to compute."""
        points = np.asarray(points, dtype=np.float64)
        u = np.asarray(directions, dtype=np.float64)
        n, n_layers = len(points), self.n_layers
        t = np.full((n, n_layers), np.inf)
        if n == 0 or n_layers == 0:
            return t
        wanted = np.ones((n, n_layers), dtype=bool) if pairs is None else pairs.copy()
        wanted &= self.keys[None, :] != np.asarray(exclude, dtype=np.int64)[:, None]
        row, col = np.nonzero(wanted)
        p, d = points[row], u[row]
        eps = 1e-6
        ahead = np.full(len(row), np.inf)
        barrel = self.barrel[col]
        position = self.position[col]
        with np.errstate(divide="ignore", invalid="ignore"):
            # Cylinders r = rho: |p_xy + t u_xy| = rho.
            a = d[:, 0] ** 2 + d[:, 1] ** 2
            b = p[:, 0] * d[:, 0] + p[:, 1] * d[:, 1]
            c = p[:, 0] ** 2 + p[:, 1] ** 2 - position * position
            disc = b * b - a * c
            root = np.sqrt(np.maximum(disc, 0.0))
            near, far = (-b - root) / a, (-b + root) / a
            on_cylinder = np.where(near > eps, near, far)
            on_cylinder = np.where((disc >= 0) & (a > 0), on_cylinder, np.inf)
            # Disks z = zeta.
            on_disk = (position - p[:, 2]) / d[:, 2]
            ahead = np.where(barrel, on_cylinder, on_disk)
            ahead = np.where(np.isfinite(ahead) & (ahead > eps), ahead, np.inf)
            finite = np.where(np.isfinite(ahead), ahead, 0.0)
            point = p + finite[:, None] * d
        along = np.where(barrel, point[:, 2], np.hypot(point[:, 0], point[:, 1]))
        ok = (along >= self.low[col] - margin_mm) & (along <= self.high[col] + margin_mm)
        t[row, col] = np.where(ok, ahead, np.inf)
        return t

    def index_of(self, keys: np.ndarray) -> np.ndarray:
        """Row of each layer key in these surfaces, ``-1`` where unknown."""
        keys = np.asarray(keys, dtype=np.int64)
        if self.n_layers == 0:
            return np.full(keys.shape, -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.keys, keys), 0, self.n_layers - 1)
        return np.where(self.keys[pos] == keys, pos, -1).astype(np.int64)


@dataclass(frozen=True)
class Envelope:
    """The region of the hits: ``r <= r_max`` and ``|z| <= z_max`` (mm), plus a margin."""

    r_max: float
    z_max: float
    margin_mm: float = 0.0

    @classmethod
    def from_positions(cls, positions: np.ndarray, margin_mm: float = 0.0) -> Envelope:
        positions = np.asarray(positions, dtype=np.float64)
        if len(positions) == 0:
            return cls(0.0, 0.0, margin_mm)
        r = np.hypot(positions[:, 0], positions[:, 1])
        return cls(float(r.max()), float(np.abs(positions[:, 2]).max()), float(margin_mm))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Bool ``(n,)``: the points lie inside the envelope plus margin (NaN: outside)."""
        points = np.asarray(points, dtype=np.float64)
        r = np.hypot(points[:, 0], points[:, 1])
        with np.errstate(invalid="ignore"):
            inside: np.ndarray = (r <= self.r_max + self.margin_mm) & (
                np.abs(points[:, 2]) <= self.z_max + self.margin_mm
            )
        return inside
