"""Seeding stages: where a seed's hits may lie and which seeds pass (:class:`SeedStage`),
and the default stages for TrackML-like detectors (see :mod:`~tracknet.building.seeding`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..errors import ConfigError
from ..schema import Settings, setting

__all__ = [
    "DEFAULT_SEED_STAGES",
    "LOW_PT_GEV",
    "SECONDARY_MIN_HITS",
    "SEED_KINDS",
    "LayerId",
    "SeedStage",
    "low_pt_stages",
]

SEED_KINDS: tuple[str, ...] = ("single", "pair", "triplet")
LayerId = tuple[int, int]


def _layers(name: str, value: Any) -> tuple[LayerId, ...]:
    if value is None:
        return ()
    out: list[LayerId] = []
    try:
        for pair in value:
            volume, layer = (int(v) for v in pair)
            if volume < 0 or layer < 0:
                raise ValueError
            out.append((volume, layer))
    except (TypeError, ValueError):
        raise ConfigError(
            f"seed stage {name} must be a list of (volume_id, layer_id) pairs of integers >= 0, "
            f"got {value!r}"
        ) from None
    from ..simulation.geometry import trackml_layer_ids

    known = trackml_layer_ids()
    unknown = [pair for pair in out if pair not in known]
    if unknown:
        volume = unknown[0][0]
        layers = sorted(layer for v, layer in known if v == volume)
        raise ConfigError(
            f"seed stage {name}: (volume_id, layer_id) {unknown[0]} is no layer of the TrackML "
            f"detector (layers of volume {volume}: {layers or 'none, no such volume'})"
        )
    return tuple(out)


@dataclass(frozen=True)
class SeedStage(Settings):
    """Where seed hits lie and which seeds pass (see :mod:`~tracknet.building.seeding`).

    ``first``, ``second``, ``third``: ``(volume_id, layer_id)`` lists for the seed's first,
    second and third hit. Lengths in mm, angles in rad, momenta in GeV. ``min_hits``, when
    set, replaces the builder's minimum track length for tracks of this stage (seeds
    without the vertex cuts are less pure, so their tracks may be asked to be longer).
    ``module_map``: path of a module map (``.npz``, :mod:`~tracknet.building.module_map`);
    when set, pairs and triplets are formed only between the modules it connects, and
    ``map_dphi_margin`` (rad) / ``map_z0_margin_mm`` (mm), when set, keep a pair only
    within the azimuth step / ``z0`` range the map observed for its connection, widened
    by that margin.
    """

    label: ClassVar[str] = "seed stage"

    kind: str = setting("triplet", choices=SEED_KINDS)
    first: tuple[LayerId, ...] = ((8, 2),)
    second: tuple[LayerId, ...] = ((8, 4),)
    third: tuple[LayerId, ...] = ((8, 6),)
    min_delta_r_mm: float = setting(1.0, low=0)
    max_delta_phi: float = setting(0.2, low=0, open_low=True, high=math.pi)
    max_z0_mm: float | None = setting(100.0, low=0, open_low=True)
    min_pt_gev: float | None = setting(0.5, low=0, open_low=True)
    max_triplet_distance_mm: float = setting(10.0, low=0, open_low=True)
    max_third_hits: int = setting(2, low=1)
    max_theta_change: float | None = setting(0.01, low=0, open_low=True)
    max_d0_mm: float | None = setting(2.0, low=0, open_low=True)
    beamline: bool = True
    min_hits: int | None = setting(None, low=1)
    module_map: str | None = None
    map_dphi_margin: float | None = setting(None, low=0)
    map_z0_margin_mm: float | None = setting(None, low=0)

    def __post_init__(self) -> None:
        for name in ("first", "second", "third"):
            object.__setattr__(self, name, _layers(name, getattr(self, name)))
        super().__post_init__()

    def validate(self) -> None:
        if not self.first:
            raise ConfigError("seed stage first must name at least one (volume_id, layer_id)")
        if self.kind in ("pair", "triplet") and not self.second:
            raise ConfigError(f"a {self.kind} seed stage needs second layers")
        if self.kind == "triplet" and not self.third:
            raise ConfigError("a triplet seed stage needs third layers")
        for name in _FLOATS:  # lengths and angles are floats, whatever the JSON held
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))

    @property
    def n_hits(self) -> int:
        """Hits per seed: 1, 2 or 3."""
        return SEED_KINDS.index(self.kind) + 1


_FLOATS = (
    "min_delta_r_mm",
    "max_delta_phi",
    "max_z0_mm",
    "min_pt_gev",
    "max_triplet_distance_mm",
    "max_theta_change",
    "max_d0_mm",
    "map_dphi_margin",
    "map_z0_margin_mm",
)


#: Pixel layers of the TrackML detector, from the beam outwards: barrel (volume 8) layers
#: 2, 4, 6, 8 at r = 32, 72, 116, 172 mm; end-cap disks (volume 7 at z < 0, volume 9 at
#: z > 0) at |z| = 600, 700, 820, 960, 1100, 1300, 1500 mm (layers 14..2 of volume 7,
#: 2..14 of volume 9).
_DISKS = (
    ((7, 14), (9, 2)),
    ((7, 12), (9, 4)),
    ((7, 10), (9, 6)),
    ((7, 8), (9, 8)),
    ((7, 6), (9, 10)),
    ((7, 4), (9, 12)),
    ((7, 2), (9, 14)),
)

#: The short-strip end-cap disks (volume 12 at z < 0, volume 14 at z > 0), from the
#: barrel outwards (layers 12..2 of volume 12, 2..12 of volume 14); the short-strip barrel
#: is volume 13, layers 2, 4, 6, 8.
_STRIP_DISKS = (
    ((12, 12), (14, 2)),
    ((12, 10), (14, 4)),
    ((12, 8), (14, 6)),
    ((12, 6), (14, 8)),
    ((12, 4), (14, 10)),
    ((12, 2), (14, 12)),
)


def _flat(disks: tuple[tuple[LayerId, LayerId], ...]) -> tuple[LayerId, ...]:
    return tuple(layer for disk in disks for layer in disk)


#: Default seeding for TrackML-like detectors, as triplets of the pixel layers.
#: Stage 1 seeds tracks that start in the innermost barrel layer (most primaries; at large
#: |eta| the later hits lie on the first end-cap disks). Stage 2 runs on the hits that
#: stage 1 left unassigned and seeds tracks starting one layer further out (a missed
#: first hit, a particle produced between layers, a forward track starting on a disk:
#: beyond |eta| ~ 3.8 a track passes inside the first two disks, so the seeds start on
#: any of the first four; on a simulated full event that seeds 98 % of the pT >= 1 GeV
#: primaries there, against 23 % with two).
#: Stage 3 seeds what is left from the last pixel and the strip barrel layers without
#: assuming a track from the beam line (a straight continuation in the transverse plane,
#: a wide z0 window, no d0 cut): secondaries produced in the detector, pT >= 1 GeV.
#: The triplet cuts hold the true triplets of primaries (simulated full event: 99% have
#: an (r, z) angle change below 0.004 rad in stage 1 and 0.007 in stage 2, and d0 below
#: 0.6 and 1.5 mm; the real barrel samples agree) while removing a third of the fakes.
#: Later stages seed among fewer, less pure hits (noise and the leftovers of earlier
#: stages), so their tracks must be longer: 6 hits in stages 2 and 3 (on the real
#: barrel samples this removes nearly all fakes of those stages, which are 4-hit tracks).
DEFAULT_SEED_STAGES: tuple[SeedStage, ...] = (
    SeedStage(
        kind="triplet",
        first=((8, 2),),
        second=((8, 4), *_DISKS[0], *_DISKS[1]),
        third=((8, 6), *_DISKS[0], *_DISKS[1], *_DISKS[2]),
        max_theta_change=0.005,
        max_d0_mm=1.0,
    ),
    SeedStage(
        kind="triplet",
        first=((8, 2), (8, 4), *_DISKS[0], *_DISKS[1], *_DISKS[2], *_DISKS[3]),
        second=((8, 6), (8, 8), *_DISKS[1], *_DISKS[2], *_DISKS[3], *_DISKS[4]),
        third=((8, 8), (13, 2), *_DISKS[2], *_DISKS[3], *_DISKS[4], *_DISKS[5]),
        # Tighter than the first stage's window would need: in a full event this stage
        # makes three seeds in four; these cuts drop a third of them and no found track
        # (simulated full events and the event1000-barrel samples).
        max_third_hits=1,
        max_theta_change=0.004,
        max_d0_mm=1.0,
        # In full events this stage's 5-hit tracks were nearly all fakes: with 6, on two
        # simulated full events (seed 7001, low-pT map stages, min_hits 5) the baseline's
        # fake rate fell from 0.074 to 0.051 and its score rose from 0.707 to 0.710
        # (TrackNET: 0.064 -> 0.054, 0.690 -> 0.692); the barrel samples are unchanged.
        min_hits=6,
    ),
    SeedStage(
        kind="triplet",
        first=((8, 8), (13, 2), (13, 4)),
        second=((13, 2), (13, 4), (13, 6)),
        third=((13, 4), (13, 6), (13, 8)),
        max_delta_phi=0.03,
        max_z0_mm=500.0,
        min_pt_gev=1.0,
        max_third_hits=1,
        max_theta_change=0.007,
        max_d0_mm=None,
        beamline=False,
        min_hits=6,
    ),
)


#: Lowest transverse momentum of the low-pT stages (GeV): on simulated full events 0.15
#: gains 0.009 in TrackML score over 0.2, and 0.1 another 0.002 at a higher fake rate.
LOW_PT_GEV = 0.15
#: Hits a track of the low-pT secondaries stages needs (their seeds lack the vertex cuts).
SECONDARY_MIN_HITS = 6


def low_pt_stages(
    module_map: str, secondary_min_hits: int = SECONDARY_MIN_HITS
) -> tuple[SeedStage, ...]:
    """Seeding down to :data:`LOW_PT_GEV` with the module map at ``module_map``, to run
    after the first default stage (or configured stages) on the hits it left: the first
    two default stages with the map, the lower momentum bound and triplet cuts widened
    for the multiple scattering of soft tracks (an ``(r, z)`` angle change up to 0.02
    rad, ``d0`` up to 2 mm, the 4 nearest third hits), then a stage for soft secondaries
    (particles produced in the beam pipe or the pixel layers): triplets of the pixel
    layers without the beam-line assumption or a ``z0`` window, their pairs taken from
    the map's connections, and one for secondaries of pT >= 1 GeV produced further out,
    from triplets of the outer pixel and the short-strip layers (volumes 12-14: the map
    must hold them), each pair within the azimuth step and ``z0`` range that the map saw
    for its modules. The first two ask for 5 hits, the secondaries stages for
    ``secondary_min_hits`` (seeds among leftovers; without the vertex cuts a 5-hit track
    is as often a fake as not, unless a quality score judges them).
    See docs/seeding.md, Module maps."""
    first, second, _ = DEFAULT_SEED_STAGES
    soft = {
        "min_pt_gev": LOW_PT_GEV,
        "max_theta_change": 0.02,
        "max_d0_mm": 2.0,
        "max_third_hits": 4,
        "module_map": module_map,
    }
    secondaries = SeedStage(
        kind="triplet",
        first=((8, 2), (8, 4), (8, 6), *_DISKS[0], *_DISKS[1], *_DISKS[2], *_DISKS[3]),
        second=((8, 4), (8, 6), (8, 8), *_flat(_DISKS[:5])),
        third=((8, 6), (8, 8), (13, 2), *_flat(_DISKS[1:6])),
        max_delta_phi=0.3,
        max_z0_mm=None,
        min_pt_gev=LOW_PT_GEV,
        max_third_hits=2,
        max_theta_change=0.02,
        max_d0_mm=None,
        beamline=False,
        min_hits=secondary_min_hits,
        module_map=module_map,
    )
    strip_secondaries = SeedStage(
        kind="triplet",
        first=((8, 6), (8, 8), (13, 2), (13, 4), *_flat(_DISKS[3:]), *_flat(_STRIP_DISKS[:4])),
        second=((8, 8), (13, 2), (13, 4), (13, 6), *_flat(_DISKS[4:]), *_flat(_STRIP_DISKS[:5])),
        third=((13, 2), (13, 4), (13, 6), (13, 8), *_flat(_STRIP_DISKS)),
        max_delta_phi=0.3,
        max_z0_mm=None,
        min_pt_gev=1.0,
        max_third_hits=1,
        max_theta_change=0.01,
        max_d0_mm=None,
        beamline=False,
        min_hits=secondary_min_hits,
        module_map=module_map,
        map_dphi_margin=0.01,
        map_z0_margin_mm=20.0,
    )
    return (
        replace(first, **soft, min_hits=5),  # type: ignore[arg-type]
        replace(second, **soft, min_hits=5),  # type: ignore[arg-type]
        secondaries,
        strip_secondaries,
    )
