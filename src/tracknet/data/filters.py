"""Track selections and transforms on a :class:`~tracknet.data.tracks.TrackSet`, vectorised.

:class:`TrackFilter` keeps or drops whole tracks; :func:`drop_repeated_layers` removes
hits inside tracks. Every operation works on the flat arrays at once.

See ``docs/training-data.md`` (Preparation and filters).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .tracks import TrackSet

__all__ = [
    "PRIMARY_MAX_VERTEX_R_MM",
    "REPEATED_LAYER_KEEP",
    "TrackFilter",
    "drop_repeated_layers",
    "layer_key",
]

#: Default bound (mm) on the transverse distance of the production vertex from the beam
#: line for a particle to count as a primary. TrackML primaries come from the luminous
#: region (``vr`` well below 0.1 mm); decays of short-lived hadrons lie within a few mm;
#: interactions in the beam pipe (r ~ 29 mm) and beyond are secondaries. 1 mm keeps the
#: primaries and the prompt decays close to them.
PRIMARY_MAX_VERTEX_R_MM = 1.0


def layer_key(volume_id: np.ndarray, layer_id: np.ndarray) -> np.ndarray:
    """One int64 per (volume, layer) pair: ``volume << 32 | layer`` (both must be >= 0)."""
    return (np.asarray(volume_id, dtype=np.int64) << 32) | np.asarray(layer_id, dtype=np.int64)


def _optional_positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(
            f"track filter {name} must be a finite number >= 0 or None, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class TrackFilter:
    """A selection of tracks; every criterion left at its default keeps everything.

    * ``min_hits``: at least this many hits (a track needs 2 for a t1 target, 3 for t2).
    * ``min_pt``: pT at production >= this (GeV).
    * ``max_abs_eta``: ``|eta|`` at production <= this.
    * ``first_layers``: the first hit lies on one of these ``(volume_id, layer_id)`` pairs.
    * ``primaries_only``: the production vertex lies within ``max_vertex_r_mm`` (mm) of the
      beam line (default :data:`PRIMARY_MAX_VERTEX_R_MM`).
    * ``consistent_only``: no step of the track points against the truth momentum
      (``backward_steps == 0``), which drops TrackML particle-id collisions.
    """

    min_hits: int = 0
    min_pt: float | None = None
    max_abs_eta: float | None = None
    first_layers: tuple[tuple[int, int], ...] | None = None
    primaries_only: bool = False
    max_vertex_r_mm: float = PRIMARY_MAX_VERTEX_R_MM
    consistent_only: bool = False

    def __post_init__(self) -> None:
        if (
            isinstance(self.min_hits, bool)
            or not isinstance(self.min_hits, (int, np.integer))
            or self.min_hits < 0
        ):
            raise ConfigError(
                f"track filter min_hits must be an integer >= 0, got {self.min_hits!r}"
            )
        object.__setattr__(self, "min_hits", int(self.min_hits))
        object.__setattr__(self, "min_pt", _optional_positive("min_pt", self.min_pt))
        object.__setattr__(self, "max_abs_eta", _optional_positive("max_abs_eta", self.max_abs_eta))
        bound = _optional_positive("max_vertex_r_mm", self.max_vertex_r_mm)
        if bound is None:
            raise ConfigError("track filter max_vertex_r_mm must be a number")
        object.__setattr__(self, "max_vertex_r_mm", bound)
        if self.first_layers is not None:
            pairs: list[tuple[int, int]] = []
            for pair in self.first_layers:
                try:
                    volume, layer = (int(v) for v in pair)
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"track filter first_layers needs (volume_id, layer_id) pairs, got {pair!r}"
                    ) from None
                if volume < 0 or layer < 0:
                    raise ConfigError(f"track filter first_layers ids must be >= 0, got {pair!r}")
                pairs.append((volume, layer))
            object.__setattr__(self, "first_layers", tuple(pairs))

    def mask(self, tracks: TrackSet) -> np.ndarray:
        """Boolean ``(n_tracks,)``: which tracks pass."""
        keep = tracks.lengths >= max(self.min_hits, 1)
        if self.min_pt is not None:
            keep &= tracks.pt >= self.min_pt
        if self.max_abs_eta is not None:
            keep &= np.abs(tracks.eta) <= self.max_abs_eta
        if self.first_layers is not None:
            first = np.minimum(tracks.first_hit(), max(tracks.n_hits - 1, 0))
            if tracks.n_hits:
                keys = layer_key(tracks.volume_id[first], tracks.layer_id[first])
                allowed = layer_key(*np.array(self.first_layers, dtype=np.int64).reshape(-1, 2).T)
                keep &= np.isin(keys, allowed)
        if self.primaries_only:
            keep &= np.hypot(tracks.vertex[:, 0], tracks.vertex[:, 1]) <= self.max_vertex_r_mm
        if self.consistent_only:
            keep &= tracks.backward_steps == 0
        return keep

    def apply(self, tracks: TrackSet) -> TrackSet:
        """The tracks that pass, in their order."""
        return tracks.take(self.mask(tracks))

    def __call__(self, tracks: TrackSet) -> TrackSet:
        return self.apply(tracks)

    def config(self) -> dict[str, Any]:
        """Primitives and lists only, for configs and checkpoints."""
        return {
            "min_hits": self.min_hits,
            "min_pt": self.min_pt,
            "max_abs_eta": self.max_abs_eta,
            "first_layers": None
            if self.first_layers is None
            else [list(p) for p in self.first_layers],
            "primaries_only": self.primaries_only,
            "max_vertex_r_mm": self.max_vertex_r_mm,
            "consistent_only": self.consistent_only,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrackFilter:
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            raise ConfigError(
                f"unknown track filter option(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        values = dict(config)
        layers: Iterable[Any] | None = values.get("first_layers")
        if layers is not None:
            values["first_layers"] = tuple(tuple(p) for p in layers)
        return cls(**values)


#: Which hit of a track survives on a (volume, layer) it crosses more than once.
REPEATED_LAYER_KEEP: tuple[str, ...] = ("first", "lowest_hit_id")


def drop_repeated_layers(
    tracks: TrackSet, *, consecutive_only: bool = False, keep: str = "first"
) -> TrackSet:
    """Keep only one hit of each track on each (volume, layer).

    ``keep="first"`` keeps the first hit along the trajectory. ``keep="lowest_hit_id"``
    keeps the hit with the lowest ``hit_id``, i.e. the first one in the file order of a
    TrackML event (hits are numbered by volume, layer, module), as a de-duplication of
    the hit table by (particle, layer) does; this is how the double hits of the
    ``event1000-barrel`` sample events were removed (the kept hits' radii per layer match
    that rule, not the trajectory order). The kept hits stay in trajectory order.

    With ``consecutive_only`` a hit is dropped only when the previous hit of the same
    track is on the same (volume, layer) (double hits of overlapping modules), so a
    looper's second crossing of a layer further along the track is kept; it applies to
    ``keep="first"`` only. Tracks never become empty.
    """
    if keep not in REPEATED_LAYER_KEEP:
        raise ConfigError(
            f"drop_repeated_layers keep must be one of {list(REPEATED_LAYER_KEEP)}, got {keep!r}"
        )
    if consecutive_only and keep != "first":
        raise ConfigError("drop_repeated_layers consecutive_only works with keep='first' only")
    if tracks.n_hits == 0:
        return tracks
    track = tracks.track_index()
    layer = layer_key(tracks.volume_id, tracks.layer_id)
    if consecutive_only:
        kept = np.ones(tracks.n_hits, dtype=bool)
        kept[1:] = (track[1:] != track[:-1]) | (layer[1:] != layer[:-1])
        return tracks.select_hits(kept)
    # Sort by (track, layer, rank): the head of each (track, layer) run is the hit kept.
    rank = (
        np.arange(tracks.n_hits, dtype=np.int64)
        if keep == "first"
        else np.asarray(tracks.hit_id, dtype=np.int64)
    )
    order = np.lexsort((rank, layer, track))
    sorted_track, sorted_layer = track[order], layer[order]
    head = np.ones(len(order), dtype=bool)
    head[1:] = (sorted_track[1:] != sorted_track[:-1]) | (sorted_layer[1:] != sorted_layer[:-1])
    kept = np.zeros(tracks.n_hits, dtype=bool)
    kept[order[head]] = True
    return tracks.select_hits(kept)
