"""Module maps: exactly the connections of the true tracks, seeding only across them, low-pT
seeds that the default stage misses, and one-line errors for bad map files."""

from __future__ import annotations

import dataclasses
import itertools
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.building.conftest import barrel_event
from tests.cli_helpers import assert_one_line_error, invoke
from tracknet.building import BuildConfig, build_tracks
from tracknet.building.module_map import (
    MODULE_MAP_FORMAT_VERSION,
    ModuleMap,
    build_module_map,
    load_module_map,
    module_keys,
)
from tracknet.building.seeding import DEFAULT_SEED_STAGES, find_seeds
from tracknet.building.stages import LOW_PT_GEV, SECONDARY_MIN_HITS, SeedStage, low_pt_stages
from tracknet.data.tracks import event_tracks
from tracknet.errors import ConfigError, DataError
from tracknet.events import Event
from tracknet.io.trackml import write_event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event

PIXEL = (7, 8, 9)


@pytest.fixture(scope="module")
def pixel_event() -> Event:
    """A small simulated event of the pixel detector (barrel and both end caps)."""
    return barrel_event(3, n_particles=600, seed=5, volumes=PIXEL)


def _oracle(event: Event) -> tuple[set[tuple[int, ...]], set[tuple[int, ...]]]:
    """Module pairs and triplets of consecutive layer groups, track by track (plain loops)."""
    tracks = event_tracks(event)
    pairs: set[tuple[int, ...]] = set()
    triplets: set[tuple[int, ...]] = set()
    offsets = tracks.offsets
    for t in range(tracks.n_tracks):
        groups: list[list[int]] = []
        last = None
        for h in range(offsets[t], offsets[t + 1]):
            layer = (int(tracks.volume_id[h]), int(tracks.layer_id[h]))
            key = int(module_keys(*layer, tracks.module_id[h]))
            if layer != last:
                groups.append([])
                last = layer
            groups[-1].append(key)
        for a, b in itertools.pairwise(groups):
            pairs.update((x, y) for x in a for y in b)
        for a, b, c in zip(groups, groups[1:], groups[2:], strict=False):
            triplets.update((x, y, z) for x in a for y in b for z in c)
    return pairs, triplets


def _as_keys(module_map: ModuleMap, rows: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(module_map.modules[i]) for i in row) for row in rows}


def test_the_map_holds_exactly_the_connections_of_the_true_tracks(pixel_event: Event) -> None:
    module_map = build_module_map([pixel_event])
    pairs, triplets = _oracle(pixel_event)
    assert _as_keys(module_map, module_map.pairs) == pairs
    assert _as_keys(module_map, module_map.triplets) == triplets
    # Every true pair's azimuth step lies in its connection's window.
    assert np.all(module_map.dphi_low <= module_map.dphi_high)
    assert module_map.pair_count.sum() >= len(pairs)


def test_volumes_keep_only_connections_inside_them(pixel_event: Event) -> None:
    barrel = build_module_map([pixel_event], volumes=(8,))
    volume = barrel.modules >> 42
    assert set(np.unique(volume)) == {8}
    pairs, _ = _oracle(pixel_event)
    assert _as_keys(barrel, barrel.pairs) == {p for p in pairs if all(k >> 42 == 8 for k in p)}


def test_a_saved_map_loads_back_the_same(tmp_path: Path, pixel_event: Event) -> None:
    module_map = build_module_map([pixel_event], volumes=PIXEL, meta={"seed": 5})
    path = module_map.save(tmp_path / "map.npz")
    loaded = ModuleMap.load(path)
    for name in ("modules", "pairs", "triplets", "pair_count", "dphi_low", "z0_high"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(module_map, name))
    assert loaded.meta["seed"] == 5 and loaded.meta["volumes"] == list(PIXEL)
    assert [p.name for p in tmp_path.iterdir()] == ["map.npz"]  # no temporary left


def _hit_arrays(event: Event) -> tuple[np.ndarray, ...]:
    h = event.hits
    return (
        h[["x", "y", "z"]].to_numpy(np.float64),
        h["volume_id"].to_numpy(np.int64),
        h["layer_id"].to_numpy(np.int64),
        h["module_id"].to_numpy(np.int64),
    )


def test_seeds_never_cross_an_unconnected_module_pair(tmp_path: Path, pixel_event: Event) -> None:
    full = build_module_map([pixel_event], volumes=PIXEL)
    # Drop every other connection: seeds through the dropped ones must disappear.
    kept = np.arange(full.n_pairs) % 2 == 0
    codes = full.pairs[kept]
    in_kept = (
        (full.triplets[:, None, :2] == codes[None, :, :]).all(axis=2).any(axis=1)
        if len(codes)
        else np.zeros(len(full.triplets), bool)
    )
    half = dataclasses.replace(
        full,
        pairs=codes,
        triplets=full.triplets[in_kept],
        **{n: getattr(full, n)[kept] for n in ("pair_count", "dphi_low", "dphi_high")},
        **{n: getattr(full, n)[kept] for n in ("z0_low", "z0_high")},
    )
    path = half.save(tmp_path / "half.npz")
    positions, volume, layer, module = _hit_arrays(pixel_event)
    stage = dataclasses.replace(DEFAULT_SEED_STAGES[0], min_pt_gev=0.2, module_map=str(path))
    seeds = find_seeds(positions, volume, layer, stage, module_id=module)
    assert len(seeds) > 0
    index = half.module_index(module_keys(volume, layer, module))
    assert np.all(half.pair_index(index[seeds[:, 0]], index[seeds[:, 1]]) >= 0)
    assert np.all(half.has_triplet(*(index[seeds[:, k]] for k in range(3))))
    pair_stage = dataclasses.replace(stage, kind="pair")
    pairs = find_seeds(positions, volume, layer, pair_stage, module_id=module)
    assert len(pairs) > 0
    assert np.all(half.pair_index(index[pairs[:, 0]], index[pairs[:, 1]]) >= 0)
    # The map only removes seeds: the stage without it finds a superset.
    plain = find_seeds(positions, volume, layer, dataclasses.replace(stage, module_map=None))
    assert {tuple(s) for s in seeds.tolist()} <= {tuple(s) for s in plain.tolist()}


def test_successors_are_the_map_s_pairs_module_by_module(pixel_event: Event) -> None:
    module_map = build_module_map([pixel_event], volumes=PIXEL)
    asked = np.array([0, -1, 3, 0, module_map.n_modules - 1], dtype=np.int64)
    owner, successor = module_map.successors(asked)
    for position, module in enumerate(asked):
        expected = sorted(b for a, b in module_map.pairs.tolist() if module >= 0 and a == module)
        assert sorted(successor[owner == position].tolist()) == expected


def test_without_a_z0_window_the_map_s_pairs_give_the_seeds_of_the_window_search(
    tmp_path: Path, pixel_event: Event
) -> None:
    """A map stage without ``max_z0_mm`` takes its pairs from the map's connections rather
    than from the layer windows (unbounded along the layer there): the seeds are those of
    the window search whose modules the map connects."""
    module_map = build_module_map([pixel_event], volumes=PIXEL)
    path = module_map.save(tmp_path / "map.npz")
    positions, volume, layer, module = _hit_arrays(pixel_event)
    stage = low_pt_stages(str(path))[2]  # the pixel secondaries
    assert stage.max_z0_mm is None and not stage.beamline
    available = np.random.default_rng(3).random(len(positions)) < 0.8  # leftovers of earlier stages
    seeds = find_seeds(positions, volume, layer, stage, available=available, module_id=module)
    plain = find_seeds(
        positions, volume, layer, dataclasses.replace(stage, module_map=None), available=available
    )
    index = module_map.module_index(module_keys(volume, layer, module))
    rows = index[plain]
    connected = (
        (rows >= 0).all(axis=1)
        & (module_map.pair_index(rows[:, 0], rows[:, 1]) >= 0)
        & module_map.has_triplet(rows[:, 0], rows[:, 1], rows[:, 2])
    )
    assert len(seeds) > 100
    np.testing.assert_array_equal(seeds, plain[connected])
    assert available[seeds].all()


def test_the_secondaries_stage_seeds_displaced_soft_particles_that_the_beam_line_stages_miss(
    tmp_path: Path,
) -> None:
    event = barrel_event(5, n_particles=1500, seed=8, volumes=PIXEL)
    path = build_module_map([event], volumes=PIXEL).save(tmp_path / "map.npz")
    *beamline, secondaries, _ = low_pt_stages(str(path))
    assert event.particles is not None
    parts = event.particles
    displaced = np.hypot(parts["vx"], parts["vy"]).to_numpy() > 2.0
    soft = (np.hypot(parts["px"], parts["py"]) < 1.0).to_numpy()
    wanted = set(parts["particle_id"].to_numpy()[displaced & soft].tolist())
    by_beamline = _seeded_by(event, (*DEFAULT_SEED_STAGES, *beamline))
    found = _seeded_by(event, (secondaries,))
    gained = (found & wanted) - by_beamline
    assert len(gained) >= 30 and len(gained) >= 4 * len(by_beamline & wanted)


def test_the_strip_stage_seeds_secondaries_born_outside_the_inner_pixel_layers(
    tmp_path: Path,
) -> None:
    volumes = (*PIXEL, 12, 13, 14)
    config = SimulationConfig(
        n_particles=1000, pt_min_gev=1.0, secondary_fraction=1.0, volumes=volumes
    )
    event = simulate_event(config, 5, event_rng(8, 5))
    path = build_module_map([event], volumes=volumes).save(tmp_path / "map.npz")
    positions = _hit_arrays(event)[0]
    *others, strip = low_pt_stages(str(path))
    assert event.truth is not None
    particle = event.truth["particle_id"].to_numpy(np.int64)
    radius = np.hypot(positions[:, 0], positions[:, 1])
    ids, counts = np.unique(particle[particle != 0], return_counts=True)
    innermost = np.full(ids.size, np.inf)
    np.minimum.at(innermost, np.searchsorted(ids, particle[particle != 0]), radius[particle != 0])
    # Tracks of pT >= 1 GeV whose first hit lies beyond the third pixel barrel layer.
    wanted = set(ids[(innermost > 100.0) & (counts >= 6)].tolist())
    by_others = _seeded_by(event, (*DEFAULT_SEED_STAGES, *others))
    found = _seeded_by(event, (strip,))
    gained = (found & wanted) - by_others
    assert len(wanted) >= 80
    assert len(gained) >= 40 and len(gained) >= len(by_others & wanted)


def test_pair_third_layers_mark_the_layers_on_which_the_map_continues_a_pair(
    pixel_event: Event,
) -> None:
    module_map = build_module_map([pixel_event], volumes=PIXEL)
    layers = [(8, 6), (8, 8), (9, 2), (9, 4), (7, 14), (13, 2)]  # (13, 2): not in the map
    layer_of = module_map.modules >> 21  # volume << 21 | layer
    bit_of = {(v << 21) | lay: i for i, (v, lay) in enumerate(layers)}
    expected = {tuple(pair): 0 for pair in module_map.pairs.tolist()}
    for a, b, c in module_map.triplets.tolist():
        bit = bit_of.get(int(layer_of[c]))
        if bit is not None:
            expected[(a, b)] |= 1 << bit
    got = module_map.pair_third_layers(layers)
    assert got.tolist() == list(expected.values())
    assert any(v & 1 for v in got.tolist()) and not any(v >> 5 for v in got.tolist())
    assert 0 in got.tolist()  # pairs that end a track: no layer continues them
    assert module_map.pair_third_layers(layers) is got  # computed once


def _seeded_by(event: Event, stages: tuple[SeedStage, ...]) -> set[int]:
    """The particles that some stage of ``stages`` seeds with their own hits only."""
    positions, volume, layer, module = _hit_arrays(event)
    found: set[int] = set()
    for stage in stages:
        found |= _pure_seeded(find_seeds(positions, volume, layer, stage, module_id=module), event)
    return found


def _pure_seeded(seeds: np.ndarray, event: Event) -> set[int]:
    assert event.truth is not None
    pid = event.truth["particle_id"].to_numpy(np.int64)[seeds]
    pure = (pid == pid[:, :1]).all(axis=1) & (pid[:, 0] != 0)
    return set(pid[pure, 0].tolist())


def test_a_low_pt_particle_is_seeded_with_the_map_where_the_default_stage_misses_it(
    tmp_path: Path, pixel_event: Event
) -> None:
    path = build_module_map([pixel_event], volumes=PIXEL).save(tmp_path / "map.npz")
    positions, volume, layer, module = _hit_arrays(pixel_event)
    default = DEFAULT_SEED_STAGES[0]
    low = dataclasses.replace(
        default, min_pt_gev=0.2, max_theta_change=0.02, max_d0_mm=2.0, module_map=str(path)
    )
    assert pixel_event.particles is not None
    parts = pixel_event.particles
    pt = np.hypot(parts["px"], parts["py"]).to_numpy()
    soft = set(parts["particle_id"].to_numpy()[(pt >= 0.2) & (pt < 0.4)].tolist())
    by_default = _pure_seeded(find_seeds(positions, volume, layer, default), pixel_event) & soft
    with_map = _pure_seeded(
        find_seeds(positions, volume, layer, low, module_id=module), pixel_event
    )
    gained = (with_map & soft) - by_default
    assert len(gained) >= 10 and len(gained) >= 5 * len(by_default)


def test_the_builder_seeds_with_a_stage_map(tmp_path: Path, pixel_event: Event) -> None:
    path = build_module_map([pixel_event], volumes=PIXEL).save(tmp_path / "map.npz")
    low = dataclasses.replace(DEFAULT_SEED_STAGES[0], min_pt_gev=0.2, module_map=str(path))
    config = BuildConfig.from_dict({"seed_stages": [low.to_dict()]})
    result = build_tracks(pixel_event, "baseline", config=config)
    assert result.n_tracks > 0
    no_modules = dataclasses.replace(pixel_event, hits=pixel_event.hits.drop(columns="module_id"))
    with pytest.raises(DataError, match="module_id"):
        build_tracks(no_modules, "baseline", config=config)


def _bad_files(tmp_path: Path, pixel_event: Event) -> dict[str, Path]:
    good = build_module_map([pixel_event], volumes=(8,)).save(tmp_path / "good.npz")
    with np.load(good) as data:
        content = {k: data[k] for k in data.files}
    other = tmp_path / "other.npz"
    np.savez(other, **{**content, "version": np.int64(MODULE_MAP_FORMAT_VERSION + 1)})
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in content.items() if k != "triplets"})
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(good.read_bytes()[:300])
    random = tmp_path / "random.npz"
    random.write_bytes(np.random.default_rng(1).bytes(2000))
    return {
        "missing": tmp_path / "none.npz",
        "other": other,
        "partial": partial,
        "corrupt": corrupt,
        "random": random,
    }


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "not found"),
        ("other", "version"),
        ("partial", "triplets"),
        ("corrupt", "module map"),
        ("random", "module map"),
    ],
)
def test_a_bad_map_file_is_one_error(
    tmp_path: Path, pixel_event: Event, case: str, fragment: str
) -> None:
    path = _bad_files(tmp_path, pixel_event)[case]
    with pytest.raises(DataError) as info:
        load_module_map(path)
    message = str(info.value)
    assert fragment in message and "\n" not in message and path.name in message


def test_build_with_a_bad_map_is_one_error_line(tmp_path: Path, pixel_event: Event) -> None:
    write_event(pixel_event, tmp_path / "ev")
    bad = _bad_files(tmp_path, pixel_event)["other"]
    stage = dataclasses.replace(DEFAULT_SEED_STAGES[0], module_map=str(bad))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"seed_stages": [stage.to_dict()]}))
    result = invoke(
        "build", "--data-dir", str(tmp_path / "ev"), "--out", str(tmp_path / "s.csv"),
        "--algorithm", "baseline", "--config", str(config),
    )  # fmt: skip
    assert_one_line_error(result, "other.npz", "version")
    assert not (tmp_path / "s.csv").exists()


def test_module_map_command_writes_a_map_with_its_provenance(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    assert invoke(
        "simulate", "trackml", "--out", str(data), "--events", "2", "--particles", "200",
        "--volumes", "7,8,9", "--seed", "4", "--no-progress",
    ).code == 0  # fmt: skip
    out = tmp_path / "map.npz"
    result = invoke(
        "module-map", "--data-dir", str(data), "--out", str(out), "--volumes", "8", "--json"
    )
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    loaded = ModuleMap.load(out)
    assert summary["pairs"] == loaded.n_pairs > 0
    assert loaded.meta["simulation"]["seed"] == 4 and loaded.meta["event_ids"] == [1, 2]
    assert set(np.unique(loaded.modules >> 42)) == {8}
    with zipfile.ZipFile(out) as archive:
        assert "version.npy" in archive.namelist()


def test_the_low_pt_setting_adds_map_stages_that_find_soft_tracks(
    tmp_path: Path, pixel_event: Event
) -> None:
    path = str(build_module_map([pixel_event], volumes=PIXEL).save(tmp_path / "map.npz"))
    plain = BuildConfig()
    config = BuildConfig.from_dict({"low_pt_module_map": path})
    assert plain.stages() == DEFAULT_SEED_STAGES
    # With the default stages, the map stages follow the first: their copy of the
    # second stage stands in for the default second and third.
    assert config.stages()[0] == DEFAULT_SEED_STAGES[0]
    extra = config.stages()[1:]
    assert extra == low_pt_stages(path)
    assert all(s.module_map == path for s in extra)
    assert all(s.min_pt_gev == LOW_PT_GEV for s in extra[:-1])  # the last: strips, 1 GeV
    assert BuildConfig.from_dict(config.to_dict()).stages() == config.stages()
    # The secondaries stages (the last two) may ask for shorter tracks; the others keep theirs.
    shorter = BuildConfig.from_dict({"low_pt_module_map": path, "secondary_min_hits": 5})
    assert [s.min_hits for s in shorter.stages()[-2:]] == [5, 5]
    assert [s.min_hits for s in config.stages()[-2:]] == [SECONDARY_MIN_HITS] * 2
    assert shorter.stages()[:-2] == config.stages()[:-2]
    with pytest.raises(ConfigError, match="secondary_min_hits"):
        BuildConfig.from_dict({"secondary_min_hits": 2})
    # Stages the user lists all run, then the map stages.
    mine = BuildConfig.from_dict(
        {"low_pt_module_map": path, "seed_stages": [s.to_dict() for s in DEFAULT_SEED_STAGES[1:]]}
    )
    assert mine.stages() == (*DEFAULT_SEED_STAGES[1:], *extra)
    result = build_tracks(pixel_event, "baseline", config=config)
    soft_stages = result.tracks["stage"] > 1
    assert soft_stages.sum() > 0
    assert result.n_tracks > build_tracks(pixel_event, "baseline", config=plain).n_tracks


def test_maps_built_in_chunks_merge_to_the_map_of_all_events(pixel_event: Event) -> None:
    other = barrel_event(4, n_particles=300, seed=6, volumes=PIXEL)
    whole = build_module_map([pixel_event, other], chunk=2)
    chunked = build_module_map([pixel_event, other], chunk=1)
    for name in ("modules", "pairs", "triplets", "pair_count"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
    for name in ("dphi_low", "dphi_high", "z0_low", "z0_high"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name))
    assert chunked.meta["event_ids"] == [3, 4] and chunked.meta["n_events"] == 2
