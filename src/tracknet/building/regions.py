"""Search regions of the extension loop: :class:`Spheres`, and the layer regions a wide
t1 sphere becomes (:func:`layer_regions`).

See docs/extension.md (Layer regions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .geometry import LayerSurfaces

__all__ = ["Spheres", "layer_regions"]


class Spheres(NamedTuple):
    """Search spheres (mm) for the next hit (t1) and the hit after next (t2), one row per
    candidate. A candidate without a prediction has NaN centres."""

    t1_center: np.ndarray  # (N, 3) float64
    t1_radius: np.ndarray  # (N,) float64
    t2_center: np.ndarray
    t2_radius: np.ndarray
    #: A second region for the next hit, on another layer (NaN centre where none); the
    #: next hit may lie in either t1 region, at no miss. ``None``: no candidate has one.
    t1b_center: np.ndarray | None = None
    t1b_radius: np.ndarray | None = None

    def _map(self, f: Callable[[np.ndarray], np.ndarray]) -> Spheres:
        a, b = self.t1b_center, self.t1b_radius
        return Spheres(
            f(self.t1_center),
            f(self.t1_radius),
            f(self.t2_center),
            f(self.t2_radius),
            None if a is None else f(a),
            None if b is None else f(b),
        )

    def take(self, index: np.ndarray) -> Spheres:
        return self._map(lambda a: a[index])

    def copy(self) -> Spheres:
        return self._map(np.copy)

    @classmethod
    def concatenate(cls, parts: list[Spheres]) -> Spheres:
        if any(p.t1b_center is not None for p in parts):
            parts = [p.with_alternatives() for p in parts]

        def joined(field: str) -> np.ndarray:
            return np.concatenate([getattr(p, field) for p in parts])

        alternatives = parts[0].t1b_center is not None
        return cls(
            joined("t1_center"),
            joined("t1_radius"),
            joined("t2_center"),
            joined("t2_radius"),
            joined("t1b_center") if alternatives else None,
            joined("t1b_radius") if alternatives else None,
        )

    def with_alternatives(self) -> Spheres:
        """These spheres with ``t1b`` arrays (all NaN where there were none)."""
        if self.t1b_center is not None:
            return self
        n = len(self.t1_radius)
        return self._replace(t1b_center=np.full((n, 3), np.nan), t1b_radius=np.full(n, np.nan))


def layer_regions(
    spheres: Spheres,
    surfaces: LayerSurfaces,
    last: np.ndarray,
    last_layer: np.ndarray,
    *,
    layer_radius_mm: float,
    margin_mm: float,
) -> Spheres:
    """Search regions on the layers (see docs/extension.md, Layer regions).

    Where the t1 sphere is wider than ``layer_radius_mm``: the crossings of the line from
    the last hit through the t1 centre with the layer surfaces inside the sphere, the
    nearest two as the t1 and t1b regions, of radius ``layer_radius_mm`` plus the layer's
    staggering along the line. Where the t2 sphere is wider: the first such crossing of
    its own line beyond the t1 region's centre. ``last`` ``(N, 3)`` mm and ``last_layer`` ``(N,)``
    (layer key, never a region) are each candidate's last hit; radii in mm, uncapped.
    """
    spheres = spheres.with_alternatives().copy()
    last = np.asarray(last, dtype=np.float64)
    last_layer = np.asarray(last_layer, dtype=np.int64)
    wide, start, unit, t = _crossings(
        surfaces, spheres.t1_center, spheres.t1_radius, last, last_layer, layer_radius_mm,
        margin_mm, None,
    )  # fmt: skip
    on_layer = np.zeros(len(spheres.t1_radius), dtype=bool)
    if len(wide):
        on_layer[wide[np.isfinite(t).any(axis=1)]] = True
        if t.shape[1] >= 2:
            cols = np.argpartition(t, 1, axis=1)[:, :2]
        else:
            cols = np.zeros((len(t), 2), dtype=np.int64)
        two = np.take_along_axis(t, cols, axis=1)
        if t.shape[1] < 2:
            two[:, 1] = np.inf
        swap = two[:, 1] < two[:, 0]
        cols[swap] = cols[swap][:, ::-1]
        two[swap] = two[swap][:, ::-1]
        for column, prefix in enumerate(("t1", "t1b")):
            _place(
                spheres, prefix, surfaces, wide, start, unit, two[:, column], cols[:, column],
                layer_radius_mm,
            )  # fmt: skip
    # t2 beyond the t1 region, where t1 moved onto a layer (a tight t1 sphere keeps the
    # model's t2 as well).
    wide, start, unit, t = _crossings(
        surfaces, spheres.t2_center, spheres.t2_radius, last, last_layer, layer_radius_mm,
        margin_mm, on_layer,
    )  # fmt: skip
    if len(wide):
        beyond = _norm(spheres.t1_center[wide] - start)
        t = np.where(t > beyond[:, None] + _AHEAD_MM, t, np.inf)
        column = np.argmin(t, axis=1)
        best = t[np.arange(len(t)), column]
        _place(spheres, "t2", surfaces, wide, start, unit, best, column, layer_radius_mm)
    return spheres


#: How far beyond the t1 centre (mm, along the line) a t2 region's layer must lie.
_AHEAD_MM = 1.0


def _crossings(
    surfaces: LayerSurfaces,
    centre: np.ndarray,
    radius: np.ndarray,
    last: np.ndarray,
    last_layer: np.ndarray,
    layer_radius_mm: float,
    margin_mm: float,
    also: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, start, unit, t)``: the candidates whose sphere is wider than
    ``layer_radius_mm`` (and ``also``), their line from the last hit through the centre,
    and the distances along it to the layer crossings inside the sphere (inf elsewhere)."""
    with np.errstate(invalid="ignore"):
        ok = (radius > layer_radius_mm) & np.isfinite(centre).all(axis=1)
    if also is not None:
        ok &= also
    rows = np.flatnonzero(ok)
    start = last[rows]
    length = _norm(centre[rows] - start)
    moving = length > 0
    rows, start, length = rows[moving], start[moving], length[moving]
    unit = (centre[rows] - start) / length[:, None] if len(rows) else np.zeros((0, 3))
    if len(rows) == 0 or surfaces.n_layers == 0:
        return rows[:0], start[:0], unit[:0], np.zeros((0, surfaces.n_layers))
    # A crossing inside the sphere lies on a surface that close to its centre.
    here = centre[rows]
    across = np.where(
        surfaces.barrel[None, :], np.hypot(here[:, 0], here[:, 1])[:, None], here[:, 2:3]
    )
    near = np.abs(across - surfaces.position[None, :]) <= radius[rows][:, None]
    t = surfaces.line_crossings(start, unit, last_layer[rows], margin_mm, pairs=near)
    t = np.where(np.abs(t - length[:, None]) <= radius[rows][:, None], t, np.inf)
    return rows, start, unit, t


def _place(
    spheres: Spheres,
    prefix: str,
    surfaces: LayerSurfaces,
    rows: np.ndarray,
    start: np.ndarray,
    unit: np.ndarray,
    t: np.ndarray,
    layer: np.ndarray,
    layer_radius_mm: float,
) -> None:
    """In place: the ``prefix`` region of ``rows`` where ``t`` is finite, on ``layer``."""
    ok = np.isfinite(t)
    point = start[ok] + t[ok, None] * unit[ok]
    getattr(spheres, f"{prefix}_center")[rows[ok]] = point
    getattr(spheres, f"{prefix}_radius")[rows[ok]] = layer_radius_mm + _staggering(
        surfaces, point, unit[ok], layer[ok]
    )


def _norm(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.sqrt(np.einsum("ij,ij->i", v, v))
    return out


def _staggering(
    surfaces: LayerSurfaces, point: np.ndarray, unit: np.ndarray, layer: np.ndarray
) -> np.ndarray:
    """How far along the line a hit of ``layer`` may lie from its idealised surface:
    the surface's spread over the cosine of the line's angle to its normal (at most
    three times the spread)."""
    barrel = surfaces.barrel[layer]
    rxy = np.maximum(np.hypot(point[:, 0], point[:, 1]), 1e-9)
    radial = np.abs(unit[:, 0] * point[:, 0] + unit[:, 1] * point[:, 1]) / rxy
    cos = np.where(barrel, radial, np.abs(unit[:, 2]))
    extra: np.ndarray = surfaces.spread[layer] * np.minimum(1.0 / np.maximum(cos, 1e-9), 3.0)
    return extra
