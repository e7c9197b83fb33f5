"""Track-fit quality of candidates: how well their hits lie on a helix.

:func:`transverse_fit_rms` fits a circle (or a line) in the transverse plane,
:func:`longitudinal_fit` a straight line in ``(s, z)``; :func:`trim_outliers` removes the
worst-fitting hits of candidates that fail a cut, and :func:`hit_sigmas` gives per-hit
resolutions. Everything is array arithmetic over ``(C, L)`` path matrices (mm).

See docs/selection-and-fits.md.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "BARREL_VOLUMES",
    "TRACKML_LONG_SIGMA_MM",
    "FitQuality",
    "fit_momentum",
    "helix_fit",
    "hit_sigmas",
    "longitudinal_fit",
    "scattering_scale",
    "transverse_fit",
    "transverse_fit_rms",
    "trim_outliers",
]

#: Resolution (mm) of a TrackML hit along its module's long direction, per volume: the
#: pitch along it over sqrt(12) (pixels 0.05625 mm, short strips 1.2 mm, long strips
#: 10.4-10.8 mm; ``geometry/detectors.csv``), with 0.1 mm added in quadrature for
#: multiple scattering and alignment. The long direction is z in the barrel volumes and
#: the radius in the end-cap disks.
TRACKML_LONG_SIGMA_MM: dict[int, float] = {
    7: 0.1,
    8: 0.1,
    9: 0.1,
    12: 0.36,
    13: 0.36,
    14: 0.36,
    16: 3.0,
    17: 3.1,
    18: 3.0,
}
#: Barrel volumes (cylinders: the long direction is z); the others are disks.
BARREL_VOLUMES: frozenset[int] = frozenset({8, 13, 17})
#: Resolution of the precise coordinate (and of any coordinate of an unknown volume).
PRECISE_SIGMA_MM = 0.1
UNKNOWN_SIGMA_MM = 1.0


def hit_sigmas(volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma_z, sigma_r)`` in mm for hits of these TrackML volume ids.

    Barrel hits measure z to :data:`TRACKML_LONG_SIGMA_MM` and r precisely; disk hits
    the other way round; hits of volumes outside the table get
    :data:`UNKNOWN_SIGMA_MM` for both.
    """
    volume = np.asarray(volume, dtype=np.int64)
    long = np.full(len(volume), UNKNOWN_SIGMA_MM)
    known = np.zeros(len(volume), dtype=bool)
    barrel = np.zeros(len(volume), dtype=bool)
    for vol, sigma in TRACKML_LONG_SIGMA_MM.items():
        here = volume == vol
        long[here] = sigma
        known |= here
        if vol in BARREL_VOLUMES:
            barrel |= here
    sigma_z = np.where(known, np.where(barrel, long, PRECISE_SIGMA_MM), UNKNOWN_SIGMA_MM)
    sigma_r = np.where(known, np.where(barrel, PRECISE_SIGMA_MM, long), UNKNOWN_SIGMA_MM)
    return sigma_z, sigma_r


def held_span(valid: np.ndarray) -> tuple[int, int]:
    """``(lo, hi)``: the first and one past the last column of ``valid`` ``(N, W)`` that
    some row holds (``(0, W)`` when none does): fits need compute nothing outside it."""
    held = np.asarray(valid.any(axis=0))
    if not held.any():
        return 0, len(held)
    return int(np.argmax(held)), len(held) - int(np.argmax(held[::-1]))


def _filled(paths: np.ndarray) -> np.ndarray:
    """``paths`` without the trailing columns that no row holds a hit in (a view)."""
    return paths[:, : held_span(paths >= 0)[1]]


def _padded(values: np.ndarray, width: int) -> np.ndarray:
    """``values`` ``(C, l)`` with zero columns appended up to ``width``."""
    if values.shape[1] == width:
        return values
    out = np.zeros((values.shape[0], width), dtype=values.dtype)
    out[:, : values.shape[1]] = values
    return out


def _gather(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, w, n)``: hit rows with padding replaced by row 0, the 0/1 weight of each
    entry, and the number of hits per path."""
    valid = paths >= 0
    w = valid.astype(np.float64)
    return np.where(valid, paths, 0), w, w.sum(axis=1)


def transverse_fit_rms(
    positions: np.ndarray, paths: np.ndarray, sigma_r: np.ndarray | None = None
) -> np.ndarray:
    """Transverse fit residual (mm, per degree of freedom) of each row of ``paths``.

    ``positions``: ``(N, >=2)`` hit positions in mm (``x``, ``y`` first); ``paths``:
    ``(C, L)`` int hit rows, ``-1`` for no hit; ``sigma_r``: see :func:`transverse_fit`.
    Returns float64 ``(C,)``.
    """
    return transverse_fit(positions, paths, sigma_r)[0]


def transverse_fit(
    positions: np.ndarray, paths: np.ndarray, sigma_r: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(rms, residuals)``: :func:`transverse_fit_rms` and the signed distance (mm) of
    every hit from the chosen circle or line, ``(C, L)`` (0 where there is no hit).

    With ``sigma_r`` (per hit row, mm), a hit whose radius is coarse (an end-cap strip)
    may lie off the circle by its radial error projected on the circle's normal; its
    residual is scaled by ``PRECISE / sqrt(PRECISE^2 + max(sigma_r^2 - PRECISE^2, 0) c^2)``
    (``PRECISE`` = :data:`PRECISE_SIGMA_MM`, ``c`` the cosine between the radial
    direction and the normal), so residuals and rms stay in units of a precise hit.
    """
    rms, residuals, _ = _transverse(positions, paths, sigma_r)
    return rms, residuals


def _transverse(
    positions: np.ndarray, paths: np.ndarray, sigma_r: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`transverse_fit` and the radius (mm) of each fitted circle (``inf`` for a
    line or three hits or fewer)."""
    paths = np.asarray(paths)
    if paths.shape[0] == 0:
        empty = np.zeros(0, dtype=np.float64)
        return empty, np.zeros(paths.shape, dtype=np.float64), empty.copy()
    width, paths = paths.shape[1], _filled(paths)
    rows, w, n = _gather(paths)
    safe_n = np.maximum(n, 1.0)
    x = positions[rows, 0] * w
    y = positions[rows, 1] * w
    u = (x - (x.sum(axis=1) / safe_n)[:, None]) * w
    v = (y - (y.sum(axis=1) / safe_n)[:, None]) * w

    suu = (u * u).sum(axis=1)
    svv = (v * v).sum(axis=1)
    suv = (u * v).sum(axis=1)
    dof = np.maximum(n - 3.0, 1.0)

    # Straight line (total least squares): smallest eigenvalue of [[suu, suv], [suv, svv]].
    half_trace = 0.5 * (suu + svv)
    gap = np.sqrt(np.maximum(0.25 * (suu - svv) ** 2 + suv * suv, 0.0))
    line_ss = np.maximum(half_trace - gap, 0.0)
    # The line's normal: eigenvector of the smallest eigenvalue.
    lam = half_trace - gap
    nu, nv = suv, lam - suu
    degenerate = np.hypot(nu, nv) < 1e-12 * np.maximum(half_trace, 1e-300)
    nu = np.where(degenerate, lam - svv, nu)
    nv = np.where(degenerate, suv, nv)
    norm = np.hypot(nu, nv)
    flat = norm == 0  # all hits on one point, or no spread along one axis
    nu = np.where(flat, 0.0, nu / np.where(flat, 1.0, norm))
    nv = np.where(flat, 1.0, nv / np.where(flat, 1.0, norm))
    line_dist = (u * nu[:, None] + v * nv[:, None]) * w

    # Circle (Kasa): minimise sum (z + D u + E v + F)^2 with z = u^2 + v^2. In centred
    # coordinates sum u = sum v = 0, so F = -mean(z) and (D, E) solve a 2x2 system.
    z = (u * u + v * v) * w
    szu = (z * u).sum(axis=1)
    szv = (z * v).sum(axis=1)
    det = suu * svv - suv * suv
    ok = det > 1e-12 * np.maximum(half_trace, 1e-300) ** 2
    safe_det = np.where(ok, det, 1.0)
    d_coef = -(svv * szu - suv * szv) / safe_det
    e_coef = -(suu * szv - suv * szu) / safe_det
    f_coef = -z.sum(axis=1) / safe_n
    cu, cv = -0.5 * d_coef, -0.5 * e_coef
    radius_sq = cu * cu + cv * cv - f_coef
    ok &= radius_sq > 0
    radius = np.sqrt(np.where(ok, radius_sq, 1.0))
    rho = np.sqrt((u - cu[:, None]) ** 2 + (v - cv[:, None]) ** 2)
    # rho - R written as (rho^2 - R^2) / (rho + R): no cancellation for huge radii.
    dist = ((rho * rho - radius[:, None] ** 2) / (rho + radius[:, None])) * w
    circle_ss = np.where(ok, (dist * dist).sum(axis=1), np.inf)

    use_circle = circle_ss <= line_ss
    residuals = np.where(use_circle[:, None], dist, line_dist)
    if sigma_r is None:
        rms = np.sqrt(np.where(use_circle, circle_ss, line_ss) / dof)
    else:
        # Normal at each hit: from the centre (circle) or the line's normal, then its
        # cosine with the radial direction of the hit (about the beam line).
        safe_rho = np.where(rho > 0, rho, 1.0)
        cn_u = np.where(use_circle[:, None], (u - cu[:, None]) / safe_rho, nu[:, None])
        cn_v = np.where(use_circle[:, None], (v - cv[:, None]) / safe_rho, nv[:, None])
        px, py = positions[rows, 0], positions[rows, 1]
        radius_xy = np.hypot(px, py)
        cosine = np.abs(px * cn_u + py * cn_v) / np.where(radius_xy > 0, radius_xy, 1.0)
        excess = np.maximum(np.asarray(sigma_r)[rows] ** 2 - PRECISE_SIGMA_MM**2, 0.0)
        residuals = (
            residuals * (PRECISE_SIGMA_MM / np.sqrt(PRECISE_SIGMA_MM**2 + excess * cosine**2)) * w
        )
        rms = np.sqrt((residuals * residuals).sum(axis=1) / dof)
    exact = n <= 3
    rms[exact] = 0.0
    residuals[exact] = 0.0
    circle_radius = np.where(use_circle & ~exact, radius, np.inf)
    return rms, _padded(residuals, width), circle_radius


def longitudinal_fit(
    positions: np.ndarray, paths: np.ndarray, sigma_z: np.ndarray, sigma_r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(chi2_per_dof, pulls)`` of the straight line ``z = z0 + t * s`` of each candidate.

    ``s`` is the transverse path length along the candidate (the summed transverse
    distances between consecutive hits, in path order): a helix is a straight line in
    ``(s, z)``. Hit ``i`` has the uncertainty ``sqrt(sigma_z_i^2 + (t * sigma_r_i)^2)``
    (a radial error moves ``s``), with the slope ``t`` of a first unweighted fit. The
    pulls ``(z - fit) / sigma`` are ``(C, L)``, 0 where there is no hit; candidates of two
    hits or fewer fit exactly (chi2 0). ``sigma_z`` and ``sigma_r`` are per hit row.
    """
    chi2, pulls, _ = _longitudinal(positions, paths, sigma_z, sigma_r)
    return chi2, pulls


def _longitudinal(
    positions: np.ndarray, paths: np.ndarray, sigma_z: np.ndarray, sigma_r: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`longitudinal_fit` and the fitted slope ``dz/ds`` of each candidate."""
    paths = np.asarray(paths)
    n_cand = paths.shape[0]
    if n_cand == 0:
        empty = np.zeros(0, dtype=np.float64)
        return empty, np.zeros(paths.shape, dtype=np.float64), empty.copy()
    width, paths = paths.shape[1], _filled(paths)
    rows, w, n = _gather(paths)
    x, y, z = (positions[rows, k] for k in range(3))
    step = np.hypot(np.diff(x, axis=1), np.diff(y, axis=1)) * w[:, 1:]
    s = np.concatenate([np.zeros((n_cand, 1)), np.cumsum(step, axis=1)], axis=1)

    def line(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sw = weights.sum(axis=1)
        ss = (weights * s).sum(axis=1)
        sz = (weights * z).sum(axis=1)
        sss = (weights * s * s).sum(axis=1)
        ssz = (weights * s * z).sum(axis=1)
        det = sw * sss - ss * ss
        ok = det > 1e-12 * np.maximum(sw * sss, 1e-300)
        det = np.where(ok, det, 1.0)
        slope = np.where(ok, (sw * ssz - ss * sz) / det, 0.0)
        offset = np.where(ok, (sss * sz - ss * ssz) / det, sz / np.maximum(sw, 1e-300))
        return offset, slope

    _, slope0 = line(w)
    sig_z, sig_r = sigma_z[rows], sigma_r[rows]
    sigma = np.sqrt(sig_z**2 + (slope0[:, None] * sig_r) ** 2)
    offset, slope = line(w / sigma**2)
    pulls = (z - offset[:, None] - slope[:, None] * s) / sigma * w
    chi2 = (pulls * pulls).sum(axis=1) / np.maximum(n - 2.0, 1.0)
    exact = n <= 2
    chi2[exact] = 0.0
    pulls[exact] = 0.0
    return chi2, _padded(pulls, width), slope


def fit_momentum(radius_mm: np.ndarray, slope: np.ndarray, field_tesla: float) -> np.ndarray:
    """Momentum (GeV) of helices of transverse radius ``radius_mm`` and ``dz/ds`` slope
    ``slope`` in a field of ``field_tesla``: ``p_T = 0.3 B R`` (``inf`` for a line)."""
    pt = 0.3e-3 * field_tesla * np.asarray(radius_mm, dtype=np.float64)
    return pt * np.sqrt(1.0 + np.asarray(slope, dtype=np.float64) ** 2)


#: Lowest momentum (GeV) :func:`scattering_scale` takes: a fit of lower momentum is
#: scaled as one of this momentum.
SCATTERING_MIN_GEV = 0.1


def scattering_scale(momentum_gev: np.ndarray, scattering_gev: float | None) -> np.ndarray:
    """How much multiple scattering widens the fit figures of tracks of ``momentum_gev``:
    ``1 + (scattering_gev / p)^2`` for the chi2 (its square root for the rms), with ``p``
    at least :data:`SCATTERING_MIN_GEV`; 1 where ``scattering_gev`` is ``None`` or the
    momentum is not finite."""
    p = np.asarray(momentum_gev, dtype=np.float64)
    if scattering_gev is None:
        return np.ones(p.shape)
    p = np.where(np.isfinite(p), np.maximum(p, SCATTERING_MIN_GEV), np.inf)
    scale: np.ndarray = 1.0 + (scattering_gev / p) ** 2
    return scale


def helix_fit(
    positions: np.ndarray,
    paths: np.ndarray,
    sigma_z: np.ndarray,
    sigma_r: np.ndarray,
    field_tesla: float,
) -> FitQuality:
    """The transverse and longitudinal fit figures of ``paths`` and their momentum."""
    rms, _, radius = _transverse(positions, paths, sigma_r)
    chi2, _, slope = _longitudinal(positions, paths, sigma_z, sigma_r)
    return FitQuality(rms, chi2, fit_momentum(radius, slope, field_tesla))


class FitQuality(NamedTuple):
    """Fit figures of candidates: transverse residual (mm per dof), longitudinal chi2/dof
    and the momentum (GeV) of the fitted helix (:func:`fit_momentum`; ``None`` when not
    computed)."""

    rms_mm: np.ndarray
    chi2_z: np.ndarray
    momentum_gev: np.ndarray | None = None


def trim_outliers(
    positions: np.ndarray,
    paths: np.ndarray,
    max_rms_mm: float,
    max_removed: int,
    min_hits: int,
    *,
    max_chi2_z: float | None = None,
    sigma_z: np.ndarray | None = None,
    sigma_r: np.ndarray | None = None,
    field_tesla: float = 2.0,
    scattering_gev: float | None = None,
) -> tuple[np.ndarray, FitQuality]:
    """Drop the worst hits of candidates that fail the fit, ``(paths, rms)`` after.

    A candidate whose :func:`transverse_fit_rms` exceeds ``max_rms_mm`` loses the hit
    farthest from its fitted circle, and is refitted; this repeats up to ``max_removed``
    times while the candidate keeps at least ``min_hits`` hits (``min_hits`` of at least
    4, so a fit can still fail). A track that picked up one or two wrong hits at its end
    (a noise hit, or a hit of a neighbour) is kept without them; a mixture of several
    particles stays bad and is cut. Paths stay compact (hits first, ``-1`` after) and
    keep their order. The result carries the fitted momentum in ``field_tesla`` (the
    z fit's slope needs ``max_chi2_z``; without it the transverse momentum). With
    ``scattering_gev`` both cuts widen with :func:`scattering_scale` of that momentum.
    """
    paths = np.array(paths, dtype=np.int64, copy=True)
    use_z = max_chi2_z is not None
    if use_z and (sigma_z is None or sigma_r is None):
        raise ValueError("max_chi2_z needs sigma_z and sigma_r")

    def fit(
        sub: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """rms, chi2, per-hit badness, the fitted momentum and its scattering scale."""
        rms, res, radius = _transverse(positions, sub, sigma_r)
        # Same test as ``not use_z`` (the sigmas were checked above), written so the types narrow.
        if max_chi2_z is None or sigma_z is None or sigma_r is None:
            zero = np.zeros(len(sub))
            momentum = fit_momentum(radius, zero, field_tesla)
            scale = scattering_scale(momentum, scattering_gev)
            badness = np.abs(res) / (max_rms_mm * np.sqrt(scale))[:, None]
            return rms, zero, badness, momentum, scale
        chi2, pulls, slope = _longitudinal(positions, sub, sigma_z, sigma_r)
        momentum = fit_momentum(radius, slope, field_tesla)
        scale = scattering_scale(momentum, scattering_gev)
        # One badness per hit on a common scale: residual over the cut of each view.
        root = np.sqrt(scale)[:, None]
        badness = np.maximum(
            np.abs(res) / (max_rms_mm * root), np.abs(pulls) / (math.sqrt(max_chi2_z) * root)
        )
        return rms, chi2, badness, momentum, scale

    rms, chi2, badness, momentum, scale = fit(paths)
    chi2_cut = max_chi2_z if max_chi2_z is not None else math.inf
    floor = max(int(min_hits), 4)
    for _ in range(int(max_removed)):
        n_hits = (paths >= 0).sum(axis=1)
        failing = (rms > max_rms_mm * np.sqrt(scale)) | (chi2 > chi2_cut * scale)
        bad = np.flatnonzero(failing & (n_hits > floor))
        if len(bad) == 0:
            break
        worst = np.argmax(badness[bad], axis=1)
        sub = paths[bad]
        sub[np.arange(len(bad)), worst] = -1
        # Compact: the remaining hits keep their order, the hole moves to the end.
        order = np.argsort(sub < 0, axis=1, kind="stable")
        sub = np.take_along_axis(sub, order, axis=1)
        paths[bad] = sub
        rms[bad], chi2[bad], badness[bad], momentum[bad], scale[bad] = fit(sub)
    return paths, FitQuality(rms, chi2, momentum)
