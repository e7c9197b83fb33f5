"""The TrackML score of a submission.

Definitions (the score of the TrackML challenge, one event):

* The **truth** table gives every hit (``hit_id``) its particle (``particle_id``, 0 for
  noise) and a **weight** (by default the truth's ``weight`` column; see
  :func:`hit_weights_for_scoring` for the alternatives). The **submission** gives hits a
  ``track_id``. Every ``track_id`` value is a track, 0 included (in the score, unlike in
  :mod:`tracknet.evaluation.matching`, 0 is not "no track"). A truth hit missing from the
  submission is on no track. A submission ``hit_id`` that is not in the truth, or that
  appears twice, is an error (:class:`~tracknet.errors.DataError` naming the column and
  the first offending submission row).
* The **majority particle** of a track is the particle with the most hits in the track;
  ties go to the smallest particle id. Noise (id 0) is a particle like any other here;
  its hits weigh 0, so a noise-majority track adds nothing.
* A track is **good** when its majority particle holds more than half of the track's hits
  *and* the track holds more than half of that particle's hits, the particle's hits being
  counted in this event's truth table (all its rows, submitted or not). Exactly half is
  not enough.
* The **score** is the summed weight of the majority particle's hits in the good tracks,
  divided by the total weight of the event (the sum of all hit weights). The division
  makes the score of a down-sampled event, whose weights no longer sum to 1, comparable
  with a full event's; for a full TrackML event the total is 1. An event whose total
  weight is 0 scores 0.0. Every particle is in at most one good track (a track holds more
  than half of it), so ``0 <= score <= 1``, and a perfect submission scores 1.
* ``min_pt`` (GeV, optional): before scoring, the weights of the hits of particles whose
  pT (``hypot(px, py)`` from the particles table) is below ``min_pt`` are set to 0, as
  are those of particles absent from the particles table. The remaining weights are thus
  renormalised by the division above: the score becomes the fraction of the weight of
  particles with pT >= ``min_pt`` that was found.
* Over several events, :func:`trackml_score_events` is the mean of the event scores (the
  challenge's leaderboard rule), not a pooled ratio.
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
