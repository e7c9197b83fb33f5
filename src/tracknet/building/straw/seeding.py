"""Straw seeds: hit pairs in the first modules, and their left/right variants."""

from __future__ import annotations

import numpy as np

from .hits import StrawHits
from .settings import StrawBuildConfig

__all__ = ["find_straw_seeds", "resolve_seeds"]


def find_straw_seeds(
    hits: StrawHits, config: StrawBuildConfig, available: np.ndarray | None = None
) -> np.ndarray:
    """Seed pairs ``(S, 2)`` of hit rows, sorted by first hit then second.

    See docs/straw-building.md (seeding).
    """
    lpm = hits.layers_per_module
    first = np.flatnonzero(
        (hits.layer < config.seed_modules * lpm) & (True if available is None else available)
    )
    pairs: list[np.ndarray] = []
    for span in range(1, config.seed_max_span + 1):
        a = first[(hits.layer[first] % lpm) + span < lpm]
        layer_b = hits.layer[a] + span
        dx = hits.layer_x[layer_b] - hits.x[a]
        half = config.seed_max_slope * dx + hits.pitch_mm
        q, b = hits.window(hits.event[a], layer_b, hits.y[a] - half, hits.y[a] + half)
        if available is not None:
            keep = available[b]
            q, b = q[keep], b[keep]
        pairs.append(np.stack([a[q], b], axis=1))
    seeds = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    order = np.lexsort((seeds[:, 1], seeds[:, 0]))
    return seeds[order].astype(np.int64)


def resolve_seeds(
    hits: StrawHits,
    seeds: np.ndarray,
    config: StrawBuildConfig,
    resolve: bool,
    drift: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(seed index, y_a, y_b)`` of the seed variants: without ``resolve`` one per seed at
    the straw centres; with it, the four left/right combinations of the two drift
    circles (see docs/straw-building.md), those steeper than ``seed_max_slope`` dropped."""
    a, b = seeds[:, 0], seeds[:, 1]
    if not resolve:
        return np.arange(len(seeds), dtype=np.int64), hits.y[a], hits.y[b]
    drift = hits.drift if drift is None else drift
    index = np.repeat(np.arange(len(seeds), dtype=np.int64), 4)
    sa = np.tile(np.array([-1.0, -1.0, 1.0, 1.0]), len(seeds))
    sb = np.tile(np.array([-1.0, 1.0, -1.0, 1.0]), len(seeds))
    ra, rb = a[index], b[index]
    dx = hits.x[rb] - hits.x[ra]
    ya, yb = hits.y[ra], hits.y[rb]
    slope = (yb - ya) / dx
    for _ in range(5):
        sec = np.sqrt(1.0 + slope * slope)
        ya = hits.y[ra] + sa * drift[ra] * sec
        yb = hits.y[rb] + sb * drift[rb] * sec
        slope = (yb - ya) / dx
    keep = np.abs(slope) <= config.seed_max_slope
    # Identical variants (a drift of 0 has one side only) are kept once.
    keep &= ~((sa > 0) & (drift[ra] <= 0.0)) & ~((sb > 0) & (drift[rb] <= 0.0))
    return index[keep], ya[keep], yb[keep]


def _seed_entries(
    hits: StrawHits, seeds: np.ndarray, ya: np.ndarray, yb: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeds grouped by span: ``(seed rows, entries (S, span + 1, 2))``, with the layers
    between the two hits (at ``y_a``, ``y_b``) filled by linear interpolation."""
    a, b = seeds[:, 0], seeds[:, 1]
    span = hits.layer[b] - hits.layer[a]
    groups = []
    for s in np.unique(span):
        rows = np.flatnonzero(span == s)
        layers = hits.layer[a[rows]][:, None] + np.arange(s + 1)[None, :]
        x = hits.layer_x[layers]
        xa, xb = hits.x[a[rows]][:, None], hits.x[b[rows]][:, None]
        y0, y1 = ya[rows][:, None], yb[rows][:, None]
        y = y0 + (y1 - y0) * (x - xa) / (xb - xa)
        groups.append((rows, np.stack([x, y], axis=-1)))
    return groups
