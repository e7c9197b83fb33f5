"""The classical baseline: a helix track follower with fixed search windows.

It plugs into the same extension loop as StepAhead TrackNET
(:func:`tracknet.building.builder.extend_seeds`: same seeds, branching, beam, holes and
selection), so comparing the two measures the learned search regions alone.

Prediction
    A candidate's trajectory is a helix through its last hits: in the transverse plane
    the circle through the last three hits (for a two-hit seed: through the beam line,
    the origin, and both hits; for one hit: the straight line from the origin), along
    the beam a straight line in ``(s, z)`` through the last two hits, ``s`` being the
    transverse arc length. The helix is intersected with the detector surfaces read off
    the event's hits (:class:`~tracknet.building.geometry.LayerSurfaces`: cylinders
    ``r = R`` and disks ``z = Z``, each within its extent plus ``surface_margin_mm``),
    excluding the layer of the last hit. The first crossing ahead (smallest positive
    ``s``) is the t1 centre, the next one the t2 centre; the radii are the fixed windows
    ``window_mm`` and ``t2_window_mm``. Without a crossing ahead the centre is NaN: the
    candidate has left the detector.
Holes
    The skipped step is not fed to the helix: it is fitted to real hits only.

Everything is vectorised over candidates and surfaces (an ``(N, L)`` array of arc
lengths per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .builder import Spheres
from .geometry import LayerSurfaces

__all__ = ["HelixState", "HelixExtender", "helix_frame", "helix_crossings"]

_STRAIGHT_CURVATURE = 1e-7  # 1/mm: below this a track is a straight line (R > 10 km)


@dataclass(frozen=True, eq=False)
class HelixState:
    """The last (up to three) real hits of each candidate, oldest first: ``points``
    ``(N, 3, 3)`` mm, valid from row ``3 - n_points``; ``layer`` the layer key of the
    last hit."""

    points: np.ndarray
    n_points: np.ndarray
    layer: np.ndarray


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def helix_frame(state: HelixState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(position, tangent, curvature, tan_lambda)`` at the last hit of every candidate.

    ``position`` ``(N, 3)`` mm; ``tangent`` ``(N, 2)`` unit transverse direction of motion;
    ``curvature`` ``(N,)`` signed (1/mm, > 0 turning counter-clockwise); ``tan_lambda``
    ``(N,)`` = dz/ds along the transverse arc length.
    """
    pts = state.points
    n = len(pts)
    c = pts[:, 2]
    b = np.where((state.n_points >= 2)[:, None], pts[:, 1], 0.0)  # origin (z = 0) for 1-hit seeds
    a = np.where((state.n_points >= 3)[:, None], pts[:, 0], 0.0)  # the beam line for 2-hit seeds
    a2, b2, c2 = a[:, :2], b[:, :2], c[:, :2]
    ab = np.linalg.norm(b2 - a2, axis=1)
    bc = np.linalg.norm(c2 - b2, axis=1)
    ca = np.linalg.norm(a2 - c2, axis=1)
    denom = ab * bc * ca
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(denom > 0, 2.0 * _cross(b2 - a2, c2 - b2) / np.where(denom > 0, denom, 1.0), 0.0)
    kappa = np.where(state.n_points >= 2, kappa, 0.0)
    chord = c2 - b2
    unit = chord / np.where(bc > 0, bc, 1.0)[:, None]
    half_turn = np.arcsin(np.clip(kappa * bc / 2.0, -1.0, 1.0))
    cos_t, sin_t = np.cos(half_turn), np.sin(half_turn)
    tangent = np.column_stack(
        [unit[:, 0] * cos_t - unit[:, 1] * sin_t, unit[:, 0] * sin_t + unit[:, 1] * cos_t]
    )
    # Arc length b -> c: chord * angle / sin(angle), stable at small angles.
    arc = bc / np.where(np.abs(half_turn) > 1e-12, np.sinc(half_turn / np.pi), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tan_lambda = np.where(arc > 0, (c[:, 2] - b[:, 2]) / np.where(arc > 0, arc, 1.0), 0.0)
    if n and not np.all(bc > 0):
        # Coincident points (should not happen with distinct hits): head radially outwards.
        radial = c2 / np.maximum(np.linalg.norm(c2, axis=1), 1e-12)[:, None]
        tangent = np.where((bc > 0)[:, None], tangent, radial)
    return c, tangent, kappa, tan_lambda


def _point_at(
    c: np.ndarray, tangent: np.ndarray, kappa: np.ndarray, s: np.ndarray
) -> np.ndarray:
    """Transverse position ``(..., 2)`` after arc length ``s`` (broadcast ``(N, L)``)."""
    x = kappa * s
    along = s * np.sinc(x / np.pi)  # sin(k s) / k
    across = s * np.sin(x / 2.0) * np.sinc(x / (2.0 * np.pi))  # (1 - cos(k s)) / k
    normal = np.stack([-tangent[..., 1], tangent[..., 0]], axis=-1)
    return c[..., :2] + along[..., None] * tangent + across[..., None] * normal


def helix_crossings(
    state: HelixState, surfaces: LayerSurfaces, margin_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Arc length ``s`` ``(N, L)`` (inf where none) and points ``(N, L, 3)`` where each
    candidate's helix next crosses each surface ahead (the last hit's layer excluded)."""
    c, tangent, kappa, tan_lambda = helix_frame(state)
    n, n_layers = len(c), surfaces.n_layers
    s = np.full((n, n_layers), np.inf)
    if n == 0 or n_layers == 0:
        return s, np.zeros((n, n_layers, 3))
    eps = 1e-6
    barrel = surfaces.barrel
    rho = surfaces.position[None, :]

    # ---- cylinders r = rho
    straight = (np.abs(kappa) < _STRAIGHT_CURVATURE)[:, None]
    ct = np.einsum("ij,ij->i", c[:, :2], tangent)[:, None]
    cc = np.einsum("ij,ij->i", c[:, :2], c[:, :2])[:, None]
    disc = ct * ct - cc + rho * rho
    root = np.sqrt(np.maximum(disc, 0.0))
    s_line = np.where(-ct - root > eps, -ct - root, -ct + root)
    s_line = np.where((disc >= 0) & (s_line > eps), s_line, np.inf)

    safe_k = np.where(straight[:, 0], 1.0, kappa)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    centre = c[:, :2] + normal / safe_k[:, None]
    radius = 1.0 / np.abs(safe_k)
    d = np.linalg.norm(centre, axis=1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        along_c = (rho * rho - radius[:, None] ** 2 + d * d) / (2.0 * d)
        h2 = rho * rho - along_c * along_c
        h = np.sqrt(np.maximum(h2, 0.0))
        ux, uy = centre[:, 0:1] / d, centre[:, 1:2] / d
    v0 = c[:, :2] - centre  # (N, 2)
    s_circle = np.full((n, n_layers), np.inf)
    for sign in (1.0, -1.0):
        qx = along_c * ux - sign * h * uy
        qy = along_c * uy + sign * h * ux
        v1x, v1y = qx - centre[:, 0:1], qy - centre[:, 1:2]
        angle = np.arctan2(v0[:, 0:1] * v1y - v0[:, 1:2] * v1x, v0[:, 0:1] * v1x + v0[:, 1:2] * v1y)
        turn = np.mod(np.where(kappa[:, None] > 0, angle, -angle), 2.0 * np.pi)
        arc = turn * radius[:, None]
        arc = np.where((h2 >= 0) & (arc > eps), arc, np.inf)
        s_circle = np.minimum(s_circle, arc)
    s_cyl = np.where(straight, s_line, s_circle)
    z_cyl = c[:, 2:3] + tan_lambda[:, None] * s_cyl
    ok_cyl = (
        np.isfinite(s_cyl)
        & (z_cyl >= surfaces.low[None, :] - margin_mm)
        & (z_cyl <= surfaces.high[None, :] + margin_mm)
    )

    # ---- disks z = zeta
    with np.errstate(divide="ignore", invalid="ignore"):
        s_disk = (surfaces.position[None, :] - c[:, 2:3]) / tan_lambda[:, None]
    s_disk = np.where(np.isfinite(s_disk) & (s_disk > eps), s_disk, np.inf)
    # Disks are only reached within half a turn (a longer way means a looper).
    half_turn = np.where(straight[:, 0], np.inf, np.pi / np.abs(safe_k))[:, None]
    s_disk = np.where(s_disk <= half_turn, s_disk, np.inf)

    s = np.where(barrel[None, :], np.where(ok_cyl, s_cyl, np.inf), s_disk)
    finite_s = np.where(np.isfinite(s), s, 0.0)
    kk = np.broadcast_to(kappa[:, None], s.shape)
    xy = _point_at(
        np.broadcast_to(c[:, None, :], (n, n_layers, 3)),
        np.broadcast_to(tangent[:, None, :], (n, n_layers, 2)),
        kk,
        finite_s,
    )
    z = np.where(barrel[None, :], z_cyl, surfaces.position[None, :])
    points = np.concatenate([xy, np.where(np.isfinite(s), z, 0.0)[..., None]], axis=-1)
    # Disks: the crossing must lie within the disk's radial extent.
    r_disk = np.hypot(xy[..., 0], xy[..., 1])
    ok_disk = (r_disk >= surfaces.low[None, :] - margin_mm) & (r_disk <= surfaces.high[None, :] + margin_mm)
    s = np.where(barrel[None, :] | ok_disk, s, np.inf)
    # Never the layer of the last hit.
    s = np.where(surfaces.keys[None, :] == state.layer[:, None], np.inf, s)
    return s, points


class HelixExtender:
    """The baseline as an :class:`~tracknet.building.builder.Extender`."""

    def __init__(
        self,
        surfaces: LayerSurfaces,
        *,
        window_mm: float = 10.0,
        t2_window_mm: float = 20.0,
        surface_margin_mm: float = 10.0,
    ) -> None:
        for name, value in (
            ("window_mm", window_mm),
            ("t2_window_mm", t2_window_mm),
            ("surface_margin_mm", surface_margin_mm),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value >= 0
            ):
                raise ConfigError(f"baseline {name} must be a finite number >= 0, got {value!r}")
        self.surfaces = surfaces
        self.window_mm = float(window_mm)
        self.t2_window_mm = float(t2_window_mm)
        self.surface_margin_mm = float(surface_margin_mm)

    def _spheres(self, state: HelixState) -> Spheres:
        s, points = helix_crossings(state, self.surfaces, self.surface_margin_mm)
        n = len(s)
        nan = np.full((n, 3), np.nan)
        if s.shape[1] == 0:
            return Spheres(nan, np.full(n, self.window_mm), nan.copy(), np.full(n, self.t2_window_mm))
        k = min(2, s.shape[1])
        nearest = np.argsort(s, axis=1, kind="stable")[:, :k]
        rows = np.arange(n)
        s1 = s[rows, nearest[:, 0]]
        t1 = np.where(np.isfinite(s1)[:, None], points[rows, nearest[:, 0]], np.nan)
        if k > 1:
            s2 = s[rows, nearest[:, 1]]
            t2 = np.where(np.isfinite(s2)[:, None], points[rows, nearest[:, 1]], np.nan)
        else:
            t2 = nan
        return Spheres(t1, np.full(n, self.window_mm), t2, np.full(n, self.t2_window_mm))

    def start(self, seed_positions: np.ndarray, seed_layers: np.ndarray) -> tuple[HelixState, Spheres]:
        n, m = seed_positions.shape[:2]
        points = np.zeros((n, 3, 3))
        take = min(m, 3)
        points[:, 3 - take :] = seed_positions[:, m - take :]
        layer = seed_layers[:, -1] if m else np.zeros(n, np.int64)
        state = HelixState(points, np.full(n, take, dtype=np.int64), np.asarray(layer, dtype=np.int64))
        return state, self._spheres(state)

    def advance(
        self,
        state: HelixState,
        parents: np.ndarray,
        hit_positions: np.ndarray,
        hit_layers: np.ndarray,
        hole_positions: np.ndarray,
        has_hole: np.ndarray,
    ) -> tuple[HelixState, Spheres]:
        points = np.empty((len(parents), 3, 3))
        points[:, :2] = state.points[parents, 1:]
        points[:, 2] = hit_positions
        new = HelixState(
            points,
            np.minimum(state.n_points[parents] + 1, 3),
            np.asarray(hit_layers, dtype=np.int64),
        )
        return new, self._spheres(new)
