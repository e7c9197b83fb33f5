"""Evaluate a submission file against a directory of events: reading plus evaluation.

The submission names its events (``event_id`` column); every named event must be in the
directory and carry truth. Hits of those events that the submission leaves out are on
no track.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation import names
from tracknet.evaluation.evaluate import EventEvaluation, evaluate_event, event_truth, summarize
from tracknet.evaluation.matching import DEFAULT_MIN_TRACK_HITS, ParticleSelection
from tracknet.evaluation.score import trackml_score
from tracknet.io.trackml import iter_events, list_events, parse_event_id, read_submission

__all__ = ["DirectoryEvaluation", "evaluate_submission"]


@dataclass(frozen=True)
class DirectoryEvaluation:
    """The summary (flat, JSON-ready) and the per-event results behind it."""

    summary: dict[str, float | int | None]
    events: dict[int, EventEvaluation]


def evaluate_submission(
    data_dir: str | os.PathLike[str],
    submission: str | os.PathLike[str] | pd.DataFrame,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    use_computed_weights: bool = False,
) -> DirectoryEvaluation:
    """Evaluate every event of ``data_dir`` that the submission names.

    ``trackml_score`` always follows the published rules (all particles). When the
    selection has a pT cut, ``trackml_score_min_pt`` is added: the score with the weight
    of hits of particles below that pT set to zero (renormalised to the rest).
    """
    frame = read_submission(submission) if not isinstance(submission, pd.DataFrame) else submission
    named = np.unique(frame["event_id"].to_numpy())
    if len(named) == 0:
        raise DataError("submission names no event", file=str(submission) if not isinstance(submission, pd.DataFrame) else None)
    available = {parse_event_id(p) for p in list_events(data_dir)}
    missing = sorted(set(named.tolist()) - available)
    if missing:
        raise DataError(f"submission names event(s) {missing[:5]} that are not in {data_dir}", column="event_id")
    by_event = {int(k): g for k, g in frame.groupby("event_id", sort=True)}
    selection = selection or ParticleSelection()
    results: dict[int, EventEvaluation] = {}
    scores_min_pt: list[float] = []
    for event in iter_events(data_dir, parts=("hits", "truth", "particles"), event_ids=by_event):
        sub = by_event[event.event_id][["hit_id", "track_id"]]
        results[event.event_id] = evaluate_event(
            event, sub, selection, min_track_hits=min_track_hits, use_computed_weights=use_computed_weights
        )
        if selection.min_pt > 0:
            scores_min_pt.append(
                trackml_score(
                    event_truth(event),
                    sub,
                    particles=event.particles,
                    use_computed_weights=use_computed_weights,
                    min_pt=selection.min_pt,
                )
            )
    summary = summarize(results.values())
    if scores_min_pt:
        summary[names.TRACKML_SCORE_MIN_PT] = float(np.mean(scores_min_pt))
    return DirectoryEvaluation(summary=summary, events=results)
