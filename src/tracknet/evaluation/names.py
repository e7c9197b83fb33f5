"""Metric names and their human labels: the one place where they are spelled.

Every consumer (JSON output of ``tracknet evaluate``, logging, plots, reports) takes the
key of a metric from here and, for display, its label from :data:`LABELS`. Renaming a
metric therefore means changing one line, and a key that is misspelled somewhere is an
``AttributeError`` instead of a silently missing column.

The definitions behind the names are in :mod:`tracknet.evaluation.score` (the TrackML
score) and :mod:`tracknet.evaluation.matching` (the tracking metrics).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "TRACKML_SCORE",
    "EFFICIENCY",
    "PERFECT_EFFICIENCY",
    "TRACKML_SCORE_MIN_PT",
    "FAKE_RATE",
    "DUPLICATE_RATE",
    "N_EVENTS",
    "N_PARTICLES",
    "N_FOUND",
    "N_PERFECT",
    "N_TRACKS",
    "N_FAKE",
    "N_MATCHED",
    "N_DUPLICATE",
    "RATE_NAMES",
    "COUNT_NAMES",
    "METRIC_NAMES",
    "LABELS",
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
