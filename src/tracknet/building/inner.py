"""Inner and hole hits: the hits a track missed between the beam line and its first hit,
or in a layer between two it holds, attached after selection.

A track can start a layer or two out (a first hit taken by another seed, a triplet that
failed its cuts, an outlier dropped by the fit) or skip a layer (a hole the extension
jumped); :func:`attach_inner_hits` follows each track's helix from three of its layers
and gives it the free hit where the helix crosses a layer it lacks, when a refit shows
the hit on the track's helix.

See docs/selection-and-fits.md (Inner hits).
"""

from __future__ import annotations

import numpy as np

from .baseline import HelixState, helix_crossings, helix_frame, helix_points
from .doubles import assign_best, radial_paths, refit_accepts
from .geometry import LayerSurfaces
from .search import HitIndex

__all__ = ["attach_inner_hits"]


def _arc_to_closest_approach(c: np.ndarray, tangent: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Transverse arc length (mm) from ``c`` along each helix to its point closest to the
    beam line (0 when it is already moving away from it)."""
    straight = np.abs(kappa) < 1e-7
    safe_k = np.where(straight, 1.0, kappa)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    centre = c[:, :2] + normal / safe_k[:, None]
    radius = 1.0 / np.abs(safe_k)
    d = np.maximum(np.linalg.norm(centre, axis=1), 1e-12)
    v0 = c[:, :2] - centre
    vp = -centre * (radius / d)[:, None]  # from the centre to the point nearest the origin
    angle = np.arctan2(v0[:, 0] * vp[:, 1] - v0[:, 1] * vp[:, 0], np.einsum("ij,ij->i", v0, vp))
    turn = np.mod(np.where(kappa > 0, angle, -angle), 2.0 * np.pi)
    line = np.maximum(-np.einsum("ij,ij->i", c[:, :2], tangent), 0.0)
    arc: np.ndarray = np.where(straight, line, turn * radius)
    return arc


def attach_inner_hits(
    positions: np.ndarray,
    layer_key: np.ndarray,
    track_of_hit: np.ndarray,
    surfaces: LayerSurfaces,
    sigma_z: np.ndarray,
    sigma_r: np.ndarray,
    *,
    window_mm: float,
    max_residual_mm: float,
    max_pull_z: float,
    max_rms_rise_mm: float | None,
    surface_margin_mm: float = 10.0,
    workers: int = 1,
    free: np.ndarray | None = None,
    max_hits: int = 3,
    holes: bool = False,
    outer: bool = False,
) -> np.ndarray:
    """``track_of_hit`` with inner and hole hits attached (see docs/selection-and-fits.md).

    Hits are rows of ``positions`` ``(N, 3)`` mm; ``layer_key``, ``track_of_hit`` (0: no
    track), ``sigma_z`` and ``sigma_r`` are per row. For every track on at least three
    layers, the helix through the innermost hit of each of its three innermost layers (by
    distance from the beam line) is followed inwards to its closest approach to the beam
    line; with ``holes``, also the helix through every three consecutive layers inwards to
    the layer before them, and through the last three but one outwards to the last (every
    gap between two layers the track holds); with ``outer``, also the helix through its
    three outermost layers outwards to the first layer beyond them that it crosses.
    Where it crosses a layer of ``surfaces`` (within the layer's extent plus
    ``surface_margin_mm``) that the track does not hold, the
    ``max_hits`` nearest ``free`` hits of that layer within ``window_mm`` are candidates
    (``free``: default the hits on no track). A candidate joins when the refit of the track
    with it in its place puts it within ``max_residual_mm`` of the circle, raises the circle
    fit's rms (per degree of freedom) by at most ``max_rms_rise_mm`` (``None``: no bound)
    and puts it within ``max_pull_z`` of the ``(s, z)`` line. Each hit joins at most one
    track, and each track takes at most one hit per layer, the best fitting.
    """
    out = np.array(track_of_hit, dtype=np.int64, copy=True)
    free_mask = out <= 0 if free is None else np.asarray(free, dtype=bool)
    free_rows = np.flatnonzero(free_mask)
    track_ids, paths = radial_paths(out, positions)
    if len(free_rows) == 0 or len(track_ids) == 0 or paths.shape[1] < 3:
        return out
    # Helices run through one hit per layer, the innermost of each (a double hit's two
    # hits, a millimetre apart, would give no direction).
    key = np.where(paths >= 0, layer_key[np.maximum(paths, 0)], -1)
    new_layer = (paths >= 0) & np.concatenate(
        [np.ones((len(paths), 1), dtype=bool), key[:, 1:] != key[:, :-1]], axis=1
    )
    rank = np.cumsum(new_layer, axis=1)
    paths, new_layer, rank = (a[rank[:, -1] >= 3] for a in (paths, new_layer, rank))
    if len(paths) == 0:
        return out
    n_tracks, width = paths.shape
    held = (layer_key[np.maximum(paths, 0)][:, :, None] == surfaces.keys[None, None, :]) & (
        paths >= 0
    )[:, :, None]
    held = held.any(axis=1)
    # Column of the innermost hit of each layer, by layer rank (0: innermost layer).
    n_layers = rank[:, -1]
    lcol = np.full((n_tracks, int(n_layers.max())), width, dtype=np.int64)
    t_idx, c_idx = np.nonzero(new_layer)
    lcol[t_idx, rank[t_idx, c_idx] - 1] = c_idx
    rows = np.arange(n_tracks)
    # Inwards from the three innermost layers, up to the closest approach to the beam.
    points = [positions[paths[rows, lcol[:, k]]] for k in (2, 1, 0)]
    q_track = [rows]
    q_points = [np.stack(points, axis=1)]
    q_insert = [np.zeros(n_tracks, dtype=np.int64)]
    q_kind = [np.zeros(n_tracks, dtype=np.int64)]
    q_last = [lcol[:, 0]]
    q_next = [lcol[:, 0]]
    if holes:
        # Every gap between two held layers k-1 and k, once: the first two from the
        # helix through layers k, k+1, k+2 inwards, the others from the helix through
        # layers k-3, k-2, k-1 outwards.
        tk, kk = np.nonzero(np.arange(1, 3)[None, :] <= (n_layers - 3)[:, None])
        kk = kk + 1
        q_track.append(tk)
        q_points.append(np.stack([positions[paths[tk, lcol[tk, kk + j]]] for j in (2, 1, 0)], 1))
        q_insert.append(lcol[tk, kk])
        q_kind.append(np.ones(len(tk), dtype=np.int64))
        q_last.append(lcol[tk, kk])
        q_next.append(lcol[tk, kk - 1])
        tk, kk = np.nonzero(np.arange(3, lcol.shape[1])[None, :] < n_layers[:, None])
        kk = kk + 2  # the last layer before the gap
        q_track.append(tk)
        q_points.append(np.stack([positions[paths[tk, lcol[tk, kk - j]]] for j in (2, 1, 0)], 1))
        q_insert.append(lcol[tk, kk + 1])
        q_kind.append(np.ones(len(tk), dtype=np.int64))
        q_last.append(lcol[tk, kk])
        q_next.append(lcol[tk, kk + 1])
    if outer:
        top = n_layers - 1
        q_track.append(rows)
        q_points.append(
            np.stack([positions[paths[rows, lcol[rows, top - j]]] for j in (2, 1, 0)], 1)
        )
        q_insert.append((paths >= 0).sum(axis=1))
        q_kind.append(np.full(n_tracks, 2, dtype=np.int64))
        q_last.append(lcol[rows, top])
        q_next.append(lcol[rows, top])
    track = np.concatenate(q_track)
    insert = np.concatenate(q_insert)
    kind = np.concatenate(q_kind)
    last = paths[track, np.concatenate(q_last)]
    state = HelixState(
        np.concatenate(q_points), np.full(len(track), 3, dtype=np.int64), layer_key[last]
    )
    frame = helix_frame(state)
    arc = helix_crossings(state, surfaces, surface_margin_mm, frame)
    limit = _arc_to_closest_approach(frame[0], frame[1], frame[2])
    if holes:
        nxt = paths[track, np.concatenate(q_next)]
        nxt_surface = surfaces.index_of(layer_key[nxt])
        to_next = arc[np.arange(len(track)), np.maximum(nxt_surface, 0)]
        limit = np.where(kind == 1, np.where(nxt_surface >= 0, to_next - 1e-6, 0.0), limit)
    limit = np.where(kind == 2, np.inf, limit)
    arc[arc > limit[:, None]] = np.inf
    arc[held[track]] = np.inf
    if outer:
        # Outwards, only the first layer the helix crosses beyond the track.
        ahead = kind == 2
        out_arc = arc[ahead]
        first = np.argmin(out_arc, axis=1)
        keep = np.full(out_arc.shape, np.inf)
        at = np.arange(len(first))
        keep[at, first] = out_arc[at, first]
        arc[ahead] = keep
    query, surface = np.nonzero(np.isfinite(arc))
    if len(query) == 0:
        return out
    c, tangent, kappa, tan_lambda = (part[query] for part in frame)
    points_q = helix_points(c, tangent, kappa, tan_lambda, arc[query, surface])
    found = HitIndex(positions[free_rows], workers=workers).nearest(points_q, window_mm, max_hits)
    u = free_rows[found.hit]
    query_track, query_surface = track[query[found.query]], surface[found.query]
    col = insert[query[found.query]]
    ok = layer_key[u] == surfaces.keys[query_surface]
    u, query_track, col = u[ok], query_track[ok], col[ok]
    if len(u) == 0:
        return out
    # Each candidate in a copy of its track's hits at its place, then refitted. A circle
    # fit bends towards a hit at the end of its lever arm, so the hit's own residual is
    # not enough: the fit's rms must not rise by more than max_rms_rise_mm.
    good, score = refit_accepts(
        positions,
        paths,
        query_track,
        col,
        u,
        sigma_z,
        sigma_r,
        max_residual_mm=max_residual_mm,
        max_pull_z=max_pull_z,
        max_rms_rise_mm=max_rms_rise_mm,
    )
    joined, owner, _ = assign_best(
        u[good], out[paths[query_track[good], 0]], score[good], layer_key
    )
    out[joined] = owner
    return out
