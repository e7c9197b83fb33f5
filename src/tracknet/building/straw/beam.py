"""Straw extension: every seed grown layer by layer with a beam (see docs/straw-building.md)."""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from ..builder import Candidates, _first_ranks
from .fits import _MAX_SLOPE2, circle_residuals
from .followers import resolve_min_drift, resolves_drift
from .hits import StrawHits
from .seeding import _seed_entries, resolve_seeds
from .settings import StrawBuildConfig

__all__ = ["extend_straw"]


def _appended_fit_rms(
    paths: np.ndarray,
    path_y: np.ndarray,
    n_hits: np.ndarray,
    parent: np.ndarray,
    hit: np.ndarray,
    hit_y: np.ndarray,
    hits: StrawHits,
) -> np.ndarray:
    """Residual RMS (mm per degree of freedom; 0 below 4 hits) of the circle through the
    hits of candidates ``parent`` with ``hit`` (taken at ``hit_y``) appended."""
    rms = np.zeros(len(parent))
    big = np.flatnonzero(n_hits[parent] >= 3)
    if len(big) == 0:
        return rms
    par = parent[big]
    col = n_hits[par]
    top = int(col.max()) + 1  # paths are packed from column 0: none holds more
    p = paths[par, :top]
    y = path_y[par, :top]
    rows = np.arange(len(big))
    p[rows, col] = hit[big]
    y[rows, col] = hit_y[big]
    valid = p >= 0
    x = np.where(valid, hits.x[np.maximum(p, 0)], 0.0)
    res = circle_residuals(x, np.where(valid, y, 0.0), valid)
    rms[big] = np.sqrt(np.sum(res * res, axis=1) / np.maximum(col + 1 - 3, 1))
    return rms


@overload
def extend_straw(
    follower: Any,
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    *,
    stats: dict[str, int] | None = ...,
    return_y: Literal[False] = ...,
) -> Candidates: ...


@overload
def extend_straw(
    follower: Any,
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    *,
    stats: dict[str, int] | None = ...,
    return_y: Literal[True],
) -> tuple[Candidates, np.ndarray]: ...


def extend_straw(
    follower: Any,
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    *,
    stats: dict[str, int] | None = None,
    return_y: bool = False,
) -> Candidates | tuple[Candidates, np.ndarray]:
    """Grow every seed layer by layer (see docs/straw-building.md); the ended candidates, and with
    ``return_y`` also the ``y`` (mm) each path hit was taken at (drift-resolved or the
    straw centre), ``(n_candidates, width)``."""
    n_layers = hits.n_layers
    width = n_layers
    if len(seeds) == 0:  # an event without a seed (no track in it)
        empty = Candidates.empty(width, 2)
        return (empty, np.zeros((0, width))) if return_y else empty
    resolve = resolves_drift(follower, config)
    min_drift = resolve_min_drift(follower, config)
    drift = np.where(hits.drift >= min_drift, hits.drift, 0.0)
    seed_index, seed_ya, seed_yb = resolve_seeds(hits, seeds, config, resolve, drift)
    if len(seed_index) == 0:
        empty = Candidates.empty(width, 2)
        return (empty, np.zeros((0, width))) if return_y else empty
    variants = seeds[seed_index]
    groups = _seed_entries(hits, variants, seed_ya, seed_yb)
    order = np.concatenate([g[0] for g in groups])
    seed_of = seed_index[order]
    variants, seed_ya, seed_yb = variants[order], seed_ya[order], seed_yb[order]
    state = follower.concatenate([follower.start(entries) for _, entries in groups])
    s = len(variants)
    paths = np.full((s, width), -1, dtype=np.int64)
    paths[:, :2] = variants
    path_y = np.zeros((s, width))
    path_y[:, 0], path_y[:, 1] = seed_ya, seed_yb
    last_y = seed_yb.copy()
    last_side = np.zeros(s, dtype=np.int64)
    n_hits = np.full(s, 2, dtype=np.int64)
    cost = np.zeros(s)
    misses = np.zeros(s, dtype=np.int64)
    consec = np.zeros(s, dtype=np.int64)
    carry = np.zeros(s)  # squared radii of the holes since the last hit (inflation)
    inflate = bool(getattr(follower, "inflate_after_holes", False))
    project = bool(getattr(follower, "project_to_layer", False))
    layer = hits.layer[variants[:, 1]].copy()
    done: list[tuple[np.ndarray, ...]] = []
    counters = {"steps": 0, "live_max": s, "seed_variants": s}

    def finish(index: np.ndarray) -> None:
        keep = index[n_hits[index] >= config.min_hits]
        if len(keep):
            done.append(
                (paths[keep], n_hits[keep], cost[keep], misses[keep], seed_of[keep], path_y[keep])
            )

    while len(n_hits):
        counters["steps"] += 1
        n = len(n_hits)
        nxt = layer + 1
        alive = nxt < n_layers
        finish(np.flatnonzero(~alive))
        live = np.flatnonzero(alive)
        if len(live) == 0:
            break
        next_x = hits.layer_x[nxt[live]]
        centre, radius = follower.predict(
            state, paths, n_hits, hits, hits.layer_x[np.minimum(nxt, n_layers - 1)], path_y=path_y
        )
        centre, radius = centre[live], np.maximum(radius[live], 1e-6)
        if inflate:
            radius = np.sqrt(radius * radius + carry[live])
        event = hits.event[paths[live, 0]]
        if project:
            # The plane of the next layer is known: slide the centre along the line from
            # the last entry to the predicted crossing onto it (a model that misjudges the
            # step along x, e.g. at a module gap after a seed in a later layer, keeps its
            # direction).
            last_x = hits.layer_x[layer[live]]
            run = centre[:, 0] - last_x
            ok = run > 1e-3 * (next_x - last_x)
            t = np.where(ok, (next_x - last_x) / np.where(ok, run, 1.0), 1.0)
            centre = np.stack(
                [
                    np.where(ok, next_x, centre[:, 0]),
                    last_y[live] + t * (centre[:, 1] - last_y[live]),
                ],
                axis=1,
            )
        dx = next_x - centre[:, 0]
        half = np.sqrt(np.maximum(radius * radius - dx * dx, 0.0))
        if resolve:
            # The slope from the last entry to the predicted crossing: a hit's crossing
            # lies drift * sec on the side of its wire nearest the prediction.
            slope = (centre[:, 1] - last_y[live]) / np.maximum(
                next_x - hits.layer_x[layer[live]], 1e-6
            )
            sec = np.sqrt(1.0 + np.minimum(slope * slope, _MAX_SLOPE2))
            margin = hits.straw_radius_mm * sec
        else:
            sec = margin = np.zeros(len(live))
        q, h = hits.window(
            event, nxt[live], centre[:, 1] - half - margin, centre[:, 1] + half + margin
        )
        hit_y = hits.y[h]
        side = np.zeros(len(h), dtype=np.int64)
        if resolve:
            off = drift[h] * sec[q]
            if config.both_sides:
                # Both sides of each drift circle are children (the beam decides); a drift
                # of 0 (or below the resolution threshold) has one side only.
                two = off > 0
                extra = np.flatnonzero(two)
                q = np.concatenate([q, q[extra]])
                h = np.concatenate([h, h[extra]])
                side = np.concatenate([np.where(two, 1, 0), np.full(len(extra), -1)])
                hit_y = hits.y[h] + side * off[np.concatenate([np.arange(len(off)), extra])]
            else:
                side = np.where(centre[q, 1] >= hit_y, 1, -1)
                hit_y = hit_y + side * off
        dy = hit_y - centre[q, 1]
        norm = np.sqrt(dx[q] ** 2 + dy**2) / radius[q]
        keep = norm <= 1.0
        q, h, dy, norm, hit_y, side = (
            q[keep],
            h[keep],
            dy[keep],
            norm[keep],
            hit_y[keep],
            side[keep],
        )
        if resolve and config.beam_fit_rms_mm is not None and len(q):
            # A hit that takes the candidate off a circle through its hits is no child.
            fits = _appended_fit_rms(
                paths, path_y, n_hits, live[q], h, hit_y, hits
            ) <= config.at_resolution(config.beam_fit_rms_mm)
            q, h, dy, norm, hit_y, side = (
                q[fits],
                h[fits],
                dy[fits],
                norm[fits],
                hit_y[fits],
                side[fits],
            )
        step_cost = norm + config.drift_weight * np.abs(np.abs(dy) - hits.drift[h]) / radius[q]
        by = np.lexsort((side, h, step_cost, q))
        q, h, step_cost, norm, hit_y, side = (
            q[by],
            h[by],
            step_cost[by],
            norm[by],
            hit_y[by],
            side[by],
        )
        first_rank = _first_ranks(q)
        best = np.full(len(live), np.inf)
        np.minimum.at(best, q, norm)
        take = first_rank < config.max_branches
        q, h, step_cost, hit_y, side = q[take], h[take], step_cost[take], hit_y[take], side[take]
        hole = (best > config.skip_above) & (consec[live] < config.max_misses)
        hq = np.flatnonzero(hole)
        parent = live[np.concatenate([q, hq])]
        child_hit = np.concatenate([h, np.full(len(hq), -1, dtype=np.int64)])
        child_cost = cost[parent] + np.concatenate(
            [step_cost, np.full(len(hq), config.miss_penalty)]
        )
        child_y = np.concatenate([hit_y, centre[hq, 1]])
        child_side = np.concatenate([side, np.full(len(hq), 2, dtype=np.int64)])
        child_r2 = radius[np.concatenate([q, hq])] ** 2
        has_child = np.zeros(n, dtype=bool)
        has_child[parent] = True
        finish(live[~has_child[live]])
        # Beam: the best beam_width children of each seed (all its left/right variants).
        child_seed = seed_of[parent]
        o = np.lexsort((child_hit, parent, child_cost, child_seed))
        keep = o[_first_ranks(child_seed[o]) < config.beam_width]
        # Merge children that stand on the same layer after the same two hits.
        is_hit = child_hit >= 0
        last = np.where(is_hit, child_hit, paths[parent, n_hits[parent] - 1])
        before = np.where(
            is_hit, paths[parent, n_hits[parent] - 1], paths[parent, n_hits[parent] - 2]
        )
        child_n = n_hits[parent] + is_hit
        # The side of the last hit is part of "the same hits" (both sides may live on).
        child_last_side = np.where(is_hit, child_side, last_side[parent])
        if len(keep):
            child_layer = layer[parent] + 1
            m = np.lexsort(
                (
                    keep,
                    child_cost[keep],
                    -child_n[keep],
                    child_layer[keep],
                    child_last_side[keep],
                    before[keep],
                    last[keep],
                )
            )
            km = keep[m]
            twin = np.zeros(len(km), dtype=bool)
            twin[1:] = (
                (last[km][1:] == last[km][:-1])
                & (before[km][1:] == before[km][:-1])
                & (child_layer[km][1:] == child_layer[km][:-1])
                & (child_last_side[km][1:] == child_last_side[km][:-1])
            )
            keep = np.sort(km[~twin])
        parent, child_hit, child_cost, is_hit, child_y, child_r2, child_last_side = (
            parent[keep],
            child_hit[keep],
            child_cost[keep],
            is_hit[keep],
            child_y[keep],
            child_r2[keep],
            child_last_side[keep],
        )
        last_side = child_last_side
        new_paths = paths[parent]
        new_path_y = path_y[parent]
        rows = np.flatnonzero(is_hit)
        new_paths[rows, n_hits[parent][rows]] = child_hit[rows]
        new_path_y[rows, n_hits[parent][rows]] = child_y[rows]
        paths, path_y = new_paths, new_path_y
        n_hits = n_hits[parent] + is_hit
        misses = misses[parent] + ~is_hit
        consec = np.where(is_hit, 0, consec[parent] + 1)
        carry = np.where(is_hit, 0.0, child_r2)
        cost = child_cost
        seed_of = seed_of[parent]
        layer = layer[parent] + 1
        last_y = child_y
        entries = np.stack([hits.layer_x[layer], child_y], axis=1)
        state = follower.advance(state, parent, entries, is_hit=is_hit, layer_x=hits.layer_x)
        counters["live_max"] = max(counters["live_max"], len(n_hits))
    if stats is not None:
        stats.update(counters)
    if not done:
        empty = Candidates.empty(width, 2)
        return (empty, np.zeros((0, width))) if return_y else empty
    parts = list(zip(*done, strict=True))
    candidates = Candidates(
        paths=np.concatenate(parts[0]),
        n_hits=np.concatenate(parts[1]),
        cost=np.concatenate(parts[2]),
        misses=np.concatenate(parts[3]),
        seed=np.concatenate(parts[4]),
        n_seed_hits=2,
    )
    return (candidates, np.concatenate(parts[5])) if return_y else candidates
