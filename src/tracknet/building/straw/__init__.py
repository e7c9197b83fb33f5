"""Track building on straw events (2D): TrackNET or a classical follower, many events at once.

A chunk of events is built in one pass: hit-pair seeds, a beam search of one layer per
step (:class:`StrawTrackNetFollower` or :class:`StrawLineFollower`, optionally on
drift-resolved positions), fits, the shared selection and per-event clean-up.
:func:`build_straw_batch` builds a :class:`~tracknet.simulation.straw.StrawBatch`;
:class:`~tracknet.building.straw.backend.StrawBuildBackend` serves the directory driver.

See docs/straw-building.md.
"""

from __future__ import annotations

from .algorithms import make_straw_follower
from .batch import build_straw_batch, build_straw_hits
from .beam import extend_straw
from .cleanup import absorb_fragments, attach_by_fit, merge_pieces
from .fits import circle_residuals, circle_y_at, fit_candidates
from .followers import (
    StrawFollower,
    StrawLineFollower,
    StrawTrackNetFollower,
    check_straw_model,
    resolve_min_drift,
    resolves_drift,
)
from .hits import StrawHits
from .seeding import find_straw_seeds, resolve_seeds
from .settings import RESOLVED_RADIUS_SCALE, StrawBuildConfig

__all__ = [
    "RESOLVED_RADIUS_SCALE",
    "StrawBuildConfig",
    "StrawFollower",
    "StrawHits",
    "StrawLineFollower",
    "StrawTrackNetFollower",
    "absorb_fragments",
    "attach_by_fit",
    "build_straw_batch",
    "build_straw_hits",
    "check_straw_model",
    "circle_residuals",
    "circle_y_at",
    "extend_straw",
    "find_straw_seeds",
    "fit_candidates",
    "make_straw_follower",
    "merge_pieces",
    "resolve_min_drift",
    "resolve_seeds",
    "resolves_drift",
]
