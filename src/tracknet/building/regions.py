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
    """Where the t1 sphere is wider than ``layer_radius_mm``: the crossings of the line
    from the last hit through the t1 centre with the layer surfaces inside the sphere,
    the nearest two as the t1 and t1b regions, of radius ``layer_radius_mm`` plus the
    layer's staggering along the line (see docs/extension.md, Layer regions). ``last``
    ``(N, 3)`` mm and ``last_layer`` ``(N,)`` (layer key, never a region) are each
    candidate's last hit; radii are in mm, uncapped; t2 is left as it is."""
    radius = spheres.t1_radius
    centre = spheres.t1_center
    with np.errstate(invalid="ignore"):
        wide = np.flatnonzero((radius > layer_radius_mm) & np.isfinite(centre).all(axis=1))
    spheres = spheres.with_alternatives().copy()
    if len(wide) == 0:
        return spheres
    start = np.asarray(last, dtype=np.float64)[wide]
    step = centre[wide] - start
    length = np.linalg.norm(step, axis=1)
    moving = length > 0
    wide, start, step, length = wide[moving], start[moving], step[moving], length[moving]
    unit = step / length[:, None]
    # A crossing inside the sphere lies on a surface within the radius of its centre.
    inside = centre[wide]
    across = np.where(
        surfaces.barrel[None, :],
        np.hypot(inside[:, 0], inside[:, 1])[:, None],
        inside[:, 2:3],
    )
    near = np.abs(across - surfaces.position[None, :]) <= radius[wide][:, None]
    t = surfaces.line_crossings(start, unit, np.asarray(last_layer)[wide], margin_mm, pairs=near)
    t = np.where(np.abs(t - length[:, None]) <= radius[wide][:, None], t, np.inf)
    if t.shape[1] == 0:
        return spheres
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
    for column, (c_field, r_field) in enumerate(
        (("t1_center", "t1_radius"), ("t1b_center", "t1b_radius"))
    ):
        ok = np.isfinite(two[:, column])
        point = start[ok] + two[ok, column, None] * unit[ok]
        getattr(spheres, c_field)[wide[ok]] = point
        getattr(spheres, r_field)[wide[ok]] = layer_radius_mm + _staggering(
            surfaces, point, unit[ok], cols[ok, column]
        )
    return spheres


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
