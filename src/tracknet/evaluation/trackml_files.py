"""Evaluate a submission against a directory of TrackML events: reading plus evaluation.

The submission names its events (``event_id`` column); every named event must be in the
directory and carry truth, and the submission must list each of its hits once (the
TrackML rule; ``track_id`` 0: on no track). Events it does not name are not evaluated.

**Semi-synthetic** events (some truth ``particle_id`` equals -1, an unlabelled real
hit) are evaluated as in :mod:`tracknet.evaluation.semisynthetic`: efficiencies and
duplicates on the overlaid particles, the unlabelled hits taken by the tracks, and
``fake_rate`` / ``n_fake`` ``None`` (unknowable). In that mode each event's
``metrics`` has ``fake_rate`` NaN and ``n_fake`` 0 (not counted), and ``per_track``
flags tracks without an overlaid majority ``unknown`` (never ``fake`` nor
``considered``).

Called through :meth:`tracknet.detectors.trackml.TrackMLDetector.evaluate_directory`;
the generic entry point is :func:`tracknet.evaluation.files.evaluate_submission`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation import names
from tracknet.evaluation._tables import check_event_hits, directory_submission
from tracknet.evaluation.evaluate import (
    DirectoryEvaluation,
    EventEvaluation,
    event_truth,
    summarize,
)
from tracknet.evaluation.matching import DEFAULT_MIN_TRACK_HITS, ParticleSelection, match_tracks
from tracknet.evaluation.score import trackml_score
from tracknet.evaluation.semisynthetic import (
    SemiSyntheticResult,
    aggregate_semisynthetic,
    semisynthetic_from_match,
)
from tracknet.events import Event
from tracknet.io.trackml import list_events, parse_event_id, read_event
from tracknet.parallel import Workers, run_ordered

__all__ = ["evaluate_trackml_submission", "track_kinematics"]


def track_kinematics(event: Event, submission: pd.DataFrame) -> pd.DataFrame:
    """``track_id, eta, phi`` of every track (id > 0) from the centroid of its hits."""
    sub = submission[["hit_id", "track_id"]]
    sub = sub.loc[sub["track_id"].to_numpy() > 0]
    position = pd.Index(event.hits["hit_id"].to_numpy()).get_indexer(sub["hit_id"].to_numpy())
    xyz = event.hits[["x", "y", "z"]].to_numpy()[position]
    frame = pd.DataFrame(
        {"track_id": sub["track_id"].to_numpy(), "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    )
    centre = frame.groupby("track_id", sort=True)[["x", "y", "z"]].mean()
    r = np.hypot(centre["x"].to_numpy(), centre["y"].to_numpy())
    return pd.DataFrame(
        {
            "track_id": centre.index.to_numpy(),
            "eta": np.arcsinh(centre["z"].to_numpy() / np.maximum(r, 1e-9)),
            "phi": np.arctan2(centre["y"].to_numpy(), centre["x"].to_numpy()),
        }
    )


def _flag_duplicates(per_track: pd.DataFrame) -> np.ndarray:
    """Matched tracks of selected particles beyond the first (most majority hits) one."""
    candidates = per_track["matched"].to_numpy() & per_track["majority_selected"].to_numpy()
    order = np.lexsort(
        (
            per_track["track_id"].to_numpy(),
            -per_track["n_majority"].to_numpy(),
            per_track["majority_particle_id"].to_numpy(),
        )
    )
    flag = np.zeros(len(per_track), dtype=bool)
    sorted_candidates = order[candidates[order]]
    pids = per_track["majority_particle_id"].to_numpy()[sorted_candidates]
    # Not np.r_[False, ...]: with no candidate at all that is one flag for zero tracks.
    repeat = np.zeros(pids.size, dtype=bool)
    repeat[1:] = pids[1:] == pids[:-1]
    flag[sorted_candidates[repeat]] = True
    return flag


@dataclass(frozen=True)
class _EventResult:
    event_id: int
    evaluation: EventEvaluation
    semi: SemiSyntheticResult
    per_particle: pd.DataFrame
    per_track: pd.DataFrame
    score_min_pt: float | None


@dataclass(frozen=True)
class _EvaluateEvent:
    """Scores and matches one event's submission rows (a task for worker processes)."""

    source: str | None
    selection: ParticleSelection
    min_track_hits: int
    use_computed_weights: bool

    def __call__(self, item: tuple[Path, pd.DataFrame]) -> _EventResult:
        prefix, group = item
        event = read_event(prefix, parts=("hits", "truth", "particles"))
        hit_ids = event.hits["hit_id"].to_numpy()
        check_event_hits(np.full(hit_ids.size, event.event_id), hit_ids, group, self.source)
        sub = group[["hit_id", "track_id"]]
        truth = event_truth(event)
        weights = self.use_computed_weights
        score = trackml_score(truth, sub, particles=event.particles, use_computed_weights=weights)
        match = match_tracks(
            truth, sub, event.particles, self.selection, min_track_hits=self.min_track_hits
        )
        per_track = match.per_track.merge(track_kinematics(event, sub), on="track_id", how="left")
        per_track["duplicate"] = _flag_duplicates(per_track)
        score_min_pt = None
        if self.selection.min_pt > 0:
            score_min_pt = trackml_score(
                truth,
                sub,
                particles=event.particles,
                use_computed_weights=weights,
                min_pt=self.selection.min_pt,
            )
        return _EventResult(
            event.event_id,
            EventEvaluation(score, match.metrics, match.per_particle),
            semisynthetic_from_match(truth, sub, match),
            match.per_particle.assign(event_id=event.event_id),
            per_track.assign(event_id=event.event_id),
            score_min_pt,
        )


def evaluate_trackml_submission(
    data_dir: str | os.PathLike[str],
    submission: str | os.PathLike[str] | pd.DataFrame,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    use_computed_weights: bool = False,
    workers: Workers | None = None,
) -> DirectoryEvaluation:
    """Evaluate every event of the TrackML directory ``data_dir`` that the submission names
    (the events by ``workers``: default, this process).

    ``trackml_score`` always follows the published rules (all particles). When the
    selection has a pT cut, ``trackml_score_min_pt`` is added: the score with the weight
    of hits of particles below that pT set to zero (renormalised to the rest).
    """
    frame, source = directory_submission(submission)
    named = np.unique(frame["event_id"].to_numpy())
    available = {parse_event_id(p) for p in list_events(data_dir)}
    missing = sorted(set(named.tolist()) - available)
    if missing:
        raise DataError(
            f"submission names event(s) {missing[:5]} that are not in {data_dir}",
            file=source,
            column="event_id",
        )
    by_event = {int(cast(int, k)): g for k, g in frame.groupby("event_id", sort=True)}
    selection = selection or ParticleSelection()
    results: dict[int, EventEvaluation] = {}
    particles_tables: list[pd.DataFrame] = []
    track_tables: list[pd.DataFrame] = []
    scores_min_pt: list[float] = []
    semi: dict[int, SemiSyntheticResult] = {}
    task = _EvaluateEvent(source, selection, min_track_hits, use_computed_weights)
    items = [(p, by_event[parse_event_id(p)]) for p in list_events(data_dir)
             if parse_event_id(p) in by_event]  # fmt: skip
    for item in run_ordered(task, items, workers or Workers(), preload=(__name__,)):
        semi[item.event_id] = item.semi
        results[item.event_id] = item.evaluation
        particles_tables.append(item.per_particle)
        track_tables.append(item.per_track)
        if item.score_min_pt is not None:
            scores_min_pt.append(item.score_min_pt)
    summary = summarize(results.values())
    if any(r.metrics.n_unlabelled_hits for r in semi.values()):
        # Semi-synthetic events: no fake rate, and the unlabelled hits the tracks took.
        summary = {names.TRACKML_SCORE: summary[names.TRACKML_SCORE]}
        summary.update(aggregate_semisynthetic(r.metrics for r in semi.values()).to_dict())
        results = {
            e: EventEvaluation(r.score, semi[e].metrics.tracking_metrics(), r.per_particle)
            for e, r in results.items()
        }
        for table in track_tables:
            event_id = int(table["event_id"].to_numpy()[0]) if len(table) else None
            if event_id is not None:
                flags = semi[event_id].per_track.set_index("track_id")
                table["unknown"] = flags["unknown"].reindex(table["track_id"]).to_numpy()
                table["n_unlabelled"] = flags["n_unlabelled"].reindex(table["track_id"]).to_numpy()
                table["fake"] = False
                table["considered"] = False
    if scores_min_pt:
        summary[names.TRACKML_SCORE_MIN_PT] = float(np.mean(scores_min_pt))
    return DirectoryEvaluation(
        summary=summary,
        events=results,
        per_particle=pd.concat(particles_tables, ignore_index=True),
        per_track=pd.concat(track_tables, ignore_index=True),
        unnamed_events=tuple(sorted(available - set(named.tolist()))),
    )
