"""Seeding on hand-made hits: which pairs and triplets pass the cuts, and which do not."""

from __future__ import annotations

import numpy as np
import pytest

from tracknet.building.geometry import LayerSurfaces
from tracknet.building.seeding import (
    DEFAULT_SEED_STAGES,
    SeedStage,
    curvature_from_pt,
    find_ranked_seeds,
    find_seeds,
    seed_parts,
)
from tracknet.errors import ConfigError

BARREL = ((8, 2, 32.0), (8, 4, 72.0), (8, 6, 116.0), (8, 8, 172.0))
DISKS = ((9, 2, 600.0), (9, 4, 700.0))


def helix_hits(
    pt: float, phi0: float, cot_theta: float, z0: float, charge: int = 1
) -> list[tuple[float, ...]]:
    """Crossings of a helix from (0, 0, z0) with the barrel layers and the disks (2 T)."""
    kappa = charge * curvature_from_pt(pt, 2.0)
    rows = []
    for volume, layer, radius in BARREL:
        half = np.arcsin(kappa * radius / 2.0)
        s = 2.0 * half / kappa
        z = z0 + s * cot_theta
        if abs(z) < 500:
            rows.append(
                (radius * np.cos(phi0 + half), radius * np.sin(phi0 + half), z, volume, layer)
            )
    for volume, layer, zeta in DISKS:
        s = (zeta - z0) / cot_theta
        if s <= 0:
            continue
        radius = 2.0 * np.sin(kappa * s / 2.0) / kappa
        if 30.0 < radius < 175.0:
            half = kappa * s / 2.0
            rows.append(
                (radius * np.cos(phi0 + half), radius * np.sin(phi0 + half), zeta, volume, layer)
            )
    return rows


def make_hits(
    tracks: dict[str, list[tuple[float, ...]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, list[int]]]:
    positions, volume, layer, rows = [], [], [], {}
    for name, hits in tracks.items():
        rows[name] = []
        for x, y, z, v, lay in hits:
            rows[name].append(len(positions))
            positions.append((x, y, z))
            volume.append(v)
            layer.append(lay)
    return np.array(positions), np.array(volume), np.array(layer), rows


@pytest.fixture
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, list[int]]]:
    return make_hits(
        {
            "good": helix_hits(2.0, 0.5, 0.3, 0.0),
            "wraps": helix_hits(5.0, np.pi - 0.002, -0.4, 3.0, charge=1),  # crosses phi = +-pi
            "soft": helix_hits(0.2, 2.0, 0.1, 0.0),  # below the 0.5 GeV cut
            "displaced_z": helix_hits(3.0, -1.5, 0.2, 300.0),  # outside the z0 window
            "forward": helix_hits(3.0, -2.5, 7.5, 0.0),  # barrel layer 2, then the disks
            "forward2": helix_hits(3.0, 1.8, 5.0, 10.0),
        }
    )


def _rows(seeds: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in row) for row in seeds}


def test_pairs_pass_exactly_the_compatible_hits(scene) -> None:  # type: ignore[no-untyped-def]
    positions, volume, layer, rows = scene
    stage = SeedStage(
        kind="pair", first=((8, 2),), second=((8, 4), (9, 2)), max_z0_mm=100.0, min_pt_gev=0.5
    )
    seeds = find_seeds(positions, volume, layer, stage)
    expected = {
        (rows["good"][0], rows["good"][1]),
        (rows["wraps"][0], rows["wraps"][1]),
        (rows["forward"][0], rows["forward"][1]),
        (rows["forward2"][0], rows["forward2"][1]),
        (rows["forward2"][0], rows["forward2"][2]),  # barrel 2 -> disk, skipping barrel 4
    }
    assert _rows(seeds) == expected
    assert seeds.dtype == np.int64 and seeds.shape == (5, 2)
    # Loosening the cuts admits the soft and the displaced track.
    loose = SeedStage(
        kind="pair",
        first=((8, 2),),
        second=((8, 4), (9, 2)),
        max_z0_mm=None,
        min_pt_gev=None,
        max_delta_phi=0.5,
    )
    found = _rows(find_seeds(positions, volume, layer, loose))
    assert (rows["soft"][0], rows["soft"][1]) in found
    assert (rows["displaced_z"][0], rows["displaced_z"][1]) in found


def test_triplets_follow_the_helix(scene) -> None:  # type: ignore[no-untyped-def]
    positions, volume, layer, rows = scene
    # A decoy next to the good track's third hit, 15 mm off in z: its (r, z) angle breaks.
    decoy = positions[rows["good"][2]] + np.array([0.0, 0.0, 15.0])
    positions = np.vstack([positions, decoy])
    volume = np.append(volume, 8)
    layer = np.append(layer, 6)
    stage = SeedStage(
        kind="triplet",
        first=((8, 2),),
        second=((8, 4), (9, 2)),
        third=((8, 6), (9, 2), (9, 4)),
        max_triplet_distance_mm=20.0,
    )
    seeds = find_seeds(positions, volume, layer, stage)
    owner = {row: name for name, members in rows.items() for row in members}
    # Every triplet holds hits of one track (never the decoy); a triplet may skip a layer
    # (forward2 crosses barrel 4 and both disks).
    assert all(len({owner.get(int(h), "decoy") for h in seed}) == 1 for seed in seeds)
    assert {owner[int(seed[0])] for seed in seeds} == {"good", "wraps", "forward", "forward2"}
    for name in ("good", "wraps", "forward", "forward2"):
        assert tuple(rows[name][:3]) in _rows(seeds)
    # Without the angle cut the decoy (within 20 mm of the prediction) passes too.
    loose = SeedStage(
        kind="triplet",
        first=((8, 2),),
        second=((8, 4),),
        third=((8, 6),),
        max_triplet_distance_mm=20.0,
        max_third_hits=2,
        max_theta_change=None,
    )
    assert (rows["good"][0], rows["good"][1], len(positions) - 1) in _rows(
        find_seeds(positions, volume, layer, loose)
    )


def test_available_mask_and_single_hits(scene) -> None:  # type: ignore[no-untyped-def]
    positions, volume, layer, rows = scene
    available = np.ones(len(positions), dtype=bool)
    available[rows["good"][1]] = False
    single = find_seeds(positions, volume, layer, SeedStage(kind="single", first=((8, 2),)))
    assert sorted(single[:, 0].tolist()) == sorted(
        np.flatnonzero((volume == 8) & (layer == 2)).tolist()
    )
    pairs = find_seeds(
        positions, volume, layer, SeedStage(kind="pair", second=((8, 4),)), available=available
    )
    # The good track lost its second hit; the wrapping track and forward2 (which still
    # crosses barrel layer 4) keep theirs; the others fail the cuts or miss layer 4.
    assert _rows(pairs) == {tuple(rows["wraps"][:2]), tuple(rows["forward2"][:2])}


def test_seeds_are_sorted_and_deterministic() -> None:
    rng = np.random.default_rng(3)
    tracks = {
        f"t{i}": helix_hits(
            rng.uniform(0.6, 5.0),
            rng.uniform(-np.pi, np.pi),
            rng.uniform(-1, 1),
            rng.normal(0, 20),
            int(rng.choice([-1, 1])),
        )
        for i in range(60)
    }
    positions, volume, layer, _ = make_hits(tracks)
    stage = DEFAULT_SEED_STAGES[0]
    first = find_seeds(positions, volume, layer, stage)
    again = find_seeds(
        positions, volume, layer, stage, surfaces=LayerSurfaces.from_hits(positions, volume, layer)
    )
    np.testing.assert_array_equal(first, again)
    assert [tuple(r) for r in first.tolist()] == sorted(tuple(r) for r in first.tolist())
    assert len(first) >= 55  # nearly every track gives its true triplet


def test_stage_validation_is_one_line() -> None:
    with pytest.raises(ConfigError, match="kind"):
        SeedStage(kind="quadruplet")
    with pytest.raises(ConfigError, match="first"):
        SeedStage(first=())
    with pytest.raises(ConfigError, match="volume_id, layer_id"):
        SeedStage(second=((8,),))
    with pytest.raises(ConfigError, match="max_delta_phi"):
        SeedStage(max_delta_phi=4.0)
    with pytest.raises(ConfigError, match="unknown seed stage option"):
        SeedStage.from_dict({"kind": "pair", "bogus": 1})
    with pytest.raises(ConfigError, match="field_tesla"):
        find_seeds(np.zeros((1, 3)), np.array([8]), np.array([2]), SeedStage(), field_tesla=0.0)
    stage = SeedStage.from_dict(SeedStage().to_dict())
    assert stage == SeedStage()
    for error in ("kind", "first", "max_delta_phi"):
        try:
            SeedStage.from_dict(
                {error: None if error != "kind" else "x"} if error != "first" else {"first": []}
            )
        except ConfigError as exc:
            assert "\n" not in str(exc)


def test_two_dimensional_window_search_matches_brute_force() -> None:
    from tracknet.building.windows import window_pairs_2d

    rng = np.random.default_rng(8)
    phi_t = rng.uniform(-np.pi, np.pi, 400)
    along_t = rng.uniform(-500.0, 500.0, 400)
    phi_q = np.concatenate([rng.uniform(-np.pi, np.pi, 60), [np.pi - 0.01, -np.pi + 0.01]])
    half = rng.uniform(0.01, 0.3, len(phi_q))
    centre = rng.uniform(-600.0, 600.0, len(phi_q))
    width = rng.uniform(1.0, 300.0, len(phi_q))
    low, high = centre - width, centre + width
    low[:5], high[5:10] = -np.inf, np.inf  # half-open windows
    owner, target = window_pairs_2d(phi_q, half, low, high, phi_t, along_t)
    dphi = np.abs(np.remainder(phi_t[None, :] - phi_q[:, None] + np.pi, 2 * np.pi) - np.pi)
    inside = (
        (dphi <= half[:, None])
        & (along_t[None, :] >= low[:, None])
        & (along_t[None, :] <= high[:, None])
    )
    expected = set(zip(*np.nonzero(inside), strict=True))
    assert set(zip(owner.tolist(), target.tolist(), strict=True)) == {
        (int(a), int(b)) for a, b in expected
    }
    assert len(owner) == len(expected)  # no pair twice


def test_ranked_seeds_are_the_seeds_with_the_third_hit_s_miss(scene) -> None:  # type: ignore[no-untyped-def]
    """The ranking is the distance of the third hit from the point the pair predicts: the
    true third hit lies nearer than a decoy 15 mm off it."""
    positions, volume, layer, rows = scene
    decoy = positions[rows["good"][2]] + np.array([0.0, 0.0, 15.0])
    positions = np.vstack([positions, decoy])
    volume, layer = np.append(volume, 8), np.append(layer, 6)
    stage = SeedStage(
        kind="triplet", first=((8, 2),), second=((8, 4),), third=((8, 6),),
        max_triplet_distance_mm=20.0, max_third_hits=2, max_theta_change=None,
    )  # fmt: skip
    seeds, miss = find_ranked_seeds(positions, volume, layer, stage)
    np.testing.assert_array_equal(seeds, find_seeds(positions, volume, layer, stage))
    assert np.all((miss >= 0) & (miss <= 20.0))
    by_row = {tuple(s): m for s, m in zip(seeds.tolist(), miss.tolist(), strict=True)}
    good = tuple(rows["good"][:3])
    assert by_row[good] < by_row[(good[0], good[1], len(positions) - 1)]


def test_a_seed_pass_holds_the_nearest_seed_per_beginning_then_the_free_rest() -> None:
    seeds = np.array([[0, 1, 2], [0, 1, 3], [0, 4, 5], [6, 7, 8], [9, 7, 10]])
    miss = np.array([2.0, 1.0, 0.5, 3.0, 0.1])
    taken = np.zeros(11, dtype=bool)
    passes = seed_parts(seeds, miss, taken, 2)
    assert next(passes).tolist() == [[0, 4, 5], [6, 7, 8], [9, 7, 10]]
    taken[[0, 4, 5, 9, 7, 10]] = True  # the first pass's tracks (its caller's update)
    assert next(passes).tolist() == []  # [0, 1, *] and nothing else left free
    fresh = np.zeros(11, dtype=bool)
    assert next(seed_parts(seeds, miss, fresh, 1)).tolist() == seeds.tolist()
    three = seed_parts(seeds, miss, np.zeros(11, dtype=bool), 3)
    assert len(next(three)) == 3
    assert next(three).tolist() == [[0, 1, 3]]  # the nearest of the first pair left
    assert next(three).tolist() == [[0, 1, 2]]
