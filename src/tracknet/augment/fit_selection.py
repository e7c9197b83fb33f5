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
from tracknet.building.straw.fits import circle_y_at
from tracknet.building.straw.isolated import fit_resolved, isolated_tracks
from tracknet.simulation.straw.batch import StrawBatch
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.tracks import C_GEV_PER_T_MM

__all__ = ["fit_selected_tracks"]

#: Step (mm) of the finite differences that give the fitted curvature.
_STEP_MM = 5.0


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
    isolated = isolated_tracks(
        h["event_id"], h["x"], track, min_hits=min_hits, max_other_hits=max_other_hits
    )
    rows, group_of, n_groups = isolated.rows, isolated.group, isolated.n_tracks
    x_w, y_w = h["x"][rows].astype(np.float64), h["y"][rows].astype(np.float64)
    drift = h["drift_mm"][rows].astype(np.float64)
    resolved = fit_resolved(isolated, x_w, y_w, drift)
    side, slope = resolved.side, resolved.slope
    good = resolved.rms <= max_fit_rms_mm
    # Direction, curvature and entry point of each hit's fitted track.
    fit_rows = resolved.rows_fit(group_of)
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
            "source_event_id": isolated.events,
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
