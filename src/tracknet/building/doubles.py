"""Double hits: the second hit a track leaves in one layer, attached after selection.

Overlapping modules give a particle two hits in one layer; track following takes one.
:func:`attach_double_hits` gives each free hit to the track that holds a hit of the same
layer on another module nearby, when a refit shows the free hit on the track's helix.

See docs/selection-and-fits.md.
"""

from __future__ import annotations

import numpy as np

from .fit import longitudinal_fit, transverse_fit
from .search import HitIndex

__all__ = ["assign_best", "attach_double_hits", "radial_paths", "refit_accepts"]


def _track_paths(track_of_hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(track_ids, paths)``: hit rows per track in row order ``(T, L)``, ``-1`` padded."""
    rows = np.flatnonzero(track_of_hit > 0)
    tracks = track_of_hit[rows]
    order = np.lexsort((rows, tracks))
    rows, tracks = rows[order], tracks[order]
    track_ids, start, counts = np.unique(tracks, return_index=True, return_counts=True)
    column = np.arange(len(rows)) - np.repeat(start, counts)
    slot = np.repeat(np.arange(len(track_ids)), counts)
    paths = np.full((len(track_ids), int(counts.max()) if len(counts) else 0), -1, dtype=np.int64)
    paths[slot, column] = rows
    return track_ids, paths


def radial_paths(track_of_hit: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(track_ids, paths)`` as :func:`_track_paths`, each row ordered by distance from
    the beam line (the order along a track from the interaction region, up to its apex)."""
    track_ids, paths = _track_paths(track_of_hit)
    valid = paths >= 0
    rows_xy = positions[np.maximum(paths, 0), :2]
    radius = np.where(valid, np.hypot(rows_xy[..., 0], rows_xy[..., 1]), np.inf)
    order = np.argsort(radius, axis=1, kind="stable")
    return track_ids, np.take_along_axis(paths, order, axis=1)


def _insert_hits(paths: np.ndarray, column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Copies of ``paths`` ``(C, L)`` with ``rows[i]`` inserted at ``column[i]`` of row
    ``i`` (later hits move one column on): ``(C, L + 1)``."""
    base = np.concatenate([paths, np.full((len(paths), 1), -1)], axis=1)
    grid = np.arange(base.shape[1])[None, :]
    source = np.where(grid < column[:, None], grid, grid - 1)
    out = np.take_along_axis(base, np.maximum(source, 0), axis=1)
    out[np.arange(len(rows)), column] = rows
    return out


def refit_accepts(
    positions: np.ndarray,
    paths: np.ndarray,
    slot: np.ndarray,
    column: np.ndarray,
    rows: np.ndarray,
    sigma_z: np.ndarray,
    sigma_r: np.ndarray,
    *,
    max_residual_mm: float,
    max_pull_z: float,
    max_rms_rise_mm: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(good, residual)`` of each candidate hit ``rows[i]``, inserted at ``column[i]``
    of track ``paths[slot[i]]`` and refitted: within ``max_residual_mm`` of the circle,
    ``max_pull_z`` of the ``(s, z)`` line and, when ``max_rms_rise_mm`` is set, a circle
    rms at most that above the track's own."""
    trial = _insert_hits(paths[slot], column, rows)
    rms, residual = transverse_fit(positions, trial, sigma_r)
    _, pulls = longitudinal_fit(positions, trial, sigma_z, sigma_r)
    idx = np.arange(len(trial))
    own = np.abs(residual[idx, column])
    good = (own <= max_residual_mm) & (np.abs(pulls[idx, column]) <= max_pull_z)
    if max_rms_rise_mm is not None:
        # Only the tracks that have a candidate are refitted as they are.
        used, back = np.unique(slot, return_inverse=True)
        before = transverse_fit(positions, paths[used], sigma_r)[0][back]
        good &= rms <= before + max_rms_rise_mm
    return good, own


def assign_best(
    rows: np.ndarray, owner: np.ndarray, score: np.ndarray, layer_key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of the candidate (hit ``rows``, track ``owner``) pairs, each hit's best (smallest
    ``score``), then each (track, layer)'s best: ``(joined, their owners, the hits that
    lost their layer)``."""
    order = np.lexsort((score, rows))
    rows, owner, score = rows[order], owner[order], score[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    rows, owner, score = rows[first], owner[first], score[first]
    order = np.lexsort((score, layer_key[rows], owner))
    rows, owner, key = rows[order], owner[order], layer_key[rows][order]
    head = np.ones(len(rows), dtype=bool)
    head[1:] = (owner[1:] != owner[:-1]) | (key[1:] != key[:-1])
    return rows[head], owner[head], rows[~head]


def attach_double_hits(
    positions: np.ndarray,
    layer_key: np.ndarray,
    module_id: np.ndarray,
    track_of_hit: np.ndarray,
    sigma_z: np.ndarray,
    sigma_r: np.ndarray,
    *,
    max_distance_mm: float,
    max_residual_mm: float,
    max_pull_z: float,
    max_rms_rise_mm: float | None = None,
    workers: int = 1,
    free: np.ndarray | None = None,
    max_partners: int = 8,
    passes: int = 2,
) -> np.ndarray:
    """``track_of_hit`` with double hits attached (see docs/selection-and-fits.md).

    Hits are rows of ``positions`` ``(N, 3)`` mm; ``layer_key``, ``module_id``,
    ``track_of_hit`` (0: no track), ``sigma_z`` and ``sigma_r`` are per row. A track's
    hits are put in order of distance from the beam line (the order along a track from
    the interaction region, up to its apex) for the refit. ``free`` (bool per row): the
    hits that may join a track (default: those on no track, ``track_of_hit <= 0``); a hit
    neither free nor on a track is left as it is. ``max_partners``: how many of the
    nearest track hits each free hit may pair with; ``max_rms_rise_mm``: when set, the
    refit's circle rms (per degree of freedom) may exceed the track's by at most this
    (a circle bends towards a wrong hit, so its own residual stays small); ``passes``:
    how many times the search runs; after the first, only for the hits that fitted a
    track and lost its layer to a better-fitting hit (they may fit another track, or
    take a third module's place).
    """
    out = np.array(track_of_hit, dtype=np.int64, copy=True)
    free_mask = out <= 0 if free is None else np.asarray(free, dtype=bool).copy()
    for _ in range(passes):
        attached, contenders = _attach_once(
            positions,
            layer_key,
            module_id,
            out,
            sigma_z,
            sigma_r,
            free_mask,
            max_distance_mm=max_distance_mm,
            max_residual_mm=max_residual_mm,
            max_pull_z=max_pull_z,
            max_rms_rise_mm=max_rms_rise_mm,
            workers=workers,
            max_partners=max_partners,
        )
        if len(attached) == 0:
            break
        # Only a hit that fitted a track and lost it can join another on the next pass.
        still = np.zeros(len(free_mask), dtype=bool)
        still[contenders] = True
        free_mask &= still
    return out


def _attach_once(
    positions: np.ndarray,
    layer_key: np.ndarray,
    module_id: np.ndarray,
    out: np.ndarray,
    sigma_z: np.ndarray,
    sigma_r: np.ndarray,
    free: np.ndarray,
    *,
    max_distance_mm: float,
    max_residual_mm: float,
    max_pull_z: float,
    max_rms_rise_mm: float | None,
    workers: int,
    max_partners: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One pass of :func:`attach_double_hits`: updates ``out`` in place, returns the rows
    that joined a track and those that fitted one but did not join."""
    none = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    free_rows = np.flatnonzero(free)
    taken = np.flatnonzero(out > 0)
    if len(free_rows) == 0 or len(taken) == 0:
        return none
    found = HitIndex(positions[taken], workers=workers).nearest(
        positions[free_rows], max_distance_mm, max_partners
    )
    u = free_rows[found.query]
    a = taken[found.hit]
    ok = (layer_key[u] == layer_key[a]) & (module_id[u] != module_id[a])
    u, a = u[ok], a[ok]
    if len(u) == 0:
        return none
    # Every nearby hit of the same layer on another module is a possible partner; of the
    # partners on one track, the nearest (pairs come sorted by query, then distance).
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (out[a[1:]] != out[a[:-1]])
    u, a = u[first], a[first]

    # Each free hit inserted after its partner in a copy of the partner track's hits,
    # ordered by distance from the beam line.
    track_ids, paths = radial_paths(out, positions)
    slot = np.searchsorted(track_ids, out[a])
    column = np.argmax(paths[slot] == a[:, None], axis=1) + 1  # pads stay at the end
    good, score = refit_accepts(
        positions,
        paths,
        slot,
        column,
        u,
        sigma_z,
        sigma_r,
        max_residual_mm=max_residual_mm,
        max_pull_z=max_pull_z,
        max_rms_rise_mm=max_rms_rise_mm,
    )
    if not good.any():
        return none
    # One track per free hit (the best fitting), then at most one extra hit per
    # (track, layer): the best fitting.
    joined, track, lost = assign_best(u[good], out[a[good]], score[good], layer_key)
    out[joined] = track
    return joined, lost
