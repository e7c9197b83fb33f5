"""Track-based alignment of the straws from isolated tracks, without truth.

See ``docs/straw-building.md`` (Alignment) for the method and its figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from ...data.straw_tracks import resolved_y
from ...errors import DataError
from ...schema import Settings, setting
from ...simulation.straw import StrawBatch, StrawGeometry
from ...simulation.straw.response import DRIFT_RESOLUTION_MM
from .alignment import StrawAlignment
from .batch import build_straw_batch
from .isolated import IsolatedTracks, fit_resolved, isolated_tracks

__all__ = ["AlignmentConfig", "estimate_alignment", "weak_modes_removed"]


@dataclass(frozen=True)
class AlignmentConfig(Settings):
    """Settings of :func:`estimate_alignment` (lengths in mm).

    Attributes:
        rounds: selections of isolated tracks, each built with the constants so far.
        iterations: fit-and-solve iterations per round at most.
        min_hits: hits of an isolated track at least.
        max_other_hits: hits of its event off the track at most.
        max_fit_rms_mm: residual rms of a track's circle fit at most.
        max_residual_mm: hits further than this from their track's fit are left out.
        min_drift_mm: hits nearer the wire are left out (their side is a guess).
        min_straw_hits: straws with fewer hits keep offset 0.
        tolerance_mm: an iteration that moves no straw by more than this ends the round.
    """

    label: ClassVar[str] = "alignment"

    rounds: int = setting(2, low=1)
    iterations: int = setting(8, low=1)
    min_hits: int = setting(12, low=4)
    max_other_hits: int = setting(4, low=0)
    max_fit_rms_mm: float = setting(1.0, low=0, open_low=True)
    max_residual_mm: float = setting(1.0, low=0, open_low=True)
    min_drift_mm: float = setting(2.0 * DRIFT_RESOLUTION_MM, low=0)
    min_straw_hits: int = setting(20, low=1)
    tolerance_mm: float = setting(0.0005, low=0, open_low=True)


def weak_modes_removed(dy: np.ndarray, straw_x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``dy`` less its weighted least-squares fit by ``a + b x + c x^2`` over the straws'
    ``x``: offsets of that form move every track onto another circle of nearly the same
    fit quality, so tracks cannot measure them (and need not)."""
    used = weight > 0
    if used.sum() < 3:
        return np.where(used, dy, 0.0)
    u = (straw_x - straw_x[used].mean()) / max(float(np.ptp(straw_x[used])), 1e-9)
    basis = np.stack([np.ones_like(u), u, u * u], axis=1)
    w = np.sqrt(weight)
    coef, *_ = np.linalg.lstsq(basis[used] * w[used, None], dy[used] * w[used], rcond=None)
    out: np.ndarray = np.where(used, dy - basis @ coef, 0.0)
    return out


@dataclass(frozen=True)
class _Round:
    dy: np.ndarray
    hits_per_straw: np.ndarray
    n_tracks: int
    iterations: int
    rms_before: float
    rms_after: float


def _weak_basis(straw_x: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning ``1, x, x^2`` over the ``known`` straws."""
    x = straw_x[known]
    u = (x - x.mean()) / max(float(np.ptp(x)), 1e-9)
    q, _ = np.linalg.qr(np.stack([np.ones_like(u), u, u * u], axis=1))
    return q


def _global_step(
    tracks: IsolatedTracks,
    use: np.ndarray,
    x: np.ndarray,
    straw: np.ndarray,
    residual: np.ndarray,
    straw_x: np.ndarray,
    known: np.ndarray,
) -> np.ndarray:
    """The straw offsets that minimise the sum of squared residuals after every track is
    fitted again: ``D^T (1 - H) D step = D^T (1 - H) r``, with ``D`` the hits' straws and
    ``H`` each track's projection onto ``y = a + b x + c x^2`` (its fit to first order);
    the offsets tracks cannot see are held at 0."""
    n_straws = len(straw_x)
    mask = tracks.padded(use.astype(np.float64))
    centre = np.bincount(tracks.group, weights=x * use, minlength=tracks.n_tracks) / np.maximum(
        np.bincount(tracks.group, weights=use.astype(np.float64), minlength=tracks.n_tracks),
        1.0,
    )
    u = tracks.padded((x - centre[tracks.group]) / 1000.0) * mask
    basis = np.stack([mask, u, u * u], axis=2)  # (tracks, width, 3)
    gram = np.einsum("twi,twj->tij", basis, basis) + 1e-12 * np.eye(3)
    hat = np.einsum("twi,tij,tvj->twv", basis, np.linalg.inv(gram), basis)
    width = mask.shape[1]
    project = mask[:, :, None] * mask[:, None, :] * (np.eye(width)[None] - hat)
    s = tracks.padded(straw.astype(np.float64)).astype(np.int64)
    pairs = s[:, :, None] * n_straws + s[:, None, :]
    normal = np.bincount(
        pairs.ravel(), weights=project.ravel(), minlength=n_straws * n_straws
    ).reshape(n_straws, n_straws)
    rhs = np.bincount(
        s.ravel(),
        weights=np.einsum("twv,tv->tw", project, tracks.padded(residual)).ravel(),
        minlength=n_straws,
    )
    k = np.flatnonzero(known)
    weak = _weak_basis(straw_x, known)
    scale = float(np.trace(normal[np.ix_(k, k)])) / max(len(k), 1)
    system = normal[np.ix_(k, k)] + scale * (weak @ weak.T) + 1e-9 * scale * np.eye(len(k))
    step = np.zeros(n_straws)
    step[k] = np.linalg.solve(system, rhs[k])
    return step


def _align_round(
    batch: StrawBatch, geometry: StrawGeometry, dy: np.ndarray, config: AlignmentConfig
) -> _Round:
    h = batch.hits
    start = StrawAlignment(dy, geometry.to_dict())
    aligned = start.apply(batch, geometry)
    track = build_straw_batch(aligned, geometry, "baseline")["track_id"].to_numpy()
    tracks = isolated_tracks(
        h["event_id"],
        h["x"],
        track,
        min_hits=config.min_hits,
        max_other_hits=config.max_other_hits,
    )
    rows = tracks.rows
    straw = h["straw_id"][rows].astype(np.int64)
    x = h["x"][rows].astype(np.float64)
    y_design = h["y"][rows].astype(np.float64)
    drift = h["drift_mm"][rows].astype(np.float64)
    n_straws = geometry.n_straws
    dy = dy.copy()
    counts = np.zeros(n_straws)
    rms: list[float] = []
    done = 0
    while done < config.iterations:
        done += 1
        fit = fit_resolved(tracks, x, y_design + dy[straw], drift)
        crossing = resolved_y(y_design + dy[straw], drift, fit.side, fit.slope)
        residual = fit.y_fit - crossing
        good = fit.rms[tracks.group] <= config.max_fit_rms_mm
        use = good & (np.abs(residual) <= config.max_residual_mm)
        use &= drift >= config.min_drift_mm
        rms.append(float(np.sqrt(np.mean(residual[use] ** 2))) if use.any() else 0.0)
        counts = np.bincount(straw[use], minlength=n_straws).astype(np.float64)
        known = counts >= config.min_straw_hits
        if known.sum() <= 3:
            break
        use &= known[straw]
        step = _global_step(tracks, use, x, straw, residual, geometry.straw_x, known)
        moved = weak_modes_removed(dy + step, geometry.straw_x, np.where(known, counts, 0.0))
        change = float(np.max(np.abs(moved - dy), initial=0.0))
        dy = moved
        if change <= config.tolerance_mm:
            break
    return _Round(
        dy,
        counts,
        tracks.n_tracks,
        done,
        rms[0] if rms else 0.0,
        rms[-1] if rms else 0.0,
    )


def estimate_alignment(
    batch: StrawBatch,
    geometry: StrawGeometry,
    config: AlignmentConfig = AlignmentConfig(),
    *,
    meta: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> StrawAlignment:
    """Each straw's offset along ``y``, from the isolated tracks of ``batch`` (its hits'
    design positions, straws and drift distances only: no truth is read).

    Each round builds the events with the constants so far, keeps the events with one
    clean track, and iterates: fit every track's drift-resolved circle, move each straw
    by the mean residual of its hits, remove the offsets tracks cannot see
    (:func:`weak_modes_removed`)."""
    if len(batch) == 0:
        raise DataError("straw alignment needs events, got none")
    dy = np.zeros(geometry.n_straws)
    rounds: list[dict[str, Any]] = []
    last: _Round | None = None
    for _ in tqdm(range(config.rounds), desc="align", unit="round", disable=not progress):
        last = _align_round(batch, geometry, dy, config)
        dy = last.dy
        rounds.append(
            {
                "tracks": last.n_tracks,
                "iterations": last.iterations,
                "residual_rms_mm_before": round(last.rms_before, 5),
                "residual_rms_mm_after": round(last.rms_after, 5),
            }
        )
    assert last is not None
    if last.n_tracks == 0:
        raise DataError(
            "straw alignment found no isolated track (an event with one clean built track)"
        )
    measured = last.hits_per_straw >= config.min_straw_hits
    record = {
        "n_events": len(batch),
        "tracks": last.n_tracks,
        "straws_aligned": int(measured.sum()),
        "median_hits_per_straw": float(np.median(last.hits_per_straw[measured]))
        if measured.any()
        else 0.0,
        "offset_rms_mm": round(float(np.sqrt(np.mean(dy[measured] ** 2))), 5)
        if measured.any()
        else 0.0,
        "rounds": rounds,
        "config": config.to_dict(),
        **dict(meta or {}),
    }
    return StrawAlignment(dy, geometry.to_dict(), record)
