"""The classical baseline: a helix track follower with fixed search windows.

:class:`HelixExtender` plugs into the same extension loop as StepAhead TrackNET (same
seeds, branching, beam, holes and selection), so comparing the two measures the learned
search regions alone. It intersects the helix through a candidate's last hits with the
layer surfaces read off the event, vectorised over candidates and surfaces.

See docs/extension.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .builder import Spheres
from .geometry import LayerSurfaces

__all__ = ["HelixExtender", "HelixState", "helix_crossings", "helix_frame", "helix_points"]

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
    cross: np.ndarray = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return cross


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
        kappa = np.where(
            denom > 0, 2.0 * _cross(b2 - a2, c2 - b2) / np.where(denom > 0, denom, 1.0), 0.0
        )
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


def _sin_over(x: np.ndarray) -> np.ndarray:
    """``sin(x) / x`` (1 at 0), without numpy's slower ``sinc``."""
    small = np.abs(x) < 1e-8
    return np.where(small, 1.0, np.sin(x) / np.where(small, 1.0, x))


def helix_points(
    c: np.ndarray, tangent: np.ndarray, kappa: np.ndarray, tan_lambda: np.ndarray, s: np.ndarray
) -> np.ndarray:
    """Points ``(N, 3)`` after transverse arc length ``s`` ``(N,)`` along each helix
    (``c``, ``tangent``, ``kappa``, ``tan_lambda`` as from :func:`helix_frame`)."""
    x = kappa * s
    along = s * _sin_over(x)  # sin(k s) / k
    across = s * np.sin(x / 2.0) * _sin_over(x / 2.0)  # (1 - cos(k s)) / k
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    xy = c[:, :2] + along[:, None] * tangent + across[:, None] * normal
    return np.column_stack([xy, c[:, 2] + tan_lambda * s])


def helix_crossings(
    state: HelixState,
    surfaces: LayerSurfaces,
    margin_mm: float,
    frame: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Transverse arc length ``s`` ``(N, L)`` (mm, inf where none) to the next crossing of
    each candidate's helix with each surface ahead, within the surface's extent plus
    ``margin_mm``; the last hit's layer is excluded. Disks count within half a turn.
    ``frame`` is :func:`helix_frame` of ``state`` when already computed."""
    c, tangent, kappa, tan_lambda = frame if frame is not None else helix_frame(state)
    n, n_layers = len(c), surfaces.n_layers
    s = np.full((n, n_layers), np.inf)
    if n == 0 or n_layers == 0:
        return s
    eps = 1e-6
    straight = np.abs(kappa) < _STRAIGHT_CURVATURE
    safe_k = np.where(straight, 1.0, kappa)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    centre = c[:, :2] + normal / safe_k[:, None]  # circle centre (unused when straight)
    radius = 1.0 / np.abs(safe_k)
    d = np.linalg.norm(centre, axis=1)
    ct = np.einsum("ij,ij->i", c[:, :2], tangent)
    cc = np.einsum("ij,ij->i", c[:, :2], c[:, :2])

    # Each part is evaluated only where a crossing can exist (flat index lists), so the
    # costly angles are computed for few (candidate, surface) pairs.
    # ---- cylinders r = rho: the circle meets the cylinder where |q| = rho.
    cyl = np.flatnonzero(surfaces.barrel)
    if len(cyl):
        rho_all = surfaces.position[cyl]
        s_cyl = np.full((n, len(cyl)), np.inf)
        line_rows = np.flatnonzero(straight)
        if len(line_rows):
            rho = rho_all[None, :]
            ct_l = ct[line_rows, None]
            disc = ct_l**2 - cc[line_rows, None] + rho * rho
            root = np.sqrt(np.maximum(disc, 0.0))
            s_line = np.where(-ct_l - root > eps, -ct_l - root, -ct_l + root)
            s_cyl[line_rows] = np.where((disc >= 0) & (s_line > eps), s_line, np.inf)
        circle_rows = np.flatnonzero(~straight)
        if len(circle_rows):
            dd = d[circle_rows, None]
            rad = radius[circle_rows, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                along_all = (rho_all[None, :] ** 2 - rad**2 + dd * dd) / (2.0 * dd)
                h2_all = rho_all[None, :] ** 2 - along_all * along_all
            local, col = np.nonzero(h2_all >= 0)
            row = circle_rows[local]
            along_c, h2 = along_all[local, col], h2_all[local, col]
            h = np.sqrt(h2)
            dist = d[row]
            ux, uy = centre[row, 0] / dist, centre[row, 1] / dist
            v0x, v0y = c[row, 0] - centre[row, 0], c[row, 1] - centre[row, 1]
            best = np.full(len(row), np.inf)
            for sign in (1.0, -1.0):
                v1x = along_c * ux - sign * h * uy - centre[row, 0]
                v1y = along_c * uy + sign * h * ux - centre[row, 1]
                angle = np.arctan2(v0x * v1y - v0y * v1x, v0x * v1x + v0y * v1y)
                turn = np.mod(np.where(kappa[row] > 0, angle, -angle), 2.0 * np.pi)
                arc = turn * radius[row]
                best = np.minimum(best, np.where(arc > eps, arc, np.inf))
            s_cyl[row, col] = best
        rows, cols = np.nonzero(np.isfinite(s_cyl))
        z_cyl = c[rows, 2] + tan_lambda[rows] * s_cyl[rows, cols]
        layer = cyl[cols]
        ok = (z_cyl >= surfaces.low[layer] - margin_mm) & (
            z_cyl <= surfaces.high[layer] + margin_mm
        )
        s[rows[ok], layer[ok]] = s_cyl[rows[ok], cols[ok]]

    # ---- disks z = zeta: s from the longitudinal motion, then the radius there.
    dsk = np.flatnonzero(~surfaces.barrel)
    if len(dsk):
        with np.errstate(divide="ignore", invalid="ignore"):
            s_disk = (surfaces.position[dsk][None, :] - c[:, 2:3]) / tan_lambda[:, None]
        half_turn = np.where(straight, np.inf, np.pi * radius)[:, None]
        with np.errstate(invalid="ignore"):
            ahead = np.isfinite(s_disk) & (s_disk > eps) & (s_disk <= half_turn)
        rows, cols = np.nonzero(ahead)
        arc = s_disk[rows, cols]
        # |p(s)|^2 = d^2 + R^2 - 2 d R cos(angle at the centre between origin and p(s)).
        r2_line = cc[rows] + 2.0 * arc * ct[rows] + arc * arc
        to_origin = -centre  # from the circle centre to the beam line
        v0 = c[:, :2] - centre
        cos0 = np.einsum("ij,ij->i", v0, to_origin) / np.maximum(radius * d, 1e-300)
        sin0 = (v0[:, 0] * to_origin[:, 1] - v0[:, 1] * to_origin[:, 0]) / np.maximum(
            radius * d, 1e-300
        )
        turned = np.where(kappa[rows] > 0, 1.0, -1.0) * arc / radius[rows]
        # angle(origin, p(s)) = angle(origin, p0) - turn, signed counter-clockwise.
        cos_now = cos0[rows] * np.cos(turned) + sin0[rows] * np.sin(turned)
        r2_circle = d[rows] ** 2 + radius[rows] ** 2 - 2.0 * d[rows] * radius[rows] * cos_now
        r_disk = np.sqrt(np.maximum(np.where(straight[rows], r2_line, r2_circle), 0.0))
        layer = dsk[cols]
        ok = (r_disk >= surfaces.low[layer] - margin_mm) & (
            r_disk <= surfaces.high[layer] + margin_mm
        )
        s[rows[ok], layer[ok]] = arc[ok]

    # Never the layer of the last hit.
    s[surfaces.keys[None, :] == state.layer[:, None]] = np.inf
    return s


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
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value >= 0)
            ):
                raise ConfigError(f"baseline {name} must be a finite number >= 0, got {value!r}")
        self.surfaces = surfaces
        self.window_mm = float(window_mm)
        self.t2_window_mm = float(t2_window_mm)
        self.surface_margin_mm = float(surface_margin_mm)

    def _spheres(self, state: HelixState) -> Spheres:
        frame = helix_frame(state)
        s = helix_crossings(state, self.surfaces, self.surface_margin_mm, frame)
        n = len(s)
        if s.shape[1] >= 2:
            columns = np.argpartition(s, 1, axis=1)[:, :2]  # the two smallest, in order
        else:
            columns = np.zeros((n, 2), dtype=np.int64)
        c, tangent, kappa, tan_lambda = frame
        centres = []
        for rank in range(2):
            arc = s[np.arange(n), columns[:, rank]] if s.shape[1] > rank else np.full(n, np.inf)
            ok = np.isfinite(arc)
            point = np.full((n, 3), np.nan)
            if ok.any():
                point[ok] = helix_points(c[ok], tangent[ok], kappa[ok], tan_lambda[ok], arc[ok])
            centres.append(point)
        return Spheres(
            centres[0], np.full(n, self.window_mm), centres[1], np.full(n, self.t2_window_mm)
        )

    def start(
        self, seed_positions: np.ndarray, seed_layers: np.ndarray
    ) -> tuple[HelixState, Spheres]:
        n, m = seed_positions.shape[:2]
        points = np.zeros((n, 3, 3))
        take = min(m, 3)
        points[:, 3 - take :] = seed_positions[:, m - take :]
        layer = seed_layers[:, -1] if m else np.zeros(n, np.int64)
        state = HelixState(
            points, np.full(n, take, dtype=np.int64), np.asarray(layer, dtype=np.int64)
        )
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
