"""TrackML-like detector simulation: pseudo-data events as :class:`tracknet.events.Event`.

Pipeline: :mod:`particles` (gun following a real event) -> :mod:`propagation` (helices
in a solenoid, layer crossings, multiple scattering) -> :mod:`response` (module hits,
efficiency, resolution, noise) -> :mod:`simulate` (the Event). The detector is rebuilt
from the embedded tables by :mod:`geometry`; :mod:`realism` compares with real events.

See ``docs/simulation.md``.
"""

from __future__ import annotations

from tracknet.simulation.config import CLI_OPTIONS, SimulationConfig
from tracknet.simulation.geometry import ALL_VOLUMES, TrackMLGeometry, load_geometry
from tracknet.simulation.particles import sample_particles
from tracknet.simulation.simulate import (
    event_rng,
    simulate_event,
    simulate_events,
    simulate_particles,
)

__all__ = [
    "ALL_VOLUMES",
    "CLI_OPTIONS",
    "SimulationConfig",
    "TrackMLGeometry",
    "event_rng",
    "load_geometry",
    "sample_particles",
    "simulate_event",
    "simulate_events",
    "simulate_particles",
]
