"""Isolated tracks of straw events without labels, selected as an experiment would.

No truth is read: each event is built with the classical straw builder; an event gives a
track when it holds exactly one built track of at least ``min_hits`` hits, at most
``max_other_hits`` hits off it, and a circle fit of the drift-resolved hits with a residual
RMS of at most ``max_fit_rms_mm``. The fit stands in for the truth the library would
otherwise carry: each hit's point of closest approach, the momentum along the track (from
the fitted curvature in the design field) and the entry state.
See ``docs/augmentation.md`` (Libraries from events without labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tracknet.building.straw import build_straw_batch
from tracknet.building.straw.fits import circle_residuals, circle_y_at
from tracknet.data.straw_tracks import resolved_y
from tracknet.simulation.straw.batch import StrawBatch
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.tracks import C_GEV_PER_T_MM

__all__ = ["fit_selected_tracks"]

#: Side-resolving passes of the fit (the first fits the wires).
_PASSES = 3
#: Step (mm) of the finite differences that give the fitted slope and curvature.
_STEP_MM = 5.0


def _padded(group: np.ndarray, rank: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    width = int(rank.max()) + 1 if len(rank) else 1
    out = np.zeros((n_groups, width))
    out[group, rank] = values
    return out


def fit_selected_tracks(
    batch: StrawBatch,
    geometry: StrawGeometry,
    field_tesla: float,
    *,
    min_hits: int,
    max_other_hits: int | None,
    max_fit_rms_mm: float,
) -> tuple[np.ndarray, pd.DataFrame, dict[str, np.ndarray]]:
    """Hit rows of the selected tracks (by event, then ``x``), their entries (source
    event, particle id 1, vertex, momentum, charge, hits) and, per selected hit, the
    fitted ``tx, ty, tpx, tpy``."""
    h = batch.hits
    track = build_straw_batch(batch, geometry, "baseline")["track_id"].to_numpy()
    events, inverse = np.unique(h["event_id"], return_inverse=True)
    n_events = len(events)
    n_tracks = np.zeros(n_events, dtype=np.int64)
    np.maximum.at(n_tracks, inverse, track)
    on = track == 1
    n_on = np.bincount(inverse[on], minlength=n_events)
    n_off = np.bincount(inverse[~on], minlength=n_events)
    ok = (n_tracks == 1) & (n_on >= min_hits)
    if max_other_hits is not None:
        ok &= n_off <= max_other_hits
    rows = np.flatnonzero(on & ok[inverse])
    rows = rows[np.lexsort((h["x"][rows], inverse[rows]))]
    group_of = np.unique(inverse[rows], return_inverse=True)[1].ravel()
    n_groups = int(group_of.max()) + 1 if len(rows) else 0
    rank = np.arange(len(rows)) - np.searchsorted(group_of, group_of, "left")
    x_w, y_w = h["x"][rows].astype(np.float64), h["y"][rows].astype(np.float64)
    drift = h["drift_mm"][rows].astype(np.float64)
    x = _padded(group_of, rank, n_groups, x_w)
    valid = _padded(group_of, rank, n_groups, np.ones(len(rows))) > 0
    y = _padded(group_of, rank, n_groups, y_w)
    side = np.ones(len(rows))
    slope = np.zeros(len(rows))
    residuals = np.zeros_like(x)
    for _ in range(_PASSES):
        residuals, fit = circle_residuals(x, y, valid, with_fit=True)
        fit_rows = tuple(part[group_of] for part in fit)
        y_fit = circle_y_at(fit_rows, x_w)
        slope = (circle_y_at(fit_rows, x_w + _STEP_MM) - circle_y_at(fit_rows, x_w - _STEP_MM)) / (
            2.0 * _STEP_MM
        )
        side = np.where(y_fit >= y_w, 1.0, -1.0)
        y = _padded(group_of, rank, n_groups, resolved_y(y_w, drift, side, slope))
    dof = np.maximum(valid.sum(axis=1) - 3, 1)
    rms = np.sqrt(np.sum(residuals * residuals, axis=1) / dof)
    good = rms <= max_fit_rms_mm
    # Direction, curvature and entry point of each hit's fitted track.
    fit_rows = tuple(part[group_of] for part in fit)
    y_plus = circle_y_at(fit_rows, x_w + _STEP_MM)
    y_minus = circle_y_at(fit_rows, x_w - _STEP_MM)
    y_mid = circle_y_at(fit_rows, x_w)
    second = (y_plus - 2.0 * y_mid + y_minus) / _STEP_MM**2
    curvature = np.abs(second) / (1.0 + slope * slope) ** 1.5
    phi = np.arctan(slope)
    # p = C B R, from the curvature averaged over the track's hits.
    mean_curvature = np.bincount(group_of, weights=curvature, minlength=n_groups) / np.maximum(
        np.bincount(group_of, minlength=n_groups), 1
    )
    with np.errstate(divide="ignore"):
        p_track = np.where(
            mean_curvature > 0, C_GEV_PER_T_MM * abs(field_tesla) / mean_curvature, np.inf
        )
    p_hit = p_track[group_of]
    finite = np.isfinite(p_track)
    good &= finite
    # A positive charge turns clockwise in a field along +z: y bends down.
    turn = np.bincount(group_of, weights=second, minlength=n_groups)
    q = np.where(turn * np.sign(field_tesla) > 0, -1, 1).astype(np.int32)
    keep_hit = good[group_of]
    tx = x_w - side * drift * np.sin(phi)
    ty = y_w + side * drift * np.cos(phi)
    first = np.searchsorted(group_of, np.arange(n_groups), "left")
    entries = pd.DataFrame(
        {
            "source_event_id": events[inverse[rows[first]]] if n_groups else np.zeros(0),
            "source_particle_id": np.ones(n_groups, dtype=np.int64),
            "vx": x_w[first] if n_groups else np.zeros(0),
            "vy": y_mid[first] if n_groups else np.zeros(0),
            "vz": np.zeros(n_groups),
            "px": (p_hit * np.cos(phi))[first] if n_groups else np.zeros(0),
            "py": (p_hit * np.sin(phi))[first] if n_groups else np.zeros(0),
            "pz": np.zeros(n_groups),
            "q": q,
            "nhits": np.bincount(group_of, minlength=n_groups),
        }
    )
    fitted = {
        "tx": tx[keep_hit],
        "ty": ty[keep_hit],
        "tpx": (p_hit * np.cos(phi))[keep_hit],
        "tpy": (p_hit * np.sin(phi))[keep_hit],
    }
    return rows[keep_hit], entries.loc[good].reset_index(drop=True), fitted
