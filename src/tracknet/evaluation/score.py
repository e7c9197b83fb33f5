"""The TrackML score of a submission (the challenge's rule, one event or the mean of many).

Every ``track_id`` is a track here, 0 included (unlike in
:mod:`tracknet.evaluation.matching`); ``min_pt`` zeroes the weights of low-pT
particles before scoring. Definitions: ``docs/metrics.md`` (TrackML score).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tracknet.errors import DataError
from tracknet.evaluation._tables import (
    float_column,
    int_column,
    require_columns,
    submission_tracks,
    unique_ids,
)
from tracknet.evaluation.weights import compute_hit_weights

__all__ = [
    "hit_weights_for_scoring",
    "majority_table",
    "trackml_score",
    "trackml_score_events",
]


def hit_weights_for_scoring(
    truth: pd.DataFrame,
    weights: ArrayLike | None = None,
    *,
    particles: pd.DataFrame | None = None,
    use_computed_weights: bool = False,
    min_pt: float | None = None,
) -> np.ndarray:
    """The weight of every truth row used by :func:`trackml_score` (float64, truth order).

    In order of precedence: the given ``weights`` (one per truth row); the weights
    computed from ``truth`` and ``particles`` with
    :func:`~tracknet.evaluation.weights.compute_hit_weights` when
    ``use_computed_weights`` is true or ``truth`` has no ``weight`` column; otherwise
    ``truth["weight"]``. Then, when ``min_pt`` is given, the weights of the hits of
    particles with pT below ``min_pt`` (or absent from ``particles``) are set to 0.
    Weights must be finite and non-negative.
    """
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != len(truth):
            raise DataError(
                f"weights: {w.size} values for {len(truth)} truth rows", column="weight"
            )
        w = float_column(pd.DataFrame({"weight": w}), "weight", "weights")
    elif use_computed_weights or "weight" not in truth.columns:
        if particles is None:
            raise DataError(
                "truth has no 'weight' column and no particles table was given to compute it"
                if "weight" not in truth.columns
                else "computed weights need the particles table",
                column="weight",
            )
        w = compute_hit_weights(truth, particles)
    else:
        w = float_column(truth, "weight", "truth").copy()
    if (w < 0).any():
        row = int(np.flatnonzero(w < 0)[0])
        raise DataError(f"negative hit weight {w[row]!r}", column="weight", row=row)
    if min_pt is not None:
        if particles is None:
            raise DataError("min_pt needs the particles table (px, py)", column="particle_id")
        require_columns(particles, ("particle_id", "px", "py"), "particles")
        index = unique_ids(
            int_column(particles, "particle_id", "particles"), "particle_id", "particles"
        )
        pt = np.hypot(
            float_column(particles, "px", "particles"), float_column(particles, "py", "particles")
        )
        where = index.get_indexer(pd.Index(int_column(truth, "particle_id", "truth")))
        hit_pt = np.where(where >= 0, pt[np.maximum(where, 0)], -np.inf)
        w = np.where(hit_pt >= min_pt, w, 0.0)
    return w


def majority_table(particle_id: np.ndarray, track_id: np.ndarray) -> pd.DataFrame:
    """One row per track: its size and its majority particle, sorted by ``track_id``.

    Inputs are aligned per-hit arrays of the hits that are on a track. Columns:
    ``track_id``, ``n_hits`` (hits in the track), ``particle_id`` (the majority particle:
    most hits in the track, ties to the smallest id) and ``n_majority`` (its hits in the
    track).
    """
    pairs = (
        pd.DataFrame(
            {
                "track_id": np.asarray(track_id, dtype=np.int64),
                "particle_id": np.asarray(particle_id, dtype=np.int64),
            }
        )
        .groupby(["track_id", "particle_id"], sort=False)
        .size()
        .rename("n_majority")
        .reset_index()
    )
    pairs["n_hits"] = pairs.groupby("track_id", sort=False)["n_majority"].transform("sum")
    # Sorted by track, then most hits first, then the smallest particle id: the first row
    # of each track is its majority.
    order = np.lexsort(
        (
            pairs["particle_id"].to_numpy(),
            -pairs["n_majority"].to_numpy(),
            pairs["track_id"].to_numpy(),
        )
    )
    pairs = pairs.iloc[order]
    first = ~pairs["track_id"].duplicated()
    out = pairs.loc[first, ["track_id", "n_hits", "particle_id", "n_majority"]]
    return out.reset_index(drop=True).astype({"n_hits": np.int64, "n_majority": np.int64})


def trackml_score(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    weights: ArrayLike | None = None,
    *,
    particles: pd.DataFrame | None = None,
    use_computed_weights: bool = False,
    min_pt: float | None = None,
) -> float:
    """The TrackML score of ``submission`` for one event (see the module docstring).

    ``truth`` needs ``hit_id`` and ``particle_id`` (and ``weight`` unless the weights are
    given or computed); ``submission`` needs ``hit_id`` and ``track_id``. ``weights``,
    ``particles``, ``use_computed_weights`` and ``min_pt`` choose the hit weights as in
    :func:`hit_weights_for_scoring`.
    """
    require_columns(truth, ("hit_id", "particle_id"), "truth")
    hit_index = unique_ids(int_column(truth, "hit_id", "truth"), "hit_id", "truth")
    particle_id = int_column(truth, "particle_id", "truth")
    w = hit_weights_for_scoring(
        truth,
        weights,
        particles=particles,
        use_computed_weights=use_computed_weights,
        min_pt=min_pt,
    )
    track_id, submitted = submission_tracks(hit_index, submission)
    # Exactly rounded sums: the score depends only on which hits are found, not on the
    # order of rows or the values of the track ids.
    total = math.fsum(w)
    if total <= 0.0 or not submitted.any():
        return 0.0

    hit_particle = particle_id[submitted]
    hit_track = track_id[submitted]
    tracks = majority_table(hit_particle, hit_track)
    particle_ids, particle_sizes = np.unique(particle_id, return_counts=True)
    majority = tracks["particle_id"].to_numpy()
    majority_size = particle_sizes[np.searchsorted(particle_ids, majority)]
    n_majority = tracks["n_majority"].to_numpy()
    good = (2 * n_majority > tracks["n_hits"].to_numpy()) & (2 * n_majority > majority_size)
    # Per hit: is it a hit of the majority particle of a good track?
    position = np.searchsorted(tracks["track_id"].to_numpy(), hit_track)
    found = good[position] & (hit_particle == majority[position])
    return math.fsum(w[submitted][found]) / total


def trackml_score_events(
    events: Iterable[tuple[pd.DataFrame, ...]],
    *,
    use_computed_weights: bool = False,
    min_pt: float | None = None,
) -> float:
    """Mean TrackML score over events, each given as ``(truth, submission)`` or
    ``(truth, submission, particles)``; the options are those of :func:`trackml_score`.

    Raises :class:`DataError` when there are no events.
    """
    scores = []
    for truth, submission, *rest in events:  # a loop over events, not over hits
        scores.append(
            trackml_score(
                truth,
                submission,
                particles=rest[0] if rest else None,
                use_computed_weights=use_computed_weights,
                min_pt=min_pt,
            )
        )
    if not scores:
        raise DataError("no events to score")
    return float(np.mean(scores))
