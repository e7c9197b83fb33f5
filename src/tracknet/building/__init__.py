"""Track building: from an event's hits to the TrackML submission ``event_id, hit_id, track_id``.

* :mod:`~tracknet.building.geometry`: layer surfaces and the detector envelope, read off
  the hits;
* :mod:`~tracknet.building.search`: neighbour search with one radius per query;
* :mod:`~tracknet.building.seeding`: seeds (single hits, pairs, triplets) from the
  innermost layers, in stages with tunable cuts.
"""

from __future__ import annotations

from tracknet.building.geometry import Envelope, LayerSurfaces, layer_keys
from tracknet.building.search import HitIndex, Neighbours
from tracknet.building.seeding import DEFAULT_SEED_STAGES, SeedStage, curvature_from_pt, find_seeds

__all__ = [
    "Envelope",
    "LayerSurfaces",
    "layer_keys",
    "HitIndex",
    "Neighbours",
    "DEFAULT_SEED_STAGES",
    "SeedStage",
    "curvature_from_pt",
    "find_seeds",
]
