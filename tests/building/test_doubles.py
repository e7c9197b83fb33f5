"""Double hits: a free hit next to a track's hit in the same layer joins it when it fits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from tracknet.building import BuildConfig, build_tracks
from tracknet.building.doubles import attach_double_hits
from tracknet.building.fit import hit_sigmas
from tracknet.building.seeding import DEFAULT_SEED_STAGES, SeedStage
from tracknet.events import Event


def _track(n: int = 8) -> np.ndarray:
    """A pT ~ 2 GeV track from the origin through the pixel barrel (radii 30..170 mm)."""
    radius = 3300.0
    r = np.linspace(30.0, 170.0, n)
    phi = np.arcsin(r / (2 * radius))  # circle through the origin, centre (0, radius)
    x, y = r * np.cos(phi), r * np.sin(phi)
    return np.c_[x, y, 0.5 * r]


def _attach(
    positions: np.ndarray,
    layer: np.ndarray,
    module: np.ndarray,
    track_of_hit: np.ndarray,
    *,
    max_residual_mm: float = 0.5,
    max_pull_z: float = 5.5,
    max_rms_rise_mm: float | None = None,
) -> np.ndarray:
    """:func:`attach_double_hits` on pixel-barrel hits, within 10 mm."""
    sigma_z, sigma_r = hit_sigmas(np.full(len(positions), 8))
    return attach_double_hits(
        positions,
        layer,
        module,
        track_of_hit,
        sigma_z,
        sigma_r,
        max_distance_mm=10.0,
        max_residual_mm=max_residual_mm,
        max_pull_z=max_pull_z,
        max_rms_rise_mm=max_rms_rise_mm,
    )


def test_a_hit_the_circle_bends_to_take_fails_the_rms_bound() -> None:
    """A hit beside the first hit, 0.6 mm off the helix: the refitted circle bends
    towards it (its own residual stays within 1 mm), but the fit's rms rises."""
    track = _track()
    direction = (track[1] - track[0]) / np.linalg.norm(track[1] - track[0])
    normal = np.array([-direction[1], direction[0], 0.0])
    wrong = track[0] + 2.0 * direction + 0.6 * normal
    positions = np.vstack([track, wrong])
    layer = np.r_[np.arange(8), 0]
    module = np.r_[np.arange(8) * 10, 1]
    track_of_hit = np.r_[np.ones(8, dtype=np.int64), 0]
    loose = _attach(positions, layer, module, track_of_hit, max_residual_mm=1.0)
    assert loose[8] == 1
    bounded = _attach(
        positions, layer, module, track_of_hit, max_residual_mm=1.0, max_rms_rise_mm=0.05
    )
    assert bounded[8] == 0
    double = track[0] + 2.0 * direction  # on the helix: the bound keeps it
    on_helix = _attach(
        np.vstack([track, double]),
        layer,
        module,
        track_of_hit,
        max_residual_mm=1.0,
        max_rms_rise_mm=0.05,
    )
    assert on_helix[8] == 1


def test_double_hit_on_the_helix_joins_and_impostors_do_not() -> None:
    track = _track()
    direction = (track[4] - track[3]) / np.linalg.norm(track[4] - track[3])
    double = track[3] + 2.0 * direction  # the overlapping module, 2 mm further along the track
    off = track[5] + np.array([0.0, 0.0, 6.0])  # same layer, other module, but 6 mm off in z
    same_module = track[6] + 1.5 * direction  # close, but on the partner's own module
    positions = np.vstack([track, double, off, same_module])
    layer = np.r_[np.arange(8), 3, 5, 6]
    module = np.r_[np.arange(8) * 10, 31, 51, 60]
    track_of_hit = np.r_[np.ones(8, dtype=np.int64), 0, 0, 0]
    out = _attach(positions, layer, module, track_of_hit)
    assert out[:8].tolist() == [1] * 8  # the track's own hits are untouched
    assert out[8] == 1  # the double hit joined
    assert out[9] == 0  # off the helix in z: 60 sigma of a pixel hit
    assert out[10] == 0  # same module as its neighbour: not a double hit


def test_a_double_hit_joins_its_own_track_when_another_track_passes_nearer() -> None:
    track = _track()
    direction = (track[4] - track[3]) / np.linalg.norm(track[4] - track[3])
    double = track[3] + 2.0 * direction  # track 1's double hit, 2 mm from its partner
    # Track 2: track 1 moved 2 mm along itself and turned about the beam line, so that its
    # hit in that layer lies 1.5 mm from the double hit (nearer than the partner) but
    # 1.5 mm off in the transverse plane, which its own fit cannot take.
    shifted = np.array([p + 2.0 * direction for p in track])
    angle = 1.5 / float(np.hypot(*double[:2]))
    turn = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    other = shifted @ turn.T
    assert np.linalg.norm(other[3] - double) < np.linalg.norm(track[3] - double)
    positions = np.vstack([track, other, double])
    layer = np.r_[np.arange(8), np.arange(8), 3]
    module = np.r_[np.arange(8) * 10, np.arange(8) * 10 + 5, 31]
    track_of_hit = np.r_[np.ones(8, dtype=np.int64), np.full(8, 2), 0]
    out = _attach(positions, layer, module, track_of_hit, max_residual_mm=1.0, max_pull_z=30.0)
    assert out[16] == 1
    assert out[:16].tolist() == track_of_hit[:16].tolist()


def test_nothing_to_attach_leaves_the_assignment_alone() -> None:
    positions = _track()
    track_of_hit = np.zeros(8, dtype=np.int64)
    out = _attach(positions, np.arange(8), np.arange(8), track_of_hit)
    assert out.tolist() == [0] * 8


#: Barrel layers (volume, layer, radius mm) of a small hand-made event: the pixel and
#: short-strip barrels of TrackML.
_LAYERS = (
    *((8, layer, r) for layer, r in ((2, 32.0), (4, 72.0), (6, 116.0), (8, 172.0))),
    *((13, layer, r) for layer, r in ((2, 260.0), (4, 360.0), (6, 500.0), (8, 660.0))),
)


def _helix_hits(
    radius_mm: float,
    phi0: float,
    charge: int,
    layers: tuple[tuple[int, int, float], ...],
    double_mm: float = 1.5,
) -> pd.DataFrame:
    """Hits of a particle from the origin (transverse radius of curvature ``radius_mm``,
    z = 0.4 r) on ``layers``: one per layer, and a double hit ``double_mm`` further out on
    the overlapping module."""
    volume = np.repeat([v for v, _, _ in layers], 2)
    layer = np.repeat([lay for _, lay, _ in layers], 2)
    r = np.repeat([r for _, _, r in layers], 2) + np.tile([0.0, double_mm], len(layers))
    phi = phi0 + charge * np.arcsin(r / (2 * radius_mm))
    module = np.repeat(np.arange(len(layers)) * 10, 2) + np.tile([0, 1], len(layers))
    return pd.DataFrame(
        {
            "x": r * np.cos(phi),
            "y": r * np.sin(phi),
            "z": 0.4 * r,
            "volume_id": volume,
            "layer_id": layer,
            "module_id": module + (1000 if charge < 0 else 0),
        }
    )


def _two_particle_event() -> tuple[Event, np.ndarray]:
    """Particle 1 (pT 2 GeV) on every layer; particle 2 (pT 1.5 GeV, other charge, no
    hit on the first layer, so only the second stage seeds it) crosses its path and
    passes 4 mm from its hit on layer (13, 4). Every layer holds a double hit of each."""
    a = _helix_hits(3333.0, 0.3, 1, _LAYERS)
    # phi0 chosen so that the two circles meet near r = 360 mm, then shifted by 4 mm there.
    b = _helix_hits(2500.0, 0.3 + 0.054 + 0.072 + 4.0 / 360.0, -1, _LAYERS[1:])
    hits = pd.concat([a, b], ignore_index=True)
    hits.insert(0, "hit_id", np.arange(1, len(hits) + 1, dtype=np.int64))
    particle = np.r_[np.full(len(a), 1), np.full(len(b), 2)]
    return Event(event_id=1, hits=hits), particle


def _two_stages() -> tuple[SeedStage, SeedStage]:
    first, second, _ = DEFAULT_SEED_STAGES
    barrel_first = replace(first, first=((8, 2),), second=((8, 4),), third=((8, 6),))
    barrel_second = replace(second, first=((8, 4),), second=((8, 6),), third=((8, 8),))
    return barrel_first, barrel_second


def _tracks_of(particle: np.ndarray, track_of_hit: np.ndarray) -> dict[int, set[int]]:
    return {p: set(track_of_hit[(particle == p) & (track_of_hit > 0)].tolist()) for p in (1, 2)}


def test_double_hits_join_after_each_stage_so_no_later_stage_duplicates_a_track() -> None:
    """A later stage seeds among the hits earlier stages left: a track's double hits left
    free until the end make a second track of the same particle; taken by the track
    right after its stage, they cannot, and another particle's hit next to the track
    (off its helix) is left to that particle's own track."""
    event, particle = _two_particle_event()
    stages = _two_stages()
    each = build_tracks(event, "baseline", config=BuildConfig(seed_stages=stages))
    found = each.submission["track_id"].to_numpy()
    owners = _tracks_of(particle, found)
    assert len(owners[1]) == 1 and len(owners[2]) == 1 and owners[1] != owners[2]
    assert np.all(found > 0)  # both particles whole, doubles included
    assert each.tracks["stage"].tolist() == [1, 2]
    assert each.tracks["n_double_hits"].tolist() == [8, 7]

    at_end = BuildConfig(seed_stages=stages, double_hits_each_stage=False)
    late = build_tracks(event, "baseline", config=at_end).submission["track_id"].to_numpy()
    assert len(_tracks_of(particle, late)[1]) == 2  # the doubles became a duplicate


def test_the_final_pass_takes_the_double_hits_too_far_for_the_stages() -> None:
    """Double hits 13 mm from their partners (a steep track crossing two overlapping
    modules): beyond the per-stage ``double_hit_distance_mm``, within the final pass's.

    One seed pass: with two, each first hit of the pair starts its own first-pass seed,
    and with a double on every layer the two candidates never share a hit (two tracks)."""
    hits = _helix_hits(3333.0, 0.3, 1, _LAYERS, double_mm=12.0)
    hits.insert(0, "hit_id", np.arange(1, len(hits) + 1, dtype=np.int64))
    event = Event(event_id=1, hits=hits)
    stages = _two_stages()[:1]
    wide = build_tracks(event, "baseline", config=BuildConfig(seed_stages=stages, seed_passes=1))
    narrow = build_tracks(
        event,
        "baseline",
        config=BuildConfig(seed_stages=stages, final_double_hit_distance_mm=None, seed_passes=1),
    )
    assert BuildConfig().final_double_hit_distance_mm > 13 > BuildConfig().double_hit_distance_mm
    assert wide.tracks["n_double_hits"].tolist() == [8]
    assert (wide.submission["track_id"] == 1).all()
    assert narrow.n_tracks == 1 and narrow.tracks["n_double_hits"].tolist() == [0]


def test_seed_passes_find_the_same_tracks_from_fewer_seeds() -> None:
    """The second seed pass holds only seeds whose hits the first pass's tracks left free:
    the two particles come out whole either way, from fewer extended seeds."""
    event, particle = _two_particle_event()
    stages = _two_stages()
    one, two = (
        build_tracks(event, "baseline", config=BuildConfig(seed_stages=stages, seed_passes=p))
        for p in (1, 2)
    )
    for result in (one, two):
        owners = _tracks_of(particle, result.submission["track_id"].to_numpy())
        assert len(owners[1]) == 1 and len(owners[2]) == 1 and owners[1] != owners[2]
    seeds_one = sum(s["seeds"] for s in one.stages)
    seeds_two = sum(s["seeds"] for s in two.stages)
    assert 0 < seeds_two < seeds_one
