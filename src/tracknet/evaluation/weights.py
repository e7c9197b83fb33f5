"""TrackML phase-1 hit weights: pT factor x order factor, normalised per event.

:data:`ORDER_FACTORS` tabulates the order factors once at import. Only the particles
table's ``nhits`` enters the interpolation; the truth rows enter through the ranks.
Definitions: ``docs/metrics.md`` (Phase-1 hit weights).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tracknet.errors import DataError
from tracknet.evaluation._tables import float_column, int_column, require_columns, unique_ids

__all__ = [
    "MAX_ORDER_HITS",
    "MIN_WEIGHTED_HITS",
    "ORDER_FACTORS",
    "ORDER_PROPOSAL",
    "PT_FACTORS",
    "PT_KNOTS_GEV",
    "compute_hit_weights",
    "hit_order_ranks",
    "order_factor_table",
    "pt_factor",
]

#: The nine proposal values of the order factor, from the first hit to the last.
ORDER_PROPOSAL: Final[np.ndarray] = np.array([10, 8, 6, 5, 3, 3, 3, 5, 6], dtype=np.float64)
ORDER_PROPOSAL.setflags(write=False)
#: ``nhits`` above this use the table of this many hits; ranks from this on weigh 0.
MAX_ORDER_HITS: Final = 20
#: Particles with fewer hits (``nhits``) than this weigh 0.
MIN_WEIGHTED_HITS: Final = 4
#: Knots (GeV) and values of the piecewise linear pT factor.
PT_KNOTS_GEV: Final[tuple[float, ...]] = (0.05, 0.5, 3.0)
PT_FACTORS: Final[tuple[float, ...]] = (0.2, 0.2, 1.0)


def pt_factor(pt: ArrayLike) -> np.ndarray:
    """The pT factor (float64 array) of transverse momenta ``pt`` in GeV; see module doc."""
    pt = np.asarray(pt, dtype=np.float64)
    factor = np.interp(pt, PT_KNOTS_GEV, PT_FACTORS)  # constant beyond the outer knots
    return np.where(pt < PT_KNOTS_GEV[0], 0.0, factor)


def order_factor_table(max_hits: int = MAX_ORDER_HITS) -> np.ndarray:
    """Order factors for every particle size: ``table[n, r]`` for ``n <= max_hits``.

    Shape ``(max_hits + 1, max_hits)``. Row ``n`` holds the order factors of the ranks
    ``r = 0 .. n - 1`` of a particle with ``n`` hits (zeros from column ``n`` on) and sums
    to 1 for ``n >= 4``; rows ``n < 4`` are all zeros.
    """
    n = np.arange(max_hits + 1, dtype=np.float64)[:, None]
    r = np.arange(max_hits, dtype=np.float64)[None, :]
    segments = ORDER_PROPOSAL.size - 1  # 8 intervals between the 9 proposal positions
    with np.errstate(divide="ignore", invalid="ignore"):
        t = r * segments / (n - 1.0)  # position in units of the proposal spacing
    valid = (r < n) & (n >= MIN_WEIGHTED_HITS)
    t = np.where(valid, t, 0.0)
    left = np.minimum(np.floor(t).astype(np.int64), segments - 1)
    frac = t - left
    values = ORDER_PROPOSAL[left] + frac * (ORDER_PROPOSAL[left + 1] - ORDER_PROPOSAL[left])
    values = np.where(valid, values, 0.0)
    sums = values.sum(axis=1, keepdims=True)
    proposal: np.ndarray = np.divide(values, sums, out=np.zeros_like(values), where=sums > 0)
    return proposal


#: ``ORDER_FACTORS[min(nhits, 20), rank]``: the order factor table, computed once.
ORDER_FACTORS: Final[np.ndarray] = order_factor_table()
ORDER_FACTORS.setflags(write=False)


def hit_order_ranks(particle_id: ArrayLike, distance: ArrayLike) -> np.ndarray:
    """Rank of each hit within its particle: average 1-based rank of ``distance`` - 1, truncated.

    ``particle_id`` and ``distance`` are aligned arrays (one entry per hit); ties share
    their average rank, so two hits tied for the first place both get rank 0 (average
    1.5, minus 1, truncated).
    """
    ranks = (
        pd.Series(np.asarray(distance, dtype=np.float64))
        .groupby(np.asarray(particle_id), sort=False)
        .rank(method="average")
        .to_numpy()
    )
    order: np.ndarray = np.trunc(ranks - 1.0).astype(np.int64)
    return order


def compute_hit_weights(truth: pd.DataFrame, particles: pd.DataFrame) -> np.ndarray:
    """TrackML phase-1 weight of every truth row (float64, in the order of ``truth``).

    ``truth`` needs ``particle_id`` and ``tz``; ``particles`` needs ``particle_id, px, py,
    vz, nhits`` with unique particle ids. See the module docstring for the rule.
    """
    require_columns(truth, ("particle_id", "tz"), "truth")
    require_columns(particles, ("particle_id", "px", "py", "vz", "nhits"), "particles")
    hit_particle = int_column(truth, "particle_id", "truth")
    tz = float_column(truth, "tz", "truth")
    index = unique_ids(
        int_column(particles, "particle_id", "particles"), "particle_id", "particles"
    )
    pt = np.hypot(
        float_column(particles, "px", "particles"), float_column(particles, "py", "particles")
    )
    vz = float_column(particles, "vz", "particles")
    nhits = int_column(particles, "nhits", "particles")
    if (nhits < 0).any():
        row = int(np.flatnonzero(nhits < 0)[0])
        raise DataError("particles: negative nhits", column="nhits", row=row)

    weights = np.zeros(len(truth), dtype=np.float64)
    where = index.get_indexer(pd.Index(hit_particle))
    rows = np.flatnonzero((hit_particle > 0) & (where >= 0))
    if rows.size == 0:
        return weights
    particle = where[rows]
    rank = hit_order_ranks(hit_particle[rows], np.abs(tz[rows] - vz[particle]))
    n = np.minimum(nhits[particle], MAX_ORDER_HITS)
    in_table = rank < MAX_ORDER_HITS
    order = np.where(in_table, ORDER_FACTORS[n, np.minimum(rank, MAX_ORDER_HITS - 1)], 0.0)
    weights[rows] = pt_factor(pt[particle]) * order
    total = weights.sum()
    if total > 0:
        weights /= total
    return weights
