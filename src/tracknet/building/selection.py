"""Selection: candidates become tracks, and each hit belongs to at most one track.

:func:`select_tracks` ranks candidates (longest, then lowest mean cost), applies the
length, cost and fit cuts of :class:`SelectionConfig`, and resolves shared hits as a
greedy pass in quality order, computed in vectorised rounds. Tracks are numbered
``1, 2, ...`` in quality order; hits on no track get
:data:`~tracknet.events.UNASSIGNED_TRACK_ID`.

See docs/selection-and-fits.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from ..events import UNASSIGNED_TRACK_ID
from ..schema import Settings, setting
from .builder import Candidates
from .fit import FitQuality, scattering_scale

__all__ = ["Selection", "SelectionConfig", "candidate_order", "eligible", "select_tracks"]


def _fraction(value: float) -> str | None:
    return "must be in [0, 1)" if value >= 1.0 else None


@dataclass(frozen=True)
class SelectionConfig(Settings):
    """Quality cuts and conflict resolution (see docs/selection-and-fits.md)."""

    label: ClassVar[str] = "selection"

    min_hits: int = setting(4, low=1)
    max_shared_fraction: float = setting(0.5, low=0, check=_fraction)
    max_mean_cost: float | None = setting(None, low=0, open_low=True)
    max_fit_rms_mm: float | None = setting(None, low=0, open_low=True)
    max_chi2_z: float | None = setting(None, low=0, open_low=True)
    scattering_gev: float | None = setting(None, low=0, open_low=True)


@dataclass(frozen=True, eq=False)
class Selection:
    """The tracks chosen from candidates.

    ``track_of_hit``: int64 ``(n_event_hits,)``, the track number (1-based, in quality
    order) of every hit row, 0 for none. ``candidate``: int64 ``(n_tracks,)``, the
    candidate each track came from (track ``k`` is ``candidate[k - 1]``); ``n_hits``: the
    hits each track kept (shared hits removed).
    """

    track_of_hit: np.ndarray
    candidate: np.ndarray
    n_hits: np.ndarray

    @property
    def n_tracks(self) -> int:
        return len(self.candidate)


def candidate_order(candidates: Candidates) -> np.ndarray:
    """Candidate indices from best to worst (length, mean cost, seed, position)."""
    return np.lexsort(
        (
            np.arange(candidates.n_candidates),
            candidates.seed,
            candidates.mean_cost(),
            -candidates.n_hits,
        )
    )


def eligible(
    candidates: Candidates, config: SelectionConfig, fit: FitQuality | None = None
) -> np.ndarray:
    """Which candidates pass the length, mean-cost and fit cuts (bool ``(C,)``); with
    ``scattering_gev`` the fit cuts widen with the fitted momentum
    (:func:`~tracknet.building.fit.scattering_scale`)."""
    keep = candidates.n_hits >= config.min_hits
    if config.max_mean_cost is not None:
        keep &= candidates.mean_cost() <= config.max_mean_cost
    if config.max_fit_rms_mm is not None or config.max_chi2_z is not None:
        if fit is None or len(fit.rms_mm) != candidates.n_candidates:
            raise ConfigError("selection fit cuts need the fit figures of every candidate")
        scale = np.ones(candidates.n_candidates)
        if config.scattering_gev is not None:
            if fit.momentum_gev is None:
                raise ConfigError("selection scattering_gev needs the candidates' fitted momentum")
            scale = scattering_scale(fit.momentum_gev, config.scattering_gev)
        if config.max_fit_rms_mm is not None:
            keep &= fit.rms_mm <= config.max_fit_rms_mm * np.sqrt(scale)
        if config.max_chi2_z is not None:
            keep &= fit.chi2_z <= config.max_chi2_z * scale
    return keep


def select_tracks(
    candidates: Candidates,
    n_event_hits: int,
    config: SelectionConfig = SelectionConfig(),
    *,
    taken: np.ndarray | None = None,
    fit: FitQuality | None = None,
    exclude: np.ndarray | None = None,
) -> Selection:
    """Resolve candidates into tracks (see :class:`Selection`).

    Hits where ``taken`` (bool ``(n_event_hits,)``) holds belong to tracks found before
    (an earlier seeding stage): they count as shared. ``fit``: the candidates' fit
    figures (:class:`~tracknet.building.fit.FitQuality`), needed when
    ``config.max_fit_rms_mm`` or ``config.max_chi2_z`` is set. ``exclude`` (bool ``(C,)``):
    candidates that may not become tracks (a quality score's likely fakes).
    """
    track_of_hit = np.full(n_event_hits, UNASSIGNED_TRACK_ID, dtype=np.int64)
    keep = eligible(candidates, config, fit)
    if exclude is not None:
        keep &= ~np.asarray(exclude, dtype=bool)
    order = candidate_order(candidates)
    order = order[keep[order]]
    n_cand = len(order)
    if n_cand == 0:
        none = np.zeros(0, dtype=np.int64)
        return Selection(track_of_hit, none, none.copy())

    # Flat (candidate, hit) pairs of the kept candidates; candidate c is rank c.
    paths = candidates.paths[order]
    valid = paths >= 0
    pair_cand = np.repeat(np.arange(n_cand, dtype=np.int64), valid.sum(axis=1))
    pair_hit = paths[valid]
    length = np.bincount(pair_cand, minlength=n_cand)
    # Sorted by (hit, rank): the first active pair of a hit is its best claimant.
    by_hit = np.lexsort((pair_cand, pair_hit))
    pair_cand, pair_hit = pair_cand[by_hit], pair_hit[by_hit]

    owner = np.full(n_event_hits, -1, dtype=np.int64)
    if taken is not None:
        owner[np.asarray(taken, dtype=bool)] = -2
    alive = np.ones(n_cand, dtype=bool)
    accepted = np.zeros(n_cand, dtype=bool)
    while len(pair_cand):
        free = owner[pair_hit] == -1
        left = np.bincount(pair_cand[free], minlength=n_cand)
        shared = length - left
        alive &= (shared <= config.max_shared_fraction * length) & (left >= config.min_hits)
        active = free & alive[pair_cand]
        # Later rounds only look at the pairs still in play.
        pair_cand, pair_hit = pair_cand[active], pair_hit[active]
        if not len(pair_cand):
            break
        cand, hit = pair_cand, pair_hit
        head = np.ones(len(hit), dtype=bool)
        head[1:] = hit[1:] != hit[:-1]
        best = np.repeat(cand[head], np.diff(np.append(np.flatnonzero(head), len(hit))))
        claims = np.bincount(cand, weights=(best == cand), minlength=n_cand)
        winners = alive & (claims == left)
        win_pair = winners[cand]
        owner[hit[win_pair]] = cand[win_pair]
        accepted |= winners
        alive &= ~winners

    ranks = np.flatnonzero(accepted)
    number = np.zeros(n_cand, dtype=np.int64)
    number[ranks] = np.arange(1, len(ranks) + 1)
    mine = owner >= 0
    track_of_hit[mine] = number[owner[mine]]
    kept = np.bincount(owner[mine], minlength=n_cand)[ranks]
    return Selection(track_of_hit, order[ranks], kept.astype(np.int64))
