"""Straw-tracker pseudo-data: a 2D model of the Muon g-2 straw tracker.

Pipeline: :mod:`geometry` (modules, U/V layers, straws) -> :mod:`tracks` (occupancy and
time in the fill, the track gun, straw crossings, in the detector of :mod:`conditions`)
-> :mod:`response` (inefficiency,
crosstalk, noise, one hit per straw) -> :mod:`simulate` (a flat
:class:`~tracknet.simulation.straw.batch.StrawBatch` or :class:`~tracknet.events.Event`
objects). :mod:`commands` holds the command-line functions.

See ``docs/simulation.md`` (The straw tracker).
"""

from __future__ import annotations

from tracknet.simulation.straw.batch import DETECTOR, StrawBatch
from tracknet.simulation.straw.conditions import REAL_DETECTOR, DetectorConditions
from tracknet.simulation.straw.geometry import G2_GEOMETRY, StrawGeometry
from tracknet.simulation.straw.response import StrawResponse
from tracknet.simulation.straw.simulate import (
    BLOCK_EVENTS,
    StrawConfig,
    iter_straw_batches,
    simulate_straw_batch,
    simulate_straw_event,
    simulate_straw_events,
)
from tracknet.simulation.straw.tracks import DEFAULT_TAU_US, Occupancy, TrackGun

__all__ = [
    "BLOCK_EVENTS",
    "DEFAULT_TAU_US",
    "DETECTOR",
    "G2_GEOMETRY",
    "REAL_DETECTOR",
    "DetectorConditions",
    "Occupancy",
    "StrawBatch",
    "StrawConfig",
    "StrawGeometry",
    "StrawResponse",
    "TrackGun",
    "iter_straw_batches",
    "simulate_straw_batch",
    "simulate_straw_event",
    "simulate_straw_events",
]
