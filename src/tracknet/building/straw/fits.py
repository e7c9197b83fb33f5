"""Circle fits of straw tracks: residuals, the fitted ``y`` and the track fit of candidates."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..builder import Candidates
from ..fit import held_span
from .hits import StrawHits
from .settings import StrawBuildConfig

__all__ = ["circle_residuals", "circle_y_at", "fit_candidates"]

_MAX_SLOPE2 = 3.5**2


def circle_residuals(
    x: np.ndarray, y: np.ndarray, valid: np.ndarray, with_fit: bool = False
) -> Any:
    """Residuals (mm, 0 where not ``valid``) of each row's points ``(x, y)`` ``(N, W)`` from
    the circle fitted through them (rows with at least 3 valid points; fewer: 0).

    The fit is linear and stable down to straight lines: in the frame of the chord from
    the row's first to its last valid point (``u`` along, ``v`` across, centred on its
    middle) a circle through the points is ``v = a + b u + c (u^2 + v^2)`` to first order
    in ``v`` (``c`` = half the curvature), fitted by least squares in ``v``. With
    ``with_fit`` also the fit ``(x_mid, y_mid, cos, sin, half chord, coefficients)``.
    """
    n, w = x.shape
    if n == 0:
        empty = np.zeros(0)
        return (
            (np.zeros((0, w)), (empty, empty, empty, empty, empty, np.zeros((0, 3))))
            if with_fit
            else np.zeros((0, w))
        )
    # Only the columns from the first to the last that any row holds are computed.
    lo, hi = held_span(valid)
    x, y, valid = x[:, lo:hi], y[:, lo:hi], valid[:, lo:hi]
    count = valid.sum(axis=1)
    first = np.argmax(valid, axis=1)
    last = hi - lo - 1 - np.argmax(valid[:, ::-1], axis=1)
    rows = np.arange(n)
    x0, y0, x1, y1 = x[rows, first], y[rows, first], x[rows, last], y[rows, last]
    length = np.maximum(np.hypot(x1 - x0, y1 - y0), 1e-9)
    c, s = (x1 - x0) / length, (y1 - y0) / length
    scale = 0.5 * length[:, None]
    dxm, dym = x - 0.5 * (x0 + x1)[:, None], y - 0.5 * (y0 + y1)[:, None]
    u = np.where(valid, (dxm * c[:, None] + dym * s[:, None]) / scale, 0.0)
    v = np.where(valid, (-dxm * s[:, None] + dym * c[:, None]) / scale, 0.0)
    q = u * u + v * v
    # Normal equations of v = a + b u + c q over the valid points (u, v are 0 elsewhere).
    cols = (u, q)
    m = np.empty((n, 3, 3))
    r = np.empty((n, 3))
    m[:, 0, 0] = count
    r[:, 0] = v.sum(axis=1)
    for i, ci in enumerate(cols, start=1):
        m[:, 0, i] = m[:, i, 0] = ci.sum(axis=1)
        r[:, i] = np.einsum("nw,nw->n", ci, v)
        for j in range(i, 3):
            m[:, i, j] = m[:, j, i] = np.einsum("nw,nw->n", ci, cols[j - 1])
    ok = count >= 3
    m[~ok] = np.eye(3)
    r[~ok] = 0.0
    m += np.eye(3) * 1e-12
    coef = np.linalg.solve(m, r[..., None])[..., 0]
    fit = coef[:, 0:1] + coef[:, 1:2] * u + coef[:, 2:3] * q
    residuals = np.zeros((n, w))
    residuals[:, lo:hi] = np.where(valid & ok[:, None], (v - fit) * scale, 0.0)
    if with_fit:
        return residuals, (0.5 * (x0 + x1), 0.5 * (y0 + y1), c, s, scale[:, 0], coef)
    return residuals


def circle_y_at(fit: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    """``y`` (mm) where each row's fitted circle (:func:`circle_residuals` ``with_fit``)
    crosses the plane ``x`` ``(N,)`` (the branch near its points)."""
    xm, ym, c, s, scale, coef = fit
    a, b, k = coef[:, 0], coef[:, 1], coef[:, 2]
    v = np.zeros(len(x))
    for _ in range(4):
        u = ((x - xm) / scale + v * s) / np.where(np.abs(c) > 1e-9, c, 1e-9)
        w = a + b * u + k * u * u
        v = 2.0 * w / (1.0 + np.sqrt(np.maximum(1.0 - 4.0 * k * w, 0.0)))
    y: np.ndarray = ym + scale * (u * s + v * c)
    return y


def fit_candidates(
    candidates: Candidates, path_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> tuple[Candidates, np.ndarray, np.ndarray]:
    """Candidates after the track fit (see docs/straw-building.md): up to ``fit_max_removed`` hits
    farther than ``fit_trim_mm`` from the circle through the candidate's hits are taken
    out (the worst first, refitting after each), then a candidate whose residual RMS
    (per degree of freedom) exceeds ``max_fit_rms_mm`` is dropped. Returns the kept
    candidates, their ``path_y`` and every candidate's RMS (mm, before the cut)."""
    paths = candidates.paths.copy()
    n_hits = candidates.n_hits.copy()
    valid = paths >= 0
    x = np.where(valid, hits.x[np.maximum(paths, 0)], 0.0)
    y = np.where(valid, path_y, 0.0)
    trim = config.at_resolution(config.fit_trim_mm)
    for _ in range(config.fit_max_removed + 1):
        res = np.abs(circle_residuals(x, y, valid))
        worst = np.argmax(res, axis=1)
        rows = np.arange(len(paths))
        bad = (res[rows, worst] > trim) & (n_hits > config.min_hits)
        if _ == config.fit_max_removed or not bad.any():
            break
        r = np.flatnonzero(bad)
        paths[r, worst[r]] = -1
        valid[r, worst[r]] = False
        n_hits[r] -= 1
    dof = np.maximum(n_hits - 3, 1)
    rms = np.sqrt(np.sum(res * res, axis=1) / dof)
    keep = (
        rms <= config.at_resolution(config.max_fit_rms_mm)
        if config.max_fit_rms_mm is not None
        else np.ones(len(rms), dtype=bool)
    )
    kept = Candidates(
        paths=paths[keep],
        n_hits=n_hits[keep],
        cost=candidates.cost[keep],
        misses=candidates.misses[keep],
        seed=candidates.seed[keep],
        n_seed_hits=candidates.n_seed_hits,
    )
    return kept, path_y[keep], rms


def _track_hit_y(
    chosen: Any, candidates: Candidates, path_y: np.ndarray, n_hits: int
) -> np.ndarray:
    """The ``y`` (mm) each hit of a chosen track was taken at (NaN for hits on no track)."""
    out = np.full(n_hits, np.nan)
    if chosen.n_tracks == 0:
        return out
    paths = candidates.paths[chosen.candidate]
    ys = path_y[chosen.candidate]
    track = np.repeat(np.arange(1, chosen.n_tracks + 1), paths.shape[1]).reshape(paths.shape)
    valid = paths >= 0
    rows, ys, track = paths[valid], ys[valid], track[valid]
    mine = chosen.track_of_hit[rows] == track
    out[rows[mine]] = ys[mine]
    return out
