"""Metric names and their human labels: the one place where they are spelled.

Every consumer (JSON output of ``tracknet evaluate``, logging, plots, reports) takes the
key of a metric from here and, for display, its label from :data:`LABELS`. Renaming a
metric therefore means changing one line, and a key that is misspelled somewhere is an
``AttributeError`` instead of a silently missing column.

The definitions behind the names are in :mod:`tracknet.evaluation.score` (the TrackML
score), :mod:`tracknet.evaluation.matching` (the tracking metrics),
:mod:`tracknet.evaluation.semisynthetic` (semi-synthetic events) and
:mod:`tracknet.evaluation.straw` (the straw tracker's metrics).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COUNT_NAMES",
    "DUPLICATE_RATE",
    "EFFICIENCY",
    "FAKE_RATE",
    "FOUND_FRACTION",
    "LABELS",
    "METRIC_NAMES",
    "N_DUPLICATE",
    "N_EVENTS",
    "N_FAKE",
    "N_FOUND",
    "N_HITS_ASSIGNED",
    "N_HITS_WRONG",
    "N_MATCHED",
    "N_PARTICLES",
    "N_PERFECT",
    "N_SPLIT",
    "N_TRACKS",
    "N_TRACKS_TRUE",
    "N_TRACKS_UNKNOWN",
    "N_UNLABELLED_HITS",
    "N_UNLABELLED_HITS_ON_MATCHED_TRACKS",
    "N_UNLABELLED_HITS_ON_TRACKS",
    "PERFECT_EFFICIENCY",
    "PRECISION_ON_FOUND_TRACKS",
    "RATE_NAMES",
    "SEMISYNTHETIC_NAMES",
    "SPLIT_FRACTION",
    "STRAW_NAMES",
    "TRACKML_SCORE",
    "TRACKML_SCORE_MIN_PT",
    "UNLABELLED_HITS_ON_TRACKS_FRACTION",
    "WRONG_HIT_FRACTION",
    "label",
]

TRACKML_SCORE: Final = "trackml_score"
#: The score with the weights of particles below the selection's pT cut set to zero.
TRACKML_SCORE_MIN_PT: Final = "trackml_score_min_pt"
EFFICIENCY: Final = "efficiency"
PERFECT_EFFICIENCY: Final = "perfect_efficiency"
FAKE_RATE: Final = "fake_rate"
DUPLICATE_RATE: Final = "duplicate_rate"

N_EVENTS: Final = "n_events"
N_PARTICLES: Final = "n_particles"
N_FOUND: Final = "n_found"
N_PERFECT: Final = "n_perfect"
N_TRACKS: Final = "n_tracks"
N_FAKE: Final = "n_fake"
N_MATCHED: Final = "n_matched"
N_DUPLICATE: Final = "n_duplicate"

#: The rates of :class:`~tracknet.evaluation.matching.TrackingMetrics`, in output order.
RATE_NAMES: Final[tuple[str, ...]] = (EFFICIENCY, PERFECT_EFFICIENCY, FAKE_RATE, DUPLICATE_RATE)
#: The counts behind the rates, in output order.
COUNT_NAMES: Final[tuple[str, ...]] = (
    N_EVENTS,
    N_PARTICLES,
    N_FOUND,
    N_PERFECT,
    N_TRACKS,
    N_FAKE,
    N_MATCHED,
    N_DUPLICATE,
)
#: Every metric key, in the order in which summaries list them.
METRIC_NAMES: Final[tuple[str, ...]] = (TRACKML_SCORE, *RATE_NAMES, *COUNT_NAMES)

# Semi-synthetic events (real unlabelled hits + overlaid labelled tracks), see
# :mod:`tracknet.evaluation.semisynthetic`; their summaries hold METRIC_NAMES (with the
# fake rate and count None: unknowable) followed by these.
N_UNLABELLED_HITS: Final = "n_unlabelled_hits"
N_UNLABELLED_HITS_ON_TRACKS: Final = "n_unlabelled_hits_on_tracks"
N_UNLABELLED_HITS_ON_MATCHED_TRACKS: Final = "n_unlabelled_hits_on_matched_tracks"
UNLABELLED_HITS_ON_TRACKS_FRACTION: Final = "unlabelled_hits_on_tracks_fraction"
N_TRACKS_UNKNOWN: Final = "n_tracks_unknown"
SEMISYNTHETIC_NAMES: Final[tuple[str, ...]] = (
    UNLABELLED_HITS_ON_TRACKS_FRACTION,
    N_UNLABELLED_HITS,
    N_UNLABELLED_HITS_ON_TRACKS,
    N_UNLABELLED_HITS_ON_MATCHED_TRACKS,
    N_TRACKS_UNKNOWN,
)

# The straw tracker's metrics, see :mod:`tracknet.evaluation.straw`.
PRECISION_ON_FOUND_TRACKS: Final = "precision_on_found_tracks"
WRONG_HIT_FRACTION: Final = "wrong_hit_fraction"
FOUND_FRACTION: Final = "found_fraction"
SPLIT_FRACTION: Final = "split_fraction"
N_TRACKS_TRUE: Final = "n_tracks_true"
N_SPLIT: Final = "n_split"
N_HITS_ASSIGNED: Final = "n_hits_assigned"
N_HITS_WRONG: Final = "n_hits_wrong"
STRAW_NAMES: Final[tuple[str, ...]] = (
    PRECISION_ON_FOUND_TRACKS,
    WRONG_HIT_FRACTION,
    FOUND_FRACTION,
    SPLIT_FRACTION,
    N_TRACKS_TRUE,
    N_SPLIT,
    N_HITS_ASSIGNED,
    N_HITS_WRONG,
)

LABELS: Final[dict[str, str]] = {
    TRACKML_SCORE: "TrackML score",
    TRACKML_SCORE_MIN_PT: "TrackML score, particles above the pT cut",
    EFFICIENCY: "Tracking efficiency (double majority)",
    PERFECT_EFFICIENCY: "Perfect-match efficiency",
    FAKE_RATE: "Fake rate",
    DUPLICATE_RATE: "Duplicate rate",
    N_EVENTS: "Events",
    N_PARTICLES: "Selected particles",
    N_FOUND: "Found particles (double majority)",
    N_PERFECT: "Perfectly matched particles",
    N_TRACKS: "Considered tracks",
    N_FAKE: "Fake tracks",
    N_MATCHED: "Matched tracks of selected particles",
    N_DUPLICATE: "Duplicate tracks",
    N_UNLABELLED_HITS: "Unlabelled (real) hits",
    N_UNLABELLED_HITS_ON_TRACKS: "Unlabelled hits taken by tracks",
    N_UNLABELLED_HITS_ON_MATCHED_TRACKS: "Unlabelled hits in tracks of overlaid particles",
    UNLABELLED_HITS_ON_TRACKS_FRACTION: "Fraction of unlabelled hits taken by tracks",
    N_TRACKS_UNKNOWN: "Tracks without an overlaid majority (real or fake: unknown)",
    PRECISION_ON_FOUND_TRACKS: "Precision on found tracks (hits of the true track found)",
    WRONG_HIT_FRACTION: "Wrong-hit fraction of assigned hits",
    FOUND_FRACTION: "Found tracks / true tracks",
    SPLIT_FRACTION: "Split tracks / true tracks",
    N_TRACKS_TRUE: "True tracks",
    N_SPLIT: "Split true tracks",
    N_HITS_ASSIGNED: "Labelled hits assigned to tracks",
    N_HITS_WRONG: "Wrong hits assigned to tracks",
}


def label(name: str) -> str:
    """The human label of the metric ``name`` (the name itself when it has none).

    A name may carry a suffix after the last known key, as in ``"efficiency_pt1.0"``; the
    label is then the known label followed by the suffix in brackets.
    """
    if name in LABELS:
        return LABELS[name]
    for key in sorted(LABELS, key=len, reverse=True):
        if name.startswith(key + "_"):
            return f"{LABELS[key]} ({name[len(key) + 1 :]})"
    return name
