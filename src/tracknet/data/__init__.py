"""Training data: events -> ordered truth tracks, selections, normalisation, batches.

Pipeline: :func:`event_tracks` (an :class:`~tracknet.events.Event` with truth -> a
:class:`TrackSet`), :class:`TrackFilter` / :func:`drop_repeated_layers`, then
:class:`TrackDataset` + :func:`make_dataloader` (padded :class:`TrackBatch` es in the
model frame of a :class:`Normalizer`). Plain numpy and PyTorch; no Lightning here.

See ``docs/training-data.md``.
"""

from __future__ import annotations

from .dataset import (
    LengthGroupedBatchSampler,
    TrackBatch,
    TrackDataset,
    make_dataloader,
    pad_tracks,
)
from .filters import PRIMARY_MAX_VERTEX_R_MM, TrackFilter, drop_repeated_layers
from .normalize import DEFAULT_SCALE_MM, Normalizer
from .tracks import TrackSet, event_tracks, tracks_from_events, trajectory_path

__all__ = [
    "DEFAULT_SCALE_MM",
    "PRIMARY_MAX_VERTEX_R_MM",
    "LengthGroupedBatchSampler",
    "Normalizer",
    "TrackBatch",
    "TrackDataset",
    "TrackFilter",
    "TrackSet",
    "drop_repeated_layers",
    "event_tracks",
    "make_dataloader",
    "pad_tracks",
    "tracks_from_events",
    "trajectory_path",
]
