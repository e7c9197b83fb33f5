"""Evaluation: TrackML hit weights and score, and tracking metrics by truth matching.

* :mod:`~tracknet.evaluation.weights`: the TrackML phase-1 hit weights;
* :mod:`~tracknet.evaluation.score`: the TrackML score of a submission;
* :mod:`~tracknet.evaluation.matching`: double-majority efficiency, perfect matches, fake
  and duplicate rates, binned efficiencies, pooling over events;
* :mod:`~tracknet.evaluation.evaluate`: all of it for :class:`~tracknet.events.Event`
  objects, the JSON summary and the directory result type;
* :mod:`~tracknet.evaluation.files`: a submission against a dataset directory, evaluated
  by the directory's detector (:mod:`~tracknet.evaluation.trackml_files` for TrackML);
* :mod:`~tracknet.evaluation.semisynthetic`: semi-synthetic events (overlaid tracks on
  unlabelled real hits): efficiency on the overlaid tracks, no fake rate;
* :mod:`~tracknet.evaluation.straw`: the straw tracker's metrics (precision on found
  tracks, wrong-hit, found and split fractions), many events at once;
* :mod:`~tracknet.evaluation.names`: the metric keys and labels, in one place.

Each module's docstring states its definitions.
"""

from __future__ import annotations

from tracknet.evaluation import names
from tracknet.evaluation.evaluate import (
    EventEvaluation,
    evaluate_event,
    evaluate_events,
    event_truth,
    summarize,
)
from tracknet.evaluation.matching import (
    DEFAULT_MIN_TRACK_HITS,
    DEFAULT_PRIMARY_MAX_ABS_VZ_MM,
    DEFAULT_PRIMARY_MAX_VR_MM,
    MatchResult,
    ParticleSelection,
    TrackingMetrics,
    aggregate,
    efficiency_binned,
    match_tracks,
    tracking_metrics,
)
from tracknet.evaluation.score import (
    hit_weights_for_scoring,
    majority_table,
    trackml_score,
    trackml_score_events,
)
from tracknet.evaluation.semisynthetic import (
    SemiSyntheticMetrics,
    aggregate_semisynthetic,
    evaluate_semisynthetic,
    has_unlabelled_hits,
)
from tracknet.evaluation.straw import StrawMetrics, aggregate_straw, evaluate_straw, straw_metrics
from tracknet.evaluation.weights import (
    ORDER_FACTORS,
    compute_hit_weights,
    hit_order_ranks,
    order_factor_table,
    pt_factor,
)

__all__ = [
    "DEFAULT_MIN_TRACK_HITS",
    "DEFAULT_PRIMARY_MAX_ABS_VZ_MM",
    "DEFAULT_PRIMARY_MAX_VR_MM",
    "ORDER_FACTORS",
    "EventEvaluation",
    "MatchResult",
    "ParticleSelection",
    "SemiSyntheticMetrics",
    "StrawMetrics",
    "TrackingMetrics",
    "aggregate",
    "aggregate_semisynthetic",
    "aggregate_straw",
    "compute_hit_weights",
    "efficiency_binned",
    "evaluate_event",
    "evaluate_events",
    "evaluate_semisynthetic",
    "evaluate_straw",
    "event_truth",
    "has_unlabelled_hits",
    "hit_order_ranks",
    "hit_weights_for_scoring",
    "majority_table",
    "match_tracks",
    "names",
    "order_factor_table",
    "pt_factor",
    "straw_metrics",
    "summarize",
    "tracking_metrics",
    "trackml_score",
    "trackml_score_events",
]
