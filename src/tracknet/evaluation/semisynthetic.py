"""Evaluation of semi-synthetic events: real unlabelled hits plus overlaid labelled tracks.

Only the overlaid tracks are targets; the efficiencies, duplicates and the real hits
taken by tracks are known, the fake rate is not (reported as ``None``).
Definitions: ``docs/metrics.md`` (Semi-synthetic events).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from tracknet.evaluation import names
from tracknet.evaluation._tables import (
    int_column,
    rate,
    require_columns,
    submission_tracks,
    unique_ids,
)
from tracknet.evaluation.matching import (
    DEFAULT_MIN_TRACK_HITS,
    MatchResult,
    ParticleSelection,
    TrackingMetrics,
    match_tracks,
)
from tracknet.events import UNASSIGNED_TRACK_ID, UNLABELLED_PARTICLE_ID
from tracknet.io.atomic import json_ready

__all__ = [
    "SemiSyntheticMetrics",
    "SemiSyntheticResult",
    "aggregate_semisynthetic",
    "evaluate_semisynthetic",
    "has_unlabelled_hits",
    "semisynthetic_from_match",
]


@dataclass(frozen=True)
class SemiSyntheticMetrics:
    """Counts and rates of semi-synthetic events (see the module docstring).

    ``fake_rate`` and ``n_fake`` are always ``None``: they cannot be known.
    """

    efficiency: float
    perfect_efficiency: float
    duplicate_rate: float
    unlabelled_hits_on_tracks_fraction: float
    n_particles: int
    n_found: int
    n_perfect: int
    n_tracks: int
    n_matched: int
    n_duplicate: int
    n_tracks_unknown: int
    n_unlabelled_hits: int
    n_unlabelled_hits_on_tracks: int
    n_unlabelled_hits_on_matched_tracks: int
    n_events: int = 1

    @property
    def fake_rate(self) -> None:
        return None

    @property
    def n_fake(self) -> None:
        return None

    @classmethod
    def from_counts(
        cls,
        *,
        n_particles: int,
        n_found: int,
        n_perfect: int,
        n_tracks: int,
        n_matched: int,
        n_duplicate: int,
        n_tracks_unknown: int,
        n_unlabelled_hits: int,
        n_unlabelled_hits_on_tracks: int,
        n_unlabelled_hits_on_matched_tracks: int,
        n_events: int = 1,
    ) -> SemiSyntheticMetrics:
        return cls(
            efficiency=rate(n_found, n_particles, math.nan),
            perfect_efficiency=rate(n_perfect, n_particles, math.nan),
            duplicate_rate=rate(n_duplicate, n_matched, 0.0),
            unlabelled_hits_on_tracks_fraction=rate(
                n_unlabelled_hits_on_tracks, n_unlabelled_hits, math.nan
            ),
            n_particles=int(n_particles),
            n_found=int(n_found),
            n_perfect=int(n_perfect),
            n_tracks=int(n_tracks),
            n_matched=int(n_matched),
            n_duplicate=int(n_duplicate),
            n_tracks_unknown=int(n_tracks_unknown),
            n_unlabelled_hits=int(n_unlabelled_hits),
            n_unlabelled_hits_on_tracks=int(n_unlabelled_hits_on_tracks),
            n_unlabelled_hits_on_matched_tracks=int(n_unlabelled_hits_on_matched_tracks),
            n_events=int(n_events),
        )

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("n_")}

    def to_dict(self) -> dict[str, float | int | None]:
        """The keys of :data:`~tracknet.evaluation.names.METRIC_NAMES` (without the score;
        ``fake_rate`` and ``n_fake`` ``None``) followed by
        :data:`~tracknet.evaluation.names.SEMISYNTHETIC_NAMES`; NaN becomes ``None``."""
        values: dict[str, float | int | None] = {
            f.name: getattr(self, f.name) for f in fields(self)
        }
        values[names.FAKE_RATE] = None
        values[names.N_FAKE] = None
        ordered = [n for n in names.METRIC_NAMES if n in values] + [
            n for n in names.SEMISYNTHETIC_NAMES if n in values
        ]
        return {n: json_ready(values[n]) for n in ordered}

    def tracking_metrics(self) -> TrackingMetrics:
        """The same counts as a :class:`TrackingMetrics` with ``fake_rate`` NaN and
        ``n_fake`` 0 (not counted), for code that expects one per event."""
        base = TrackingMetrics.from_counts(
            n_particles=self.n_particles,
            n_found=self.n_found,
            n_perfect=self.n_perfect,
            n_tracks=self.n_tracks,
            n_fake=0,
            n_matched=self.n_matched,
            n_duplicate=self.n_duplicate,
            n_events=self.n_events,
        )
        return TrackingMetrics(
            **{**{f.name: getattr(base, f.name) for f in fields(base)}, "fake_rate": math.nan}
        )


@dataclass(frozen=True)
class SemiSyntheticResult:
    """Metrics and the tables of :func:`match_tracks`; ``per_track`` gains ``unknown``
    (long enough, no overlaid majority) and ``n_unlabelled`` (its unlabelled hits), and
    its ``fake`` / ``considered`` flags are false."""

    metrics: SemiSyntheticMetrics
    per_particle: pd.DataFrame
    per_track: pd.DataFrame


def has_unlabelled_hits(truth: pd.DataFrame) -> bool:
    """Whether a truth table holds unlabelled (real, particle id -1) hits."""
    return bool(np.any(truth["particle_id"].to_numpy() == UNLABELLED_PARTICLE_ID))


def semisynthetic_from_match(
    truth: pd.DataFrame, submission: pd.DataFrame, match: MatchResult
) -> SemiSyntheticResult:
    """The semi-synthetic metrics of one event from its :func:`match_tracks` result."""
    require_columns(truth, ("hit_id", "particle_id"), "truth")
    hit_index = unique_ids(int_column(truth, "hit_id", "truth"), "hit_id", "truth")
    particle_id = int_column(truth, "particle_id", "truth")
    track_id, submitted = submission_tracks(hit_index, submission)
    unlabelled = particle_id == UNLABELLED_PARTICLE_ID
    per_track = match.per_track.copy()
    tracks = per_track["track_id"].to_numpy()
    long_tracks = tracks[per_track["long_enough"].to_numpy()]
    matched_tracks = tracks[per_track["matched"].to_numpy()]
    on_track = submitted & (track_id > UNASSIGNED_TRACK_ID)
    taken = unlabelled & on_track & np.isin(track_id, long_tracks)
    in_matched = unlabelled & on_track & np.isin(track_id, matched_tracks)
    n_unlabelled = pd.Series(track_id[unlabelled & on_track]).value_counts()
    per_track["n_unlabelled"] = n_unlabelled.reindex(tracks, fill_value=0).to_numpy(np.int64)
    per_track["unknown"] = per_track["long_enough"].to_numpy() & ~per_track["matched"].to_numpy()
    per_track["fake"] = False
    per_track["considered"] = False
    m = match.metrics
    metrics = SemiSyntheticMetrics.from_counts(
        n_particles=m.n_particles,
        n_found=m.n_found,
        n_perfect=m.n_perfect,
        n_tracks=int(per_track["long_enough"].sum()),
        n_matched=m.n_matched,
        n_duplicate=m.n_duplicate,
        n_tracks_unknown=int(per_track["unknown"].sum()),
        n_unlabelled_hits=int(unlabelled.sum()),
        n_unlabelled_hits_on_tracks=int(taken.sum()),
        n_unlabelled_hits_on_matched_tracks=int(in_matched.sum()),
    )
    return SemiSyntheticResult(metrics, match.per_particle, per_track)


def evaluate_semisynthetic(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    particles: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
) -> SemiSyntheticResult:
    """Evaluate one semi-synthetic event (see the module docstring); the arguments are
    those of :func:`~tracknet.evaluation.matching.match_tracks`."""
    match = match_tracks(truth, submission, particles, selection, min_track_hits=min_track_hits)
    return semisynthetic_from_match(truth, submission, match)


def aggregate_semisynthetic(metrics: Iterable[SemiSyntheticMetrics]) -> SemiSyntheticMetrics:
    """Pool several events: sums of the counts, rates from the sums."""
    items: Sequence[SemiSyntheticMetrics] = list(metrics)
    keys = [f.name for f in fields(SemiSyntheticMetrics) if f.name.startswith("n_")]
    return SemiSyntheticMetrics.from_counts(**{k: sum(getattr(i, k) for i in items) for k in keys})
