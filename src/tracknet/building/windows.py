"""Pairs of points within windows of azimuth (and of a second coordinate), found by
sorting and binary search: the pair search of :mod:`~tracknet.building.seeding`."""

from __future__ import annotations

import numpy as np

__all__ = ["phi_window_pairs", "ragged_ranges", "window_pairs_2d"]


def ragged_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[lo_i, hi_i)``: the owner ``i`` and the value of every element, flat."""
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    value = lo[owner] + (np.arange(int(counts.sum()), dtype=np.int64) - starts[owner])
    return owner, value


def _wrapped(phi: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """``(phi, index)`` of the targets with copies of those within ``width`` of +-pi on
    the other side (shifted by 2 pi), so that a window near the wrap finds them."""
    index = np.arange(len(phi), dtype=np.int64)
    low = phi < -np.pi + width
    high = phi > np.pi - width
    phi_all = np.concatenate([phi, phi[low] + 2 * np.pi, phi[high] - 2 * np.pi])
    return phi_all, np.concatenate([index, index[low], index[high]])


def phi_window_pairs(
    phi_query: np.ndarray, half_width: np.ndarray, phi_target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All ``(query, target)`` with ``|phi_target - phi_query| <= half_width`` (mod 2 pi)."""
    if len(phi_query) == 0 or len(phi_target) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    width = float(half_width.max()) if len(half_width) else 0.0
    phi_all, index_all = _wrapped(phi_target, width)
    order = np.argsort(phi_all, kind="stable")
    phi_sorted = phi_all[order]
    lo = np.searchsorted(phi_sorted, phi_query - half_width, side="left")
    hi = np.searchsorted(phi_sorted, phi_query + half_width, side="right")
    owner, pos = ragged_ranges(lo, hi)
    target = index_all[order[pos]]
    # A target can be reached twice through the wrap only when the window exceeds pi.
    if width > np.pi / 2:
        key = owner * len(phi_target) + target
        _, first = np.unique(key, return_index=True)
        owner, target = owner[first], target[first]
    return owner, target


def window_pairs_2d(
    phi_query: np.ndarray,
    half_width: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    phi_target: np.ndarray,
    along_target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """All ``(query, target)`` with ``|phi_t - phi_q| <= half_width`` (mod 2 pi) and
    ``low_q <= along_t <= high_q``.

    Targets are binned along the second coordinate (bins about half the typical window)
    and sorted by (bin, phi); each query scans, with binary searches, the phi window of
    every bin its interval overlaps. Unbounded intervals fall back to all bins.
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(phi_query) == 0 or len(phi_target) == 0:
        return empty, empty
    finite = np.isfinite(low) & np.isfinite(high)
    if not finite.any():
        owner, target = phi_window_pairs(phi_query, half_width, phi_target)
    else:
        v_min, v_max = float(along_target.min()), float(along_target.max())
        width = max(float(np.median(high[finite] - low[finite])) / 2.0, 1.0)
        n_bins = int(min(max((v_max - v_min) / width, 1.0), 4096)) + 1
        width = max((v_max - v_min) / (n_bins - 1), 1e-9) if n_bins > 1 else 1.0
        wrap = float(half_width.max())
        phi_all, index_all = _wrapped(phi_target, wrap)
        bins = np.clip(((along_target[index_all] - v_min) / width).astype(np.int64), 0, n_bins - 1)
        stride = 2 * np.pi + 2 * wrap + 1.0
        keys = bins * stride + (phi_all + np.pi + wrap)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        first_bin = np.clip(
            np.floor((np.maximum(low, v_min - 1.0) - v_min) / width), 0, n_bins - 1
        ).astype(np.int64)
        last_bin = np.clip(
            np.floor((np.minimum(high, v_max + 1.0) - v_min) / width), 0, n_bins - 1
        ).astype(np.int64)
        inside = (high >= v_min) & (low <= v_max)
        counts = np.where(inside, last_bin - first_bin + 1, 0)
        query, b = ragged_ranges(first_bin, first_bin + counts)
        centre = b * stride + phi_query[query] + np.pi + wrap
        lo = np.searchsorted(keys, centre - half_width[query], side="left")
        hi = np.searchsorted(keys, centre + half_width[query], side="right")
        which, pos = ragged_ranges(lo, hi)
        owner, target = query[which], index_all[order[pos]]
        if wrap > np.pi / 2:
            key = owner * len(phi_target) + target
            _, first = np.unique(key, return_index=True)
            owner, target = owner[first], target[first]
    keep = (along_target[target] >= low[owner]) & (along_target[target] <= high[owner])
    return owner[keep], target[keep]
