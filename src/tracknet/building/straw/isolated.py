"""Isolated straw tracks found without truth, and the drift-resolved circle fit of each.

An event gives an isolated track when the classical builder finds exactly one track in it
(see ``docs/augmentation.md``, Libraries from events without labels). The overlay
library and the alignment (``docs/straw-building.md``, Alignment) both start here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...data.straw_tracks import resolved_y
from .fits import circle_residuals, circle_y_at

__all__ = ["IsolatedTracks", "ResolvedFit", "fit_resolved", "isolated_tracks"]

#: Side-resolving passes of the fit (the first fits the wires).
FIT_PASSES = 3
#: Step (mm) of the finite differences that give the fitted slope.
SLOPE_STEP_MM = 5.0


@dataclass(frozen=True)
class IsolatedTracks:
    """The hit rows of the events' single tracks, by event then ``x``: ``group`` (track of
    each row, 0, 1, ...), ``rank`` (its place in the track) and ``events`` (the event id
    of each track)."""

    rows: np.ndarray
    group: np.ndarray
    rank: np.ndarray
    events: np.ndarray

    @property
    def n_tracks(self) -> int:
        return len(self.events)

    def padded(self, values: np.ndarray) -> np.ndarray:
        """Per-row ``values`` as a ``(tracks, longest)`` table, 0 beyond each track."""
        width = int(self.rank.max()) + 1 if len(self.rank) else 1
        out = np.zeros((self.n_tracks, width))
        out[self.group, self.rank] = values
        return out


def isolated_tracks(
    event_id: np.ndarray,
    x: np.ndarray,
    track: np.ndarray,
    *,
    min_hits: int,
    max_other_hits: int | None,
) -> IsolatedTracks:
    """The events whose built ``track`` ids (per hit, 0: none) hold exactly one track of at
    least ``min_hits`` hits and at most ``max_other_hits`` hits off it (None: any)."""
    events, inverse = np.unique(event_id, return_inverse=True)
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
    rows = rows[np.lexsort((x[rows], inverse[rows]))]
    kept, group = np.unique(inverse[rows], return_inverse=True)
    group = group.ravel()
    rank = np.arange(len(rows)) - np.searchsorted(group, group, "left")
    return IsolatedTracks(rows, group, rank, events[kept])


@dataclass(frozen=True)
class ResolvedFit:
    """The circle fit of each isolated track's drift-resolved hits: per row the ``side``
    (+1: the track passes above the wire), fitted ``slope`` and ``y_fit`` at the wire's
    ``x``; per track the fit (:func:`~tracknet.building.straw.fits.circle_residuals`) and
    the residual ``rms`` (mm, 3 fitted parameters)."""

    side: np.ndarray
    slope: np.ndarray
    y_fit: np.ndarray
    fit: tuple[np.ndarray, ...]
    rms: np.ndarray

    def rows_fit(self, group: np.ndarray) -> tuple[np.ndarray, ...]:
        """The fit of each row's track."""
        return tuple(part[group] for part in self.fit)


def fit_resolved(
    tracks: IsolatedTracks, x_wire: np.ndarray, y_wire: np.ndarray, drift: np.ndarray
) -> ResolvedFit:
    """Fit each track's circle, resolving every hit's side against the fit of the pass
    before (``x_wire, y_wire, drift`` per row of ``tracks.rows``; the first pass fits the
    wires); sides, slopes and ``y_fit`` are those of the last fit."""
    x = tracks.padded(x_wire)
    valid = tracks.padded(np.ones(len(tracks.rows))) > 0
    y = tracks.padded(y_wire)
    side = np.ones(len(tracks.rows))
    slope = np.zeros(len(tracks.rows))
    y_fit = np.asarray(y_wire, dtype=np.float64)
    residuals = np.zeros_like(x)
    fit: tuple[np.ndarray, ...] = ()
    for _ in range(FIT_PASSES):
        residuals, fit = circle_residuals(x, y, valid, with_fit=True)
        rows_fit = tuple(part[tracks.group] for part in fit)
        y_fit = circle_y_at(rows_fit, x_wire)
        slope = (
            circle_y_at(rows_fit, x_wire + SLOPE_STEP_MM)
            - circle_y_at(rows_fit, x_wire - SLOPE_STEP_MM)
        ) / (2.0 * SLOPE_STEP_MM)
        side = np.where(y_fit >= y_wire, 1.0, -1.0)
        y = tracks.padded(resolved_y(y_wire, drift, side, slope))
    dof = np.maximum(valid.sum(axis=1) - 3, 1)
    rms = np.sqrt(np.sum(residuals * residuals, axis=1) / dof)
    return ResolvedFit(side, slope, y_fit, fit, rms)
