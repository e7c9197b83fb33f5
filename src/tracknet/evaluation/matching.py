"""Tracking metrics: double-majority efficiency, perfect matches, fake and duplicate rates.

:class:`ParticleSelection` says which particles are to be found; :func:`match_tracks`
gives per-particle and per-track tables of one event, :func:`tracking_metrics` their
rates, :func:`aggregate` pools several events and :func:`efficiency_binned` bins the
efficiency. Definitions and edge cases: ``docs/metrics.md`` (Tracking metrics).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar, Final, Literal

import numpy as np
import pandas as pd

from tracknet.errors import ConfigError, DataError
from tracknet.evaluation import names
from tracknet.evaluation._tables import (
    int_column,
    rate,
    require_columns,
    submission_tracks,
    unique_ids,
)
from tracknet.evaluation.score import majority_table
from tracknet.events import NOISE_PARTICLE_ID, UNASSIGNED_TRACK_ID, particle_kinematics
from tracknet.io.atomic import json_ready
from tracknet.schema import Settings, setting

__all__ = [
    "DEFAULT_MIN_TRACK_HITS",
    "DEFAULT_PRIMARY_MAX_ABS_VZ_MM",
    "DEFAULT_PRIMARY_MAX_VR_MM",
    "MatchResult",
    "ParticleSelection",
    "TrackingMetrics",
    "aggregate",
    "efficiency_binned",
    "match_tracks",
    "tracking_metrics",
]

DEFAULT_MIN_TRACK_HITS: Final = 3
#: Primary vertices lie on the beam line: in the full TrackML event 1000, 8,497 of the
#: 12,263 particles start within 0.05 mm of the beam axis and only 71 between 0.05 and
#: 1 mm (short-lived decays), while material interactions start at vr of several mm and
#: beyond. 1 mm separates the two populations.
DEFAULT_PRIMARY_MAX_VR_MM: Final = 1.0
#: The luminous region along the beam: every particle of event 1000 with vr < 1 mm has
#: |vz| <= 60.1 mm; 100 mm keeps them all with a margin.
DEFAULT_PRIMARY_MAX_ABS_VZ_MM: Final = 100.0

_PARTICLE_COLUMNS: Final = (
    "particle_id",
    "pt",
    "eta",
    "vr",
    "vz",
    "nhits",
    "selected",
    "found",
    "perfect",
    "n_matched_tracks",
)
_TRACK_COLUMNS: Final = (
    "track_id",
    "n_hits",
    "majority_particle_id",
    "n_majority",
    "majority_nhits",
    "long_enough",
    "matched",
    "majority_selected",
    "double_majority",
    "perfect",
    "considered",
    "fake",
)


@dataclass(frozen=True)
class ParticleSelection(Settings):
    """Which particles count as "to be found" (the denominator of the efficiency).

    ``min_pt`` in GeV (and ``max_pt``, exclusive: ``min_pt <= pT < max_pt``, for a pT
    band), ``min_hits`` counted in the event's truth, ``max_abs_eta`` on the
    pseudorapidity of the particle's momentum; ``primaries_only`` keeps particles whose
    vertex has ``vr < primary_max_vr_mm`` and ``|vz| < primary_max_abs_vz_mm`` (mm).
    """

    label: ClassVar[str] = "particle selection"

    min_pt: float = setting(0.0, low=0.0)
    max_pt: float = setting(math.inf, low=0.0, allow_inf=True)
    min_hits: int = setting(3, low=0)
    max_abs_eta: float = setting(math.inf, low=0.0, allow_inf=True)
    primaries_only: bool = False
    primary_max_vr_mm: float = setting(DEFAULT_PRIMARY_MAX_VR_MM, low=0.0, allow_inf=True)
    primary_max_abs_vz_mm: float = setting(DEFAULT_PRIMARY_MAX_ABS_VZ_MM, low=0.0, allow_inf=True)

    def validate(self) -> None:
        if self.max_pt <= self.min_pt:
            raise self.fail("max_pt", f"must be above min_pt ({self.min_pt})", self.max_pt)

    @property
    def needs_kinematics(self) -> bool:
        """Whether a cut needs the particles table (momentum or vertex)."""
        return (
            self.min_pt > 0
            or math.isfinite(self.max_pt)
            or math.isfinite(self.max_abs_eta)
            or self.primaries_only
        )

    def mask(self, per_particle: pd.DataFrame) -> np.ndarray:
        """Which rows of a table with ``nhits`` (and ``pt, eta, vr, vz``) pass the cuts."""
        keep = per_particle["nhits"].to_numpy() >= self.min_hits
        if self.min_pt > 0:
            keep &= per_particle["pt"].to_numpy(dtype=np.float64) >= self.min_pt
        if math.isfinite(self.max_pt):
            keep &= per_particle["pt"].to_numpy(dtype=np.float64) < self.max_pt
        if math.isfinite(self.max_abs_eta):
            keep &= np.abs(per_particle["eta"].to_numpy(dtype=np.float64)) <= self.max_abs_eta
        if self.primaries_only:
            keep &= per_particle["vr"].to_numpy(dtype=np.float64) < self.primary_max_vr_mm
            keep &= (
                np.abs(per_particle["vz"].to_numpy(dtype=np.float64)) < self.primary_max_abs_vz_mm
            )
        return keep


@dataclass(frozen=True)
class TrackingMetrics:
    """Counts and rates of one event or of pooled events (see the module docstring).

    ``n_matched`` (matched tracks with a selected majority particle) is the denominator of
    the duplicate rate; ``n_tracks`` the considered tracks.
    """

    efficiency: float
    perfect_efficiency: float
    fake_rate: float
    duplicate_rate: float
    n_particles: int
    n_found: int
    n_perfect: int
    n_tracks: int
    n_fake: int
    n_matched: int
    n_duplicate: int
    n_events: int = 1

    @classmethod
    def from_counts(
        cls,
        *,
        n_particles: int,
        n_found: int,
        n_perfect: int,
        n_tracks: int,
        n_fake: int,
        n_matched: int,
        n_duplicate: int,
        n_events: int = 1,
    ) -> TrackingMetrics:
        """The metrics of the given counts, rates computed by the documented rules."""
        return cls(
            efficiency=rate(n_found, n_particles, math.nan),
            perfect_efficiency=rate(n_perfect, n_particles, math.nan),
            fake_rate=rate(n_fake, n_tracks, 0.0),
            duplicate_rate=rate(n_duplicate, n_matched, 0.0),
            n_particles=int(n_particles),
            n_found=int(n_found),
            n_perfect=int(n_perfect),
            n_tracks=int(n_tracks),
            n_fake=int(n_fake),
            n_matched=int(n_matched),
            n_duplicate=int(n_duplicate),
            n_events=int(n_events),
        )

    def counts(self) -> dict[str, int]:
        """The integer counts by metric name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("n_")}

    def to_dict(self) -> dict[str, float | int | None]:
        """Rates and counts keyed by :mod:`~tracknet.evaluation.names`; NaN becomes ``None``.

        The result serialises with :func:`json.dumps` as is.
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        ordered = [name for name in names.METRIC_NAMES if name in values]
        return {name: json_ready(values[name]) for name in ordered}


@dataclass(frozen=True)
class MatchResult:
    """Everything :func:`match_tracks` works out for one event.

    ``per_particle``: one row per particle (see the module docstring), columns
    ``particle_id, pt, eta, vr, vz, nhits, selected, found, perfect, n_matched_tracks``
    (``n_matched_tracks``: matched tracks of at least ``min_track_hits`` hits with this
    majority). ``per_track``: one row per track (``track_id > 0``, short ones included),
    columns ``track_id, n_hits, majority_particle_id, n_majority, majority_nhits,
    long_enough, matched, majority_selected, double_majority, perfect, considered, fake``;
    a short track (``long_enough`` false) is ignored: it is never matched, considered or fake.
    """

    metrics: TrackingMetrics
    per_particle: pd.DataFrame
    per_track: pd.DataFrame


def _particle_table(
    particle_id: np.ndarray, particles: pd.DataFrame | None, selection: ParticleSelection
) -> pd.DataFrame:
    ids, nhits = np.unique(particle_id[particle_id > NOISE_PARTICLE_ID], return_counts=True)
    table = pd.DataFrame({"particle_id": ids, "nhits": nhits.astype(np.int64)})
    kin = np.full((ids.size, 4), np.nan)
    if particles is not None:
        require_columns(particles, ("particle_id", "px", "py", "pz", "vx", "vy", "vz"), "particles")
        index = unique_ids(
            int_column(particles, "particle_id", "particles"), "particle_id", "particles"
        )
        with np.errstate(invalid="ignore"):  # it warns on pz = 0 in a branch it discards
            derived = particle_kinematics(particles)
        known = np.column_stack(
            [
                derived["pt"].to_numpy(),
                derived["eta"].to_numpy(),
                derived["vr"].to_numpy(),
                particles["vz"].to_numpy(dtype=np.float64),
            ]
        )
        where = index.get_indexer(pd.Index(ids))
        kin[where >= 0] = known[where[where >= 0]]
    elif selection.needs_kinematics:
        raise DataError(
            "the particle selection cuts on kinematics but no particles table was given"
        )
    for column, values in zip(("pt", "eta", "vr", "vz"), kin.T, strict=True):
        table[column] = values
    table["selected"] = selection.mask(table)
    return table


def match_tracks(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    particles: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
) -> MatchResult:
    """Match the tracks of ``submission`` to the particles of ``truth`` (one event).

    ``truth`` needs ``hit_id, particle_id``; ``submission`` needs ``hit_id, track_id``
    (checked as in :func:`~tracknet.evaluation.score.trackml_score`); ``particles``
    (``particle_id, px, py, pz, vx, vy, vz``) is needed only by kinematic cuts and fills
    the ``pt, eta, vr, vz`` columns of the per-particle table.
    """
    selection = ParticleSelection() if selection is None else selection
    if min_track_hits < 1:
        raise ConfigError(f"min_track_hits must be >= 1, got {min_track_hits}")
    require_columns(truth, ("hit_id", "particle_id"), "truth")
    hit_index = unique_ids(int_column(truth, "hit_id", "truth"), "hit_id", "truth")
    particle_id = int_column(truth, "particle_id", "truth")
    track_id, submitted = submission_tracks(hit_index, submission)
    on_track = submitted & (track_id > UNASSIGNED_TRACK_ID)

    per_particle = _particle_table(particle_id, particles, selection)

    tracks = majority_table(particle_id[on_track], track_id[on_track]).rename(
        columns={"particle_id": "majority_particle_id"}
    )
    all_ids, all_sizes = np.unique(particle_id, return_counts=True)
    majority = tracks["majority_particle_id"].to_numpy()
    n_hits = tracks["n_hits"].to_numpy()
    n_majority = tracks["n_majority"].to_numpy()
    majority_nhits = all_sizes[np.searchsorted(all_ids, majority)]
    tracks["majority_nhits"] = majority_nhits.astype(np.int64)
    long_enough = n_hits >= min_track_hits
    matched = long_enough & (majority > NOISE_PARTICLE_ID) & (2 * n_majority > n_hits)
    selected_ids = per_particle["particle_id"].to_numpy()[per_particle["selected"].to_numpy()]
    majority_selected = np.isin(majority, selected_ids)
    tracks["long_enough"] = long_enough
    tracks["matched"] = matched
    tracks["majority_selected"] = majority_selected
    tracks["double_majority"] = matched & (2 * n_majority > majority_nhits)
    tracks["perfect"] = matched & (n_majority == n_hits) & (n_majority == majority_nhits)
    tracks["considered"] = long_enough & ~(matched & ~majority_selected)
    tracks["fake"] = long_enough & ~matched
    tracks = tracks.loc[:, list(_TRACK_COLUMNS)]

    ids = per_particle["particle_id"].to_numpy()
    per_particle["found"] = np.isin(ids, majority[tracks["double_majority"].to_numpy()])
    per_particle["perfect"] = np.isin(ids, majority[tracks["perfect"].to_numpy()])
    per_particle["n_matched_tracks"] = (
        pd.Series(majority[matched]).value_counts().reindex(ids, fill_value=0).to_numpy(np.int64)
    )
    per_particle = per_particle.loc[:, list(_PARTICLE_COLUMNS)]

    selected = per_particle["selected"].to_numpy()
    matched_selected = matched & majority_selected
    metrics = TrackingMetrics.from_counts(
        n_particles=int(selected.sum()),
        n_found=int((selected & per_particle["found"].to_numpy()).sum()),
        n_perfect=int((selected & per_particle["perfect"].to_numpy()).sum()),
        n_tracks=int(tracks["considered"].sum()),
        n_fake=int(tracks["fake"].sum()),
        n_matched=int(matched_selected.sum()),
        n_duplicate=int(matched_selected.sum() - np.unique(majority[matched_selected]).size),
    )
    return MatchResult(metrics=metrics, per_particle=per_particle, per_track=tracks)


def tracking_metrics(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    particles: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
) -> tuple[TrackingMetrics, pd.DataFrame]:
    """``(metrics, per_particle)`` of :func:`match_tracks`."""
    result = match_tracks(truth, submission, particles, selection, min_track_hits=min_track_hits)
    return result.metrics, result.per_particle


def aggregate(metrics: Iterable[TrackingMetrics]) -> TrackingMetrics:
    """Pool the counts of several events and recompute the rates from the sums.

    The efficiency of the pool is total found / total selected (not a mean of event
    efficiencies), and likewise for every rate; ``n_events`` is summed.
    """
    items: Sequence[TrackingMetrics] = list(metrics)
    keys = (
        "n_particles",
        "n_found",
        "n_perfect",
        "n_tracks",
        "n_fake",
        "n_matched",
        "n_duplicate",
        "n_events",
    )
    sums = {key: sum(getattr(item, key) for item in items) for key in keys}
    return TrackingMetrics.from_counts(**sums)


def efficiency_binned(
    per_particle: pd.DataFrame,
    variable: Literal["pt", "eta"] | str = "pt",
    edges: Sequence[float] | np.ndarray = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, np.inf),
    *,
    numerator: Literal["found", "perfect"] = "found",
    selected_only: bool = True,
) -> pd.DataFrame:
    """Efficiency in bins of ``variable`` of a per-particle table.

    Bins are ``[edges[i], edges[i+1])``; particles outside every bin (or with NaN) are
    left out. With ``selected_only`` only the selected particles count. Columns:
    ``bin_low, bin_high, n_total, n_found, efficiency, error`` with ``efficiency =
    n_found / n_total`` (NaN for an empty bin) and the binomial error
    ``sqrt(eff * (1 - eff) / n_total)``.
    """
    edges_array = np.asarray(edges, dtype=np.float64)
    if edges_array.ndim != 1 or edges_array.size < 2 or np.any(np.diff(edges_array) <= 0):
        raise ConfigError("edges must be at least two strictly increasing numbers")
    require_columns(per_particle, (variable, numerator), "per_particle")
    table = per_particle
    if selected_only and "selected" in table.columns:
        table = table.loc[table["selected"].to_numpy(dtype=bool)]
    values = table[variable].to_numpy(dtype=np.float64)
    n_bins = edges_array.size - 1
    index = np.searchsorted(edges_array, values, side="right") - 1
    inside = (index >= 0) & (index < n_bins) & ~np.isnan(values)
    found = table[numerator].to_numpy(dtype=bool)
    n_total = np.bincount(index[inside], minlength=n_bins)
    n_found = np.bincount(index[inside], weights=found[inside].astype(np.float64), minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        efficiency = np.where(n_total > 0, n_found / n_total, np.nan)
        error = np.where(n_total > 0, np.sqrt(efficiency * (1.0 - efficiency) / n_total), np.nan)
    return pd.DataFrame(
        {
            "bin_low": edges_array[:-1],
            "bin_high": edges_array[1:],
            "n_total": n_total.astype(np.int64),
            "n_found": n_found.astype(np.int64),
            "efficiency": efficiency,
            "error": error,
        }
    )
