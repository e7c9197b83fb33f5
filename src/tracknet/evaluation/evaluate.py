"""Evaluate submissions against events: the TrackML score and the tracking metrics together.

:func:`evaluate_event` scores one :class:`~tracknet.events.Event` (with truth) and one
submission table (``hit_id, track_id``); :func:`summarize` turns several event results
into the one flat, JSON-ready dictionary that ``tracknet evaluate`` prints, keyed by
:mod:`tracknet.evaluation.names`:

* ``trackml_score``: the mean of the event scores (the challenge's rule);
* the tracking rates and counts: pooled over the events (see
  :func:`tracknet.evaluation.matching.aggregate`);
* ``n_events``: the number of events.

NaN (an efficiency without any selected particle) is written as ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation import names
from tracknet.evaluation.matching import (
    DEFAULT_MIN_TRACK_HITS,
    ParticleSelection,
    TrackingMetrics,
    aggregate,
    match_tracks,
)
from tracknet.evaluation.score import trackml_score
from tracknet.events import Event

__all__ = [
    "DirectoryEvaluation",
    "EventEvaluation",
    "evaluate_event",
    "evaluate_events",
    "event_truth",
    "summarize",
]


class EventEvaluation(NamedTuple):
    """The result of :func:`evaluate_event`; unpacks as ``score, metrics, per_particle``."""

    score: float
    metrics: TrackingMetrics
    per_particle: pd.DataFrame


@dataclass(frozen=True)
class DirectoryEvaluation:
    """The summary (flat, JSON-ready) and the per-event results behind it.

    ``per_particle`` and ``per_track`` concatenate the events' tables of
    :func:`~tracknet.evaluation.matching.match_tracks` with an ``event_id`` column;
    ``per_track`` adds ``eta`` and ``phi`` of the track (direction of the centroid of its
    hits seen from the origin) and ``duplicate`` (a matched track of a selected particle
    that another, longer-majority track of the same particle already matches).
    ``unnamed_events``: the events of the directory that the submission does not name,
    which were not evaluated (a straw event without hits cannot be named, and is not
    listed).
    """

    summary: dict[str, float | int | None]
    events: dict[int, EventEvaluation]
    per_particle: pd.DataFrame = field(repr=False)
    per_track: pd.DataFrame = field(repr=False)
    unnamed_events: tuple[int, ...] = ()


def event_truth(event: Event) -> pd.DataFrame:
    """The event's truth table with a ``hit_id`` column (taken from the hits if needed)."""
    if event.truth is None:
        raise DataError(f"{event.prefix}: the event has no truth to evaluate against")
    truth = event.truth
    if "hit_id" not in truth.columns:
        if len(truth) != len(event.hits):
            raise DataError(
                f"{event.prefix}: truth has {len(truth)} rows for {len(event.hits)} hits",
                column="hit_id",
            )
        truth = truth.assign(hit_id=event.hits["hit_id"].to_numpy())
    return truth


def evaluate_event(
    event: Event,
    submission: pd.DataFrame,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    use_computed_weights: bool = False,
    score_min_pt: float | None = None,
) -> EventEvaluation:
    """Score and match one event: ``(trackml_score, TrackingMetrics, per_particle)``.

    ``selection`` and ``min_track_hits`` go to
    :func:`~tracknet.evaluation.matching.match_tracks`; ``use_computed_weights`` and
    ``score_min_pt`` (the score's ``min_pt``) to
    :func:`~tracknet.evaluation.score.trackml_score`. The score uses the truth's
    ``weight`` column unless it is missing or ``use_computed_weights`` is set, in which
    case the weights are computed from the event's particles.
    """
    truth = event_truth(event)
    score = trackml_score(
        truth,
        submission,
        particles=event.particles,
        use_computed_weights=use_computed_weights,
        min_pt=score_min_pt,
    )
    result = match_tracks(
        truth, submission, event.particles, selection, min_track_hits=min_track_hits
    )
    return EventEvaluation(score, result.metrics, result.per_particle)


def summarize(evaluations: Iterable[EventEvaluation]) -> dict[str, float | int | None]:
    """The JSON-ready summary of several event evaluations (see the module docstring)."""
    items = list(evaluations)
    if not items:
        raise DataError("no events to evaluate")
    score = float(np.mean([item.score for item in items]))
    summary: dict[str, float | int | None] = {
        names.TRACKML_SCORE: score if math.isfinite(score) else None
    }
    summary.update(aggregate(item.metrics for item in items).to_dict())
    return summary


def evaluate_events(
    pairs: Iterable[tuple[Event, pd.DataFrame]],
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    use_computed_weights: bool = False,
    score_min_pt: float | None = None,
) -> dict[str, float | int | None]:
    """Evaluate ``(event, submission)`` pairs and :func:`summarize` them."""
    return summarize(
        evaluate_event(
            event,
            submission,
            selection,
            min_track_hits=min_track_hits,
            use_computed_weights=use_computed_weights,
            score_min_pt=score_min_pt,
        )
        for event, submission in pairs
    )
