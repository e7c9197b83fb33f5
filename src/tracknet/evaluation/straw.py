"""The straw tracker's tracking metrics, and evaluation of straw datasets.

Found fraction, precision on found tracks, wrong-hit and split fractions of one event or
many: several events are evaluated in one call through an ``event_id`` column (ids made
unique across events), which gives exactly the pooled counts.
Definitions: ``docs/metrics.md`` (Straw metrics).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, NamedTuple, cast

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation import names
from tracknet.evaluation._tables import (
    check_event_hits,
    directory_submission,
    int_column,
    rate,
    require_columns,
)
from tracknet.evaluation.evaluate import DirectoryEvaluation
from tracknet.evaluation.matching import (
    DEFAULT_MIN_TRACK_HITS,
    MatchResult,
    ParticleSelection,
    TrackingMetrics,
    match_tracks,
)
from tracknet.evaluation.score import trackml_score
from tracknet.evaluation.semisynthetic import SemiSyntheticMetrics, semisynthetic_from_match
from tracknet.events import UNLABELLED_PARTICLE_ID

if TYPE_CHECKING:
    from tracknet.io.straw import StrawDataset
    from tracknet.simulation.straw.batch import StrawBatch

__all__ = [
    "FlatEvents",
    "StrawEvaluation",
    "StrawMetrics",
    "aggregate_straw",
    "evaluate_straw",
    "evaluate_straw_submission",
    "flatten_events",
    "straw_metrics",
    "straw_metrics_from_match",
]


@dataclass(frozen=True)
class StrawMetrics:
    """The straw metrics (see the module docstring) and the counts behind them.

    ``sum_found_hit_fraction`` is the sum of ``|R and T| / |T|`` over the found true
    tracks (the numerator of ``precision_on_found_tracks``); ``n_hits_unlabelled`` the
    unlabelled hits on reconstructed tracks (left out of the wrong-hit counts).
    """

    precision_on_found_tracks: float
    wrong_hit_fraction: float
    found_fraction: float
    split_fraction: float
    n_tracks_true: int
    n_found: int
    n_split: int
    n_hits_assigned: int
    n_hits_wrong: int
    n_hits_unlabelled: int
    sum_found_hit_fraction: float
    n_events: int = 1

    @classmethod
    def from_counts(
        cls,
        *,
        n_tracks_true: int,
        n_found: int,
        n_split: int,
        n_hits_assigned: int,
        n_hits_wrong: int,
        n_hits_unlabelled: int,
        sum_found_hit_fraction: float,
        n_events: int = 1,
    ) -> StrawMetrics:
        return cls(
            precision_on_found_tracks=rate(sum_found_hit_fraction, n_found, math.nan),
            wrong_hit_fraction=rate(n_hits_wrong, n_hits_assigned, 0.0),
            found_fraction=rate(n_found, n_tracks_true, math.nan),
            split_fraction=rate(n_split, n_tracks_true, math.nan),
            n_tracks_true=int(n_tracks_true),
            n_found=int(n_found),
            n_split=int(n_split),
            n_hits_assigned=int(n_hits_assigned),
            n_hits_wrong=int(n_hits_wrong),
            n_hits_unlabelled=int(n_hits_unlabelled),
            sum_found_hit_fraction=float(sum_found_hit_fraction),
            n_events=int(n_events),
        )

    def to_dict(self) -> dict[str, float | int | None]:
        """The keys of :data:`~tracknet.evaluation.names.STRAW_NAMES`; NaN becomes ``None``."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {
            n: (
                None if isinstance(values[n], float) and not math.isfinite(values[n]) else values[n]
            )
            for n in names.STRAW_NAMES
        }


def aggregate_straw(items: Iterable[StrawMetrics]) -> StrawMetrics:
    """Pool several results: sums of the counts (and of the found-hit fractions)."""
    items = list(items)
    keys = (
        "n_tracks_true",
        "n_found",
        "n_split",
        "n_hits_assigned",
        "n_hits_wrong",
        "n_hits_unlabelled",
        "sum_found_hit_fraction",
        "n_events",
    )
    return StrawMetrics.from_counts(**{k: sum(getattr(i, k) for i in items) for k in keys})


class FlatEvents(NamedTuple):
    """Several events as one: ``truth`` (``hit_id`` = row, dense ``particle_id``),
    ``submission`` for matching (unassigned hits 0) and ``score_submission`` (every
    event's unassigned hits a track of their own, as in a per-event score), ``particles``
    (dense ids, or None) and the maps back: ``event_of_row``, ``particle_keys`` /
    ``track_keys`` (``(event_id, original id)`` of dense id ``i + 1``), ``n_events``."""

    truth: pd.DataFrame
    submission: pd.DataFrame
    score_submission: pd.DataFrame
    particles: pd.DataFrame | None
    event_of_row: np.ndarray
    particle_keys: pd.MultiIndex
    track_keys: pd.MultiIndex
    n_events: int


def _dense(event: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, pd.MultiIndex]:
    """Dense codes 1.. of ``(event, id)`` pairs, increasing with ``id`` within an event,
    and the pairs of the codes."""
    keys = pd.MultiIndex.from_arrays(
        [np.asarray(event, dtype=np.int64), np.asarray(ids, dtype=np.int64)],
        names=["event_id", "id"],
    )
    codes, uniques = keys.factorize(sort=True)
    return codes.astype(np.int64) + 1, cast(pd.MultiIndex, uniques)


def flatten_events(
    truth: pd.DataFrame, submission: pd.DataFrame, particles: pd.DataFrame | None = None
) -> FlatEvents:
    """Turn multi-event tables (with ``event_id``) into one event (see :class:`FlatEvents`)."""
    require_columns(truth, ("event_id", "hit_id", "particle_id"), "truth")
    require_columns(submission, ("event_id", "hit_id", "track_id"), "submission")
    t_event = int_column(truth, "event_id", "truth")
    t_hit = int_column(truth, "hit_id", "truth")
    pid = int_column(truth, "particle_id", "truth")
    index = pd.MultiIndex.from_arrays([t_event, t_hit])
    if index.has_duplicates:
        row = int(np.flatnonzero(index.duplicated())[0])
        raise DataError(
            f"truth: duplicate hit_id {t_hit[row]} in event {t_event[row]}",
            column="hit_id",
            row=row,
        )
    s_event = int_column(submission, "event_id", "submission")
    s_hit = int_column(submission, "hit_id", "submission")
    tid = int_column(submission, "track_id", "submission")
    submitted = pd.MultiIndex.from_arrays([s_event, s_hit])
    if submitted.has_duplicates:
        row = int(np.flatnonzero(submitted.duplicated())[0])
        raise DataError(
            f"submission: hit_id {s_hit[row]} appears twice in event {s_event[row]}",
            column="hit_id",
            row=row,
        )
    position = index.get_indexer(submitted)
    if (position < 0).any():
        row = int(np.flatnonzero(position < 0)[0])
        raise DataError(
            f"submission: hit_id {s_hit[row]} of event {s_event[row]} is not a hit of the truth",
            column="hit_id",
            row=row,
        )
    dense_pid = np.where(pid > 0, 0, pid).astype(np.int64)
    positive = pid > 0
    codes, particle_keys = _dense(t_event[positive], pid[positive])
    dense_pid[positive] = codes
    dense_tid = np.zeros(len(tid), dtype=np.int64)
    assigned = tid > 0
    codes, track_keys = _dense(s_event[assigned], tid[assigned])
    dense_tid[assigned] = codes
    # For the score, every event's track_id <= 0 values are tracks of their own.
    score_tid = dense_tid.copy()
    if (~assigned).any():
        other, _ = _dense(s_event[~assigned], tid[~assigned])
        score_tid[~assigned] = -other
    flat_truth = pd.DataFrame(
        {"hit_id": np.arange(len(t_hit), dtype=np.int64), "particle_id": dense_pid}
    )
    for column in ("weight", "tz"):
        if column in truth.columns:
            flat_truth[column] = truth[column].to_numpy()
    flat_particles = None
    if particles is not None:
        require_columns(particles, ("event_id", "particle_id"), "particles")
        where = particle_keys.get_indexer(
            pd.MultiIndex.from_arrays(
                [
                    int_column(particles, "event_id", "particles"),
                    int_column(particles, "particle_id", "particles"),
                ]
            )
        )
        flat_particles = (
            particles.loc[where >= 0]
            .drop(columns="event_id")
            .assign(particle_id=where[where >= 0] + 1)
        )
    hits = position
    return FlatEvents(
        truth=flat_truth,
        submission=pd.DataFrame({"hit_id": hits.astype(np.int64), "track_id": dense_tid}),
        score_submission=pd.DataFrame({"hit_id": hits.astype(np.int64), "track_id": score_tid}),
        particles=flat_particles,
        event_of_row=t_event,
        particle_keys=particle_keys,
        track_keys=track_keys,
        n_events=len(np.unique(t_event)),
    )


def straw_metrics_from_match(
    truth: pd.DataFrame, submission: pd.DataFrame, match: MatchResult
) -> StrawMetrics:
    """The straw metrics of one (possibly flattened) event from its :func:`match_tracks` result."""
    pp = match.per_particle
    selected = pp["selected"].to_numpy()
    found = selected & pp["found"].to_numpy()
    split = selected & (pp["n_matched_tracks"].to_numpy() >= 2)
    pt = match.per_track
    found_tracks = pt["double_majority"].to_numpy() & pt["majority_selected"].to_numpy()
    fractions = (
        pt["n_majority"].to_numpy()[found_tracks] / pt["majority_nhits"].to_numpy()[found_tracks]
    )
    # Per hit: is it on a long-enough track, and is it the track's matched particle?
    hit_pid = pd.Series(
        int_column(truth, "particle_id", "truth"), index=int_column(truth, "hit_id", "truth")
    )
    sub_hit = int_column(submission, "hit_id", "submission")
    sub_tid = int_column(submission, "track_id", "submission")
    on = sub_tid > 0
    sub_hit, sub_tid = sub_hit[on], sub_tid[on]
    row = pd.Index(pt["track_id"].to_numpy()).get_indexer(sub_tid)
    long_enough = pt["long_enough"].to_numpy()[row]
    pid = hit_pid.reindex(sub_hit).to_numpy()
    unlabelled = pid == UNLABELLED_PARTICLE_ID
    judged = long_enough & ~unlabelled
    right = pt["matched"].to_numpy()[row] & (pid == pt["majority_particle_id"].to_numpy()[row])
    return StrawMetrics.from_counts(
        n_tracks_true=int(selected.sum()),
        n_found=int(found.sum()),
        n_split=int(split.sum()),
        n_hits_assigned=int(judged.sum()),
        n_hits_wrong=int((judged & ~right).sum()),
        n_hits_unlabelled=int((long_enough & unlabelled).sum()),
        sum_found_hit_fraction=math.fsum(fractions),
    )


def straw_metrics(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    particles: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
) -> StrawMetrics:
    """The straw metrics of one event, or of several when both tables have ``event_id``."""
    if "event_id" in truth.columns and "event_id" in submission.columns:
        flat = flatten_events(truth, submission, particles)
        match = match_tracks(
            flat.truth, flat.submission, flat.particles, selection, min_track_hits=min_track_hits
        )
        return replace(
            straw_metrics_from_match(flat.truth, flat.submission, match), n_events=flat.n_events
        )
    match = match_tracks(truth, submission, particles, selection, min_track_hits=min_track_hits)
    return straw_metrics_from_match(truth, submission, match)


@dataclass(frozen=True)
class StrawEvaluation:
    """Everything :func:`evaluate_straw` works out: the JSON-ready ``summary``, the straw
    metrics, the tracking metrics (:class:`TrackingMetrics`, or
    :class:`SemiSyntheticMetrics` when the events hold unlabelled hits) and the
    per-particle / per-track tables with ``event_id`` and the original ids."""

    summary: dict[str, float | int | None]
    straw: StrawMetrics
    tracking: TrackingMetrics | SemiSyntheticMetrics
    per_particle: pd.DataFrame
    per_track: pd.DataFrame


def evaluate_straw(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    particles: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    n_events: int | None = None,
) -> StrawEvaluation:
    """Straw metrics, tracking metrics and the mean TrackML score of many events at once.

    ``truth`` needs ``event_id, hit_id, particle_id, weight``; ``submission`` ``event_id,
    hit_id, track_id``; ``particles`` (with ``event_id``) only for kinematic cuts. With
    unlabelled hits (semi-synthetic events) the tracking part follows
    :mod:`tracknet.evaluation.semisynthetic` (no fake rate). ``n_events`` counts events
    without any hit too (they score 0); default: the events present in ``truth``.
    """
    flat = flatten_events(truth, submission, particles)
    if n_events is not None:
        if n_events < flat.n_events:
            raise DataError(
                f"n_events ({n_events}) is below the {flat.n_events} events of the truth table"
            )
        flat = flat._replace(n_events=int(n_events))
    match = match_tracks(
        flat.truth, flat.submission, flat.particles, selection, min_track_hits=min_track_hits
    )
    straw = replace(
        straw_metrics_from_match(flat.truth, flat.submission, match), n_events=flat.n_events
    )
    summary: dict[str, float | int | None] = {names.TRACKML_SCORE: _mean_score(flat, truth)}
    per_track = match.per_track
    tracking: TrackingMetrics | SemiSyntheticMetrics
    if bool(np.any(flat.truth["particle_id"].to_numpy() == UNLABELLED_PARTICLE_ID)):
        semi = semisynthetic_from_match(flat.truth, flat.submission, match)
        tracking = replace(semi.metrics, n_events=flat.n_events)
        per_track = semi.per_track
    else:
        tracking = replace(match.metrics, n_events=flat.n_events)
    summary.update(tracking.to_dict())
    summary.update(straw.to_dict())
    return StrawEvaluation(
        summary,
        straw,
        tracking,
        _restore_particles(match.per_particle, flat.particle_keys),
        _restore_tracks(per_track, flat.track_keys, flat.particle_keys),
    )


def _restore_particles(per_particle: pd.DataFrame, particle_keys: pd.MultiIndex) -> pd.DataFrame:
    """``event_id`` and the original ``particle_id`` of a flattened per-particle table."""
    out = per_particle.copy()
    dense = out["particle_id"].to_numpy() - 1
    out.insert(0, "event_id", particle_keys.get_level_values(0).to_numpy()[dense].astype(np.int64))
    out["particle_id"] = particle_keys.get_level_values(1).to_numpy()[dense].astype(np.int64)
    return out


def _restore_tracks(
    per_track: pd.DataFrame, track_keys: pd.MultiIndex, particle_keys: pd.MultiIndex
) -> pd.DataFrame:
    """``event_id``, the original ``track_id`` and ``majority_particle_id`` of a flattened
    per-track table (reserved ids such as noise stay as they are)."""
    out = per_track.copy()
    dense = out["track_id"].to_numpy() - 1
    out.insert(0, "event_id", track_keys.get_level_values(0).to_numpy()[dense].astype(np.int64))
    out["track_id"] = track_keys.get_level_values(1).to_numpy()[dense].astype(np.int64)
    major = out["majority_particle_id"].to_numpy().astype(np.int64)
    positive = major > 0
    major[positive] = particle_keys.get_level_values(1).to_numpy()[major[positive] - 1]
    out["majority_particle_id"] = major
    return out


def _mean_score(flat: FlatEvents, truth: pd.DataFrame) -> float | None:
    """Mean of the per-event TrackML scores, from one call on the flattened events.

    The score of an event does not change when its weights are scaled, so the weights
    are normalised per event: the pooled score is then the sum of the event scores over
    the events with weight, and the mean over all events (an event without weight
    scores 0) follows exactly.
    """
    if "weight" not in truth.columns or flat.n_events == 0:
        return None
    weight = truth["weight"].to_numpy(dtype=np.float64)
    events, inverse = np.unique(flat.event_of_row, return_inverse=True)
    total = np.bincount(inverse, weights=weight, minlength=len(events))
    normalised = np.where(
        total[inverse] > 0, weight / np.where(total[inverse] > 0, total[inverse], 1.0), 0.0
    )
    with_weight = int((total > 0).sum())
    if with_weight == 0:
        return 0.0
    pooled = trackml_score(flat.truth, flat.score_submission, weights=normalised)
    return pooled * with_weight / flat.n_events


def evaluate_straw_submission(
    data_dir: str | os.PathLike[str],
    submission: str | os.PathLike[str] | pd.DataFrame,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    truth_dir: str | os.PathLike[str] | None = None,
) -> DirectoryEvaluation:
    """Evaluate a submission against a straw dataset directory (every event it names,
    each hit of those events once: as :mod:`tracknet.evaluation.trackml_files`).

    Returns a :class:`~tracknet.evaluation.evaluate.DirectoryEvaluation` whose summary holds
    the TrackML score (mean over events), the tracking metrics and the straw metrics;
    its ``events`` mapping is empty (straw events are evaluated all at once). Production
    events (stored without labels) take their labels from ``truth_dir``, the same events
    with labels (``tracknet simulate straw --truth-out``).
    """
    from tracknet.io.straw import StrawDataset

    frame, source = directory_submission(submission)
    named = np.unique(frame["event_id"].to_numpy())
    dataset = StrawDataset.open(data_dir)
    available = dataset.event_ids()
    missing = named[~np.isin(named, available)]
    if len(missing):
        raise DataError(
            f"submission names event(s) {missing[:5].tolist()} that are not in {data_dir}",
            file=source,
            column="event_id",
        )
    batch = _labelled_batch(dataset, data_dir, truth_dir)
    # An event without hits has no row to name it by: it is neither evaluated nor missed.
    with_hits = np.unique(batch.hits["event_id"])
    batch = batch.take(np.flatnonzero(np.isin(batch.events["event_id"], named)))
    h = batch.hits
    check_event_hits(h["event_id"], h["hit_id"], frame, source)
    truth = pd.DataFrame({c: h[c] for c in ("event_id", "hit_id", "particle_id", "weight")})
    particles = pd.DataFrame(batch.particles)
    result = evaluate_straw(
        truth,
        frame[["event_id", "hit_id", "track_id"]],
        particles,
        selection,
        min_track_hits=min_track_hits,
        n_events=len(named),
    )
    return DirectoryEvaluation(
        summary=result.summary,
        events={},
        per_particle=result.per_particle,
        per_track=result.per_track,
        unnamed_events=tuple(int(e) for e in with_hits[~np.isin(with_hits, named)]),
    )


def _labelled_batch(
    dataset: StrawDataset,
    data_dir: str | os.PathLike[str],
    truth_dir: str | os.PathLike[str] | None,
) -> StrawBatch:
    """The events of ``dataset`` with their labels: its own, or those of ``truth_dir``
    (which must hold the same events and hits)."""
    from tracknet.io.straw import StrawDataset

    if truth_dir is None:
        if not dataset.labelled:
            raise DataError(
                f"{data_dir} holds production events without labels: give their truth "
                "dataset with --truth DIR"
            )
        return dataset.read_all()
    truth = StrawDataset.open(truth_dir)
    if not truth.labelled:
        raise DataError(f"--truth {truth_dir} holds no labels either")
    batch, labels = dataset.read_all(), truth.read_all()
    for table, columns in (("events", ("event_id",)), ("hits", ("event_id", "hit_id", "straw_id"))):
        for column in columns:
            ours, theirs = getattr(batch, table)[column], getattr(labels, table)[column]
            if not np.array_equal(ours, theirs):
                raise DataError(
                    f"--truth {truth_dir} does not hold the events of {data_dir} "
                    f"({table} {column} differ)"
                )
    return labels
