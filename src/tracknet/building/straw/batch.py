"""Straw building of a chunk of events and of a :class:`~tracknet.simulation.straw.StrawBatch`."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from ...events import UNASSIGNED_TRACK_ID
from ...model.checkpoint import LoadedModel
from ...simulation.straw import StrawBatch, StrawGeometry
from ..builder import _first_ranks
from ..selection import select_tracks
from .algorithms import make_straw_follower
from .alignment import aligned
from .beam import extend_straw
from .cleanup import absorb_fragments, attach_by_fit, merge_pieces
from .fits import _track_hit_y, fit_candidates
from .followers import resolves_drift
from .hits import StrawHits
from .seeding import find_straw_seeds
from .settings import StrawBuildConfig

__all__ = ["build_straw_batch", "build_straw_hits"]


def build_straw_hits(
    follower: Any,
    hits: StrawHits,
    n_events: int,
    config: StrawBuildConfig,
    *,
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """Track ids (int64, per hit row; 1, 2, ... within each event, 0: none) of a chunk."""
    seeds = find_straw_seeds(hits, config)
    if hasattr(follower, "candidates"):  # the seed classifier walks the seeds itself
        candidates, path_y = follower.candidates(hits, seeds, config)
    else:
        candidates, path_y = extend_straw(follower, hits, seeds, config, stats=stats, return_y=True)
    if config.max_fit_rms_mm is not None and resolves_drift(follower, config):
        candidates, path_y, _ = fit_candidates(candidates, path_y, hits, config)
    chosen = select_tracks(candidates, len(hits), config.selection())
    track_of_hit = chosen.track_of_hit
    if config.merge_rms_mm is not None and resolves_drift(follower, config) and chosen.n_tracks > 1:
        hit_y = _track_hit_y(chosen, candidates, path_y, len(hits))
        track_of_hit = merge_pieces(track_of_hit, hit_y, hits, config)
    if config.attach_mm is not None and resolves_drift(follower, config) and chosen.n_tracks > 0:
        if config.merge_rms_mm is None or chosen.n_tracks <= 1:
            hit_y = _track_hit_y(chosen, candidates, path_y, len(hits))
        track_of_hit = attach_by_fit(track_of_hit, hit_y, hits, config)
        if config.fragment_max_hits > 0:
            track_of_hit = absorb_fragments(track_of_hit, hit_y, hits, config)
    if config.min_track_hits > config.min_hits:
        # Tracks still shorter than min_track_hits after the merge are dropped.
        size = np.bincount(track_of_hit, minlength=chosen.n_tracks + 1)
        track_of_hit = np.where(
            size[track_of_hit] >= config.min_track_hits, track_of_hit, UNASSIGNED_TRACK_ID
        )
    if stats is not None:
        n_tracks = len(np.unique(track_of_hit[track_of_hit > 0]))
        stats.update(seeds=len(seeds), candidates=candidates.n_candidates, tracks=n_tracks)
    # Renumber 1, 2, ... within each event, in quality order (selection numbers tracks
    # by quality; clean-up keeps the number of a track's best piece).
    out = np.full(len(hits), UNASSIGNED_TRACK_ID, dtype=np.int64)
    on = np.flatnonzero(track_of_hit > 0)
    if len(on):
        pairs, inverse = np.unique(
            np.stack([hits.event[on], track_of_hit[on]], axis=1), axis=0, return_inverse=True
        )
        out[on] = (_first_ranks(pairs[:, 0]) + 1)[inverse.ravel()]
    return out


def build_straw_batch(
    batch: StrawBatch,
    geometry: StrawGeometry,
    algorithm: str = "tracknet",
    loaded: LoadedModel | None = None,
    config: StrawBuildConfig = StrawBuildConfig(),
    *,
    stats: dict[str, int] | None = None,
    follower: Any = None,
) -> pd.DataFrame:
    """The submission ``event_id, hit_id, track_id`` of every hit of a
    :class:`~tracknet.simulation.straw.StrawBatch` (only hit columns are read), built in
    chunks of ``config.events_per_batch`` events, at the positions of
    ``config.alignment`` when it names one."""
    follower = follower if follower is not None else make_straw_follower(algorithm, loaded, config)
    batch = aligned(batch, geometry, config.alignment)
    h = batch.hits
    n_events = len(batch)
    event_ids = batch.events["event_id"]
    row = np.searchsorted(event_ids, h["event_id"])
    layer = h["volume_id"].astype(np.int64) * geometry.layers_per_module + h["layer_id"]
    track = np.zeros(len(row), dtype=np.int64)
    starts = np.searchsorted(row, np.arange(0, n_events + 1, config.events_per_batch))
    if starts[-1] != len(row):
        starts = np.append(starts, len(row))
    for lo, hi in itertools.pairwise(starts):
        if hi <= lo:
            continue
        sl = slice(lo, hi)
        first = row[lo]
        hits = StrawHits.make(
            row[sl] - first,
            h["x"][sl],
            h["y"][sl],
            h["drift_mm"][sl],
            layer[sl],
            geometry.layer_x,
            geometry.layers_per_module,
            geometry.pitch_mm,
            geometry.straw_radius_mm,
        )
        part: dict[str, int] = {}
        track[sl] = build_straw_hits(
            follower, hits, int(row[hi - 1] - first + 1), config, stats=part
        )
        if stats is not None:
            for k, v in part.items():
                stats[k] = stats.get(k, 0) + v if k != "live_max" else max(stats.get(k, 0), v)
    return pd.DataFrame(
        {
            "event_id": h["event_id"].astype(np.int64),
            "hit_id": h["hit_id"].astype(np.int64),
            "track_id": track,
        }
    )
