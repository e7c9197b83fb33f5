"""Helix kernels for a uniform solenoid field along +z: pure functions on arrays.

A track at a point is ``(x, y, z)`` (mm), the momentum azimuth ``phi``, ``cot_theta =
pz / pT`` and the signed curvature ``rho`` (rad per mm of transverse path); the free
parameter is the transverse path length ``L`` (mm). Written with ``np.sinc`` so that very
stiff tracks stay exact; the cylinder crossing needs ``rho != 0``.

See ``docs/simulation.md`` (Propagation).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "K_GEV_PER_T_MM",
    "PION_MASS_GEV",
    "cylinder_path_lengths",
    "helix_advance",
    "helix_direction",
    "highland_theta0",
    "plane_path_lengths",
    "radius_of_curvature",
    "scatter_direction",
    "signed_curvature",
]

#: pT [GeV] = K * B [T] * R [mm] for a unit charge.
K_GEV_PER_T_MM = 0.299792458e-3
#: Mass used for the velocity in the multiple-scattering formula.
PION_MASS_GEV = 0.13957039
#: Transverse path lengths below this (mm) count as "here", not as a crossing ahead.
_EPS_MM = 1e-6


def signed_curvature(pt: np.ndarray, q: np.ndarray, field_tesla: float) -> np.ndarray:
    """Signed curvature ``rho = -q K B / pT`` in rad/mm (positive: counter-clockwise)."""
    return (
        -np.asarray(q, dtype=np.float64)
        * K_GEV_PER_T_MM
        * field_tesla
        / np.asarray(pt, dtype=np.float64)
    )


def radius_of_curvature(
    pt: np.ndarray, field_tesla: float, q: np.ndarray | float = 1.0
) -> np.ndarray:
    """Transverse radius of curvature ``R = pT / (|q| K B)`` in mm."""
    return np.asarray(pt, dtype=np.float64) / (np.abs(q) * K_GEV_PER_T_MM * field_tesla)


def helix_advance(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    phi: np.ndarray,
    cot_theta: np.ndarray,
    rho: np.ndarray,
    length: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Position and momentum azimuth after a transverse path ``length`` (broadcasting).

    Returns ``(x, y, z, phi)``; ``phi`` is not wrapped.
    """
    half = 0.5 * rho * length
    chord = length * np.sinc(half / np.pi)  # 2 sin(rho L / 2) / rho, exact at rho = 0
    psi = phi + half
    return (
        x + chord * np.cos(psi),
        y + chord * np.sin(psi),
        z + length * cot_theta,
        phi + 2.0 * half,
    )


def helix_direction(phi: np.ndarray, cot_theta: np.ndarray) -> np.ndarray:
    """Unit direction vectors ``(..., 3)`` of momenta with azimuth ``phi`` and ``cot_theta``."""
    sin_theta = 1.0 / np.sqrt(1.0 + cot_theta * cot_theta)
    return np.stack(
        [np.cos(phi) * sin_theta, np.sin(phi) * sin_theta, cot_theta * sin_theta], axis=-1
    )


def cylinder_path_lengths(
    x: np.ndarray, y: np.ndarray, phi: np.ndarray, rho: np.ndarray, radii: np.ndarray
) -> np.ndarray:
    """Transverse path length ``(N, M)`` to the next crossing of each cylinder ``r = radii[m]``.

    The helix projects to a circle of centre ``c`` and radius ``R = 1/|rho|``; a point at
    angle ``beta`` from the direction of ``c`` (seen from ``c``) has
    ``r^2 = d^2 + R^2 + 2 d R cos(beta)``, ``d = |c|``. Both roots ``beta`` are turned into
    path lengths along the direction of motion; the smaller one beyond the current point
    (a root at the current point itself counts as one full turn ahead) is returned,
    ``inf`` where the circle never reaches the cylinder.
    """
    x, y, phi, rho = (np.asarray(a, dtype=np.float64)[:, None] for a in (x, y, phi, rho))
    radii = np.asarray(radii, dtype=np.float64)[None, :]
    inv = 1.0 / rho
    cx = x - np.sin(phi) * inv
    cy = y + np.cos(phi) * inv
    big_r = np.abs(inv)
    d = np.hypot(cx, cy)
    alpha0 = np.arctan2(y - cy, x - cx)
    beta0 = alpha0 - np.arctan2(cy, cx)
    r0_sq = x * x + y * y
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.cos(beta0) + (radii * radii - r0_sq) / (2.0 * big_r * d)
    valid = np.abs(kappa) <= 1.0
    half_angle = np.arccos(np.clip(kappa, -1.0, 1.0))
    sign = np.sign(rho)
    two_pi = 2.0 * np.pi
    best = np.full(np.broadcast_shapes(x.shape, radii.shape), np.inf)
    for root in (half_angle, -half_angle):
        turn = np.mod(sign * (root - beta0), two_pi)
        length = turn * big_r
        length = np.where(length < _EPS_MM, length + two_pi * big_r, length)
        best = np.minimum(best, length)
    return np.where(valid, best, np.inf)


def plane_path_lengths(z: np.ndarray, cot_theta: np.ndarray, planes_z: np.ndarray) -> np.ndarray:
    """Transverse path length ``(N, P)`` to the planes ``z = planes_z[p]``; ``inf`` if behind."""
    z = np.asarray(z, dtype=np.float64)[:, None]
    cot = np.asarray(cot_theta, dtype=np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        length = (np.asarray(planes_z, dtype=np.float64)[None, :] - z) / cot
    return np.where(length > _EPS_MM, length, np.inf)


def highland_theta0(
    p: np.ndarray, x_over_x0: np.ndarray, mass: float = PION_MASS_GEV
) -> np.ndarray:
    """Highland width (rad) of the projected multiple-scattering angle, unit charge.

    ``theta0 = 13.6 MeV / (beta c p) * sqrt(x/X0) * (1 + 0.038 ln(x/X0 / beta^2))``;
    0 where there is no material.
    """
    p = np.asarray(p, dtype=np.float64)
    x = np.asarray(x_over_x0, dtype=np.float64)
    beta = p / np.sqrt(p * p + mass * mass)
    safe = np.where(x > 0, x, 1.0)
    theta0 = 0.0136 / (beta * p) * np.sqrt(safe) * (1.0 + 0.038 * np.log(safe / (beta * beta)))
    return np.where(x > 0, np.maximum(theta0, 0.0), 0.0)


def scatter_direction(
    phi: np.ndarray, cot_theta: np.ndarray, angle_1: np.ndarray, angle_2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn directions by two small perpendicular angles.

    ``angle_1`` turns in the transverse plane, ``angle_2`` towards the beam axis. Returns
    the new ``(phi, cot_theta, sin_theta_ratio)`` where ``sin_theta_ratio`` is the new
    over the old ``sin(theta)`` (the new pT is ``pT * sin_theta_ratio``: |p| is kept).
    """
    sin_theta = 1.0 / np.sqrt(1.0 + cot_theta * cot_theta)
    cos_theta = cot_theta * sin_theta
    cos_phi, sin_phi = np.cos(phi), np.sin(phi)
    tx = cos_phi * sin_theta - angle_1 * sin_phi + angle_2 * cos_phi * cos_theta
    ty = sin_phi * sin_theta + angle_1 * cos_phi + angle_2 * sin_phi * cos_theta
    tz = cos_theta - angle_2 * sin_theta
    norm = np.sqrt(tx * tx + ty * ty + tz * tz)
    t_perp = np.hypot(tx, ty)
    return np.arctan2(ty, tx), tz / t_perp, (t_perp / norm) / sin_theta
