"""Clean-up of selected straw tracks: merge pieces, attach hits by fit, absorb fragments."""

from __future__ import annotations

import numpy as np

from ...events import UNASSIGNED_TRACK_ID
from ..builder import _first_ranks
from .fits import _MAX_SLOPE2, circle_residuals, circle_y_at
from .hits import StrawHits
from .settings import StrawBuildConfig

__all__ = ["absorb_fragments", "attach_by_fit", "merge_pieces"]


def merge_pieces(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> np.ndarray:
    """Join tracks of one event that are pieces of one trajectory (see docs/straw-building.md).

    Two tracks ``A``, ``B`` of an event with ``A``'s last layer before ``B``'s first are
    joined when the circle through all their hits has a residual RMS (per degree of
    freedom) of at most ``merge_rms_mm``; pairs are taken best first, each track in at
    most one pair per round, for ``merge_rounds`` rounds. Returns the new track ids
    (those of the earlier pieces kept, numbering not compacted)."""
    track_of_hit = track_of_hit.copy()
    n_layers = hits.n_layers
    for _ in range(config.merge_rounds):
        on = np.flatnonzero(track_of_hit > 0)
        if len(on) == 0:
            break
        ids, on, inverse, x, y, valid, event, _ = _track_matrix(track_of_hit, hit_y, hits)
        n = len(ids)
        first = np.argmax(valid, axis=1)
        last = n_layers - 1 - np.argmax(valid[:, ::-1], axis=1)
        a, b = _event_pairs(event)
        pair = last[a] < first[b]
        a, b = a[pair], b[pair]
        if len(a) == 0:
            break
        vu = valid[a] | valid[b]
        xu = np.where(valid[a], x[a], x[b])
        yu = np.where(valid[a], y[a], y[b])
        res = circle_residuals(xu, yu, vu)
        rms = np.sqrt(np.sum(res * res, axis=1) / np.maximum(vu.sum(axis=1) - 3, 1))
        ok = rms <= config.at_resolution(config.merge_rms_mm)
        a, b, rms = a[ok], b[ok], rms[ok]
        if len(a) == 0:
            break
        # Mutual best pairs: the best pair of both of its tracks.
        best_a = np.full(n, np.inf)
        np.minimum.at(best_a, a, rms)
        np.minimum.at(best_a, b, rms)
        take = (rms == best_a[a]) & (rms == best_a[b])
        a, b = a[take], b[take]
        # Ties can pair one track twice; keep each track's first pair only, and no
        # chains (a track both earlier and later piece) within one round.
        _, first_a = np.unique(a, return_index=True)
        keep_a = np.zeros(len(a), dtype=bool)
        keep_a[first_a] = True
        _, first_b = np.unique(b, return_index=True)
        keep_b = np.zeros(len(b), dtype=bool)
        keep_b[first_b] = True
        single = keep_a & keep_b & ~np.isin(a, b)
        a, b = a[single], b[single]
        if len(a) == 0:
            break
        new_id = ids.copy()
        new_id[b] = ids[a]
        track_of_hit[on] = new_id[inverse]
    return track_of_hit


def _track_matrix(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits
) -> tuple[np.ndarray, ...]:
    """Tracks as ``(ids, inverse, x, y, valid, event, hit row)`` matrices by global layer."""
    on = np.flatnonzero(track_of_hit > 0)
    n_layers = hits.n_layers
    ids, inverse = np.unique(track_of_hit[on], return_inverse=True)
    n = len(ids)
    x = np.zeros((n, n_layers))
    y = np.zeros((n, n_layers))
    valid = np.zeros((n, n_layers), dtype=bool)
    row = np.full((n, n_layers), -1, dtype=np.int64)
    x[inverse, hits.layer[on]] = hits.x[on]
    y[inverse, hits.layer[on]] = hit_y[on]
    valid[inverse, hits.layer[on]] = True
    row[inverse, hits.layer[on]] = on
    event = np.zeros(n, dtype=np.int64)
    event[inverse] = hits.event[on]
    return ids, on, inverse, x, y, valid, event, row


def _event_pairs(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(a, b)``, ``a != b``, of rows with the same ``event``."""
    order = np.argsort(event, kind="stable")
    ev_sorted = event[order]
    start = np.searchsorted(ev_sorted, ev_sorted, side="left")
    count = np.searchsorted(ev_sorted, ev_sorted, side="right") - start
    a = np.repeat(order, count)
    b = order[
        np.repeat(start, count)
        + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    ]
    keep = a != b
    return a[keep], b[keep]


def absorb_fragments(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> np.ndarray:
    """Dissolve short tracks that are fragments of a longer track of their event (module
    docstring): a track of at most ``fragment_max_hits`` hits, at least half of whose
    drift circles pass within ``attach_mm`` of the circle fitted through a longer track,
    is taken apart; those of its hits on layers where the longer track has none join it,
    the others are left free."""
    track_of_hit = track_of_hit.copy()
    if not np.any(track_of_hit > 0):
        return track_of_hit
    ids, _on, _inverse, x, y, valid, event, row = _track_matrix(track_of_hit, hit_y, hits)
    size = valid.sum(axis=1)
    a, b = _event_pairs(event)  # a: fragment candidate, b: longer track
    keep = (size[a] <= config.fragment_max_hits) & (size[b] > size[a]) & (size[b] >= 4)
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return track_of_hit
    _, fit = circle_residuals(x, y, valid, with_fit=True)
    n_layers = hits.n_layers
    pair_rows = np.repeat(np.arange(len(a)), n_layers)
    layer = np.tile(np.arange(n_layers), len(a))
    fb = tuple(f[b[pair_rows]] for f in fit)
    yc = circle_y_at(fb, hits.layer_x[layer]).reshape(len(a), n_layers)
    slope = circle_y_at(fb, hits.layer_x[layer] + 1.0).reshape(len(a), n_layers) - yc
    sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
    r = np.maximum(row[a], 0)
    wire = hits.y[r]
    off = hits.drift[r] * sec
    y_hit = wire + np.where(yc >= wire, off, -off)
    close = valid[a] & (np.abs(y_hit - yc) <= config.at_resolution(config.attach_mm))
    frag = 2 * close.sum(axis=1) >= size[a]
    if not frag.any():
        return track_of_hit
    # Each fragment goes to its longest host.
    fa, fb_, fclose, fy = a[frag], b[frag], close[frag], y_hit[frag]
    o = np.lexsort((-size[fb_], fa))
    fa, fb_, fclose, fy = fa[o], fb_[o], fclose[o], fy[o]
    head = _first_ranks(fa) == 0
    fa, fb_, fclose, fy = fa[head], fb_[head], fclose[head], fy[head]
    # Hosts are not themselves dissolved.
    ok = ~np.isin(fb_, fa)
    fa, fb_, fclose, fy = fa[ok], fb_[ok], fclose[ok], fy[ok]
    frag_rows = row[fa][valid[fa]]
    track_of_hit[frag_rows] = UNASSIGNED_TRACK_ID
    join = fclose & ~valid[fb_]
    # Two fragments may offer the same layer to one host: the first one wins.
    jr, jl = np.nonzero(join)
    key = fb_[jr] * n_layers + jl
    _, first = np.unique(key, return_index=True)
    jr, jl = jr[first], jl[first]
    track_of_hit[row[fa[jr], jl]] = ids[fb_[jr]]
    hit_y[row[fa[jr], jl]] = fy[jr, jl]
    return track_of_hit


def attach_by_fit(
    track_of_hit: np.ndarray, hit_y: np.ndarray, hits: StrawHits, config: StrawBuildConfig
) -> np.ndarray:
    """Grow tracks layer by layer before their first and after their last hit along the
    circle through their hits (see docs/straw-building.md): on each such layer the free hit whose
    drift circle lies nearest the fitted crossing joins when it lies within
    ``attach_mm``; ``max_misses + 1`` layers in a row without one end it. Vectorised
    over tracks; one pass per layer step. ``hit_y`` gets the crossings of the attached
    hits (in place)."""
    track_of_hit = track_of_hit.copy()
    if not np.any(track_of_hit > 0):
        return track_of_hit
    n_layers = hits.n_layers
    ids, _, _, x, y, valid, event, _ = _track_matrix(track_of_hit, hit_y, hits)
    n = len(ids)
    free = track_of_hit <= 0
    attach = config.at_resolution(config.attach_mm)
    for direction in (-1, 1):
        edge = (
            np.argmax(valid, axis=1)
            if direction < 0
            else n_layers - 1 - np.argmax(valid[:, ::-1], axis=1)
        )
        gap = np.zeros(n, dtype=np.int64)
        for _ in range(n_layers - 1):
            target = edge + direction
            go = (
                (target >= 0)
                & (target < n_layers)
                & (gap <= config.max_misses)
                & (valid.sum(axis=1) >= 4)
            )
            rows = np.flatnonzero(go)
            if len(rows) == 0:
                break
            _, fit = circle_residuals(x[rows], y[rows], valid[rows], with_fit=True)
            lx = hits.layer_x[target[rows]]
            yc = circle_y_at(fit, lx)
            slope = circle_y_at(fit, lx + 1.0) - yc
            sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
            reach = attach + hits.straw_radius_mm * sec
            q, hrow = hits.window(event[rows], target[rows], yc - reach, yc + reach)
            ok = free[hrow]
            q, hrow = q[ok], hrow[ok]
            off = hits.drift[hrow] * sec[q]
            y_hit = hits.y[hrow] + np.where(yc[q] >= hits.y[hrow], off, -off)
            dist = np.abs(y_hit - yc[q])
            good = dist <= attach
            q, hrow, y_hit, dist = q[good], hrow[good], y_hit[good], dist[good]
            # The nearest hit per track; a hit wanted by two tracks goes to the nearer.
            o = np.lexsort((hrow, dist, q))
            q, hrow, y_hit, dist = q[o], hrow[o], y_hit[o], dist[o]
            head = _first_ranks(q) == 0
            q, hrow, y_hit, dist = q[head], hrow[head], y_hit[head], dist[head]
            o = np.lexsort((q, dist, hrow))
            q, hrow, y_hit = q[o], hrow[o], y_hit[o]
            head = _first_ranks(hrow) == 0
            q, hrow, y_hit = q[head], hrow[head], y_hit[head]
            r = rows[q]
            t = target[r]
            x[r, t], y[r, t], valid[r, t] = hits.layer_x[t], y_hit, True
            track_of_hit[hrow] = ids[r]
            hit_y[hrow] = y_hit
            free[hrow] = False
            found = np.zeros(n, dtype=bool)
            found[r] = True
            gap[rows] = np.where(found[rows], 0, gap[rows] + 1)
            edge[rows] = target[rows]
            edge = np.where(go, edge, -10 * n_layers)  # finished tracks stay out
    return track_of_hit
