"""Event -> ordered tracks: trajectory order on hand-built helices, grouping, TrackSet storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event
from tests.data.helix import BARREL_RADII, ENDCAP_Z, Helix, build_event
from tracknet.data.tracks import TrackSet, event_tracks, tracks_from_events, trajectory_path
from tracknet.errors import DataError
from tracknet.events import particle_kinematics


def _track_hit_ids(tracks: TrackSet, particle_id: int) -> np.ndarray:
    (i,) = np.flatnonzero(tracks.particle_id == particle_id)
    return tracks.hit_id[tracks.offsets[i] : tracks.offsets[i + 1]]


def _barrel(helix: Helix) -> tuple[Helix, np.ndarray, np.ndarray]:
    radii = BARREL_RADII[1.99 * helix.radius_mm > BARREL_RADII]
    return helix, helix.psi_at_radius(radii), 2 * np.arange(len(radii)) + 2


def _looper(helix: Helix, turns: int = 1) -> tuple[Helix, np.ndarray, np.ndarray]:
    """Out through every reachable layer and back in, ``turns`` times."""
    radii = BARREL_RADII[1.99 * helix.radius_mm > BARREL_RADII]
    layers = 2 * np.arange(len(radii)) + 2
    psi_turn = np.concatenate(
        [helix.psi_at_radius(radii), helix.psi_at_radius(radii[::-1], inward=True)]
    )
    psi = np.concatenate([psi_turn + 2 * np.pi * k for k in range(turns)])
    return helix, psi, np.tile(np.concatenate([layers, layers[::-1]]), turns)


# --------------------------------------------------------------------------- ordering


@pytest.mark.parametrize("q", [1, -1])
def test_radial_barrel_track_in_true_order(q: int) -> None:
    event, expected = build_event([_barrel(Helix(11, pt=5.0, eta=0.3, phi0=1.0, q=q))])
    tracks = event_tracks(event)
    assert tracks.n_tracks == 1
    np.testing.assert_array_equal(_track_hit_ids(tracks, 11), expected[11])


@pytest.mark.parametrize(("q", "sign"), [(1, 1.0), (-1, -1.0)])
def test_endcap_track_ordered_by_progress_not_radius(q: int, sign: float) -> None:
    helix = Helix(12, pt=0.8, eta=3.5 * sign, phi0=-2.0, q=q, vertex=(0.0, 0.0, 20.0))
    psi = helix.psi_at_z(sign * ENDCAP_Z)
    event, expected = build_event([(helix, psi, np.arange(len(psi)) + 2)])
    pos, _ = helix.at(psi)
    r = np.hypot(pos[:, 0], pos[:, 1])
    assert r.max() - r.min() < 70.0  # similar radius: r alone is a poor key here
    np.testing.assert_array_equal(_track_hit_ids(event_tracks(event), 12), expected[12])


@pytest.mark.parametrize("q", [1, -1])
def test_looper_crossing_each_layer_twice(q: int) -> None:
    # pT 0.25 GeV in 2 T: R ~ 417 mm, so the particle turns back at r ~ 834 mm; nearly
    # transverse (|cot theta| < 0.1) so whole turns cannot come from z.
    helix = Helix(13, pt=0.25, eta=0.05, phi0=0.4, q=q)
    entry = _looper(helix)
    event, expected = build_event([entry])
    layers = entry[2]
    assert len(np.unique(layers)) * 2 == len(layers)  # every layer crossed twice
    got = _track_hit_ids(event_tracks(event), 13)
    np.testing.assert_array_equal(got, expected[13])
    # The naive key (distance from the origin) interleaves the way out and the way back.
    pos, _ = helix.at(entry[1])
    assert not np.array_equal(np.argsort(np.linalg.norm(pos, axis=1)), np.arange(len(pos)))


@pytest.mark.parametrize("q", [1, -1])
def test_multi_turn_looper_unwrapped_with_z(q: int) -> None:
    helix = Helix(14, pt=0.15, eta=0.6, phi0=2.5, q=q, vertex=(0.1, -0.2, -30.0))
    event, expected = build_event([_looper(helix, turns=3)])
    np.testing.assert_array_equal(_track_hit_ids(event_tracks(event), 14), expected[14])


def test_secondary_from_displaced_vertex_past_half_turn() -> None:
    helix = Helix(15, pt=0.3, eta=-0.02, phi0=0.3, q=-1, vertex=(120.0, 40.0, 300.0))
    psi = np.linspace(0.02, 4.5, 14)  # beyond half a turn, not back to the vertex
    event, expected = build_event([(helix, psi, np.arange(14) + 2)])
    np.testing.assert_array_equal(_track_hit_ids(event_tracks(event), 15), expected[15])


def test_straight_tracks_ordered_by_distance_along_direction(small_event) -> None:  # type: ignore[no-untyped-def]
    tracks = event_tracks(small_event)
    assert tracks.n_tracks == 4
    r = np.hypot(tracks.coords[:, 0], tracks.coords[:, 1])
    same = tracks.track_index()[1:] == tracks.track_index()[:-1]
    assert np.all(np.diff(r)[same] > 0)


def test_trajectory_path_increases_along_helix() -> None:
    helix = Helix(1, pt=0.2, eta=0.8, phi0=0.0, q=1)
    psi = np.linspace(0.0, 5 * np.pi, 40)[1:]
    pos, mom = helix.at(psi)
    path = trajectory_path(
        pos,
        mom,
        np.zeros(len(psi), dtype=np.int64),
        np.zeros((1, 3)),
        np.array([helix.momentum0()]),
    )
    np.testing.assert_allclose(path, helix.radius_mm * psi, rtol=1e-9)


# --------------------------------------------------------------------------- grouping


def _mixed_event() -> tuple:  # type: ignore[type-arg]
    rng = np.random.default_rng(4)
    entries = []
    for k in range(8):
        helix = Helix(
            1000 + 37 * k,
            pt=float(rng.uniform(0.3, 5.0)),
            eta=float(rng.uniform(-1.0, 1.0)),
            phi0=float(rng.uniform(-np.pi, np.pi)),
            q=int(rng.choice([-1, 1])),
        )
        entries.append(_barrel(helix))
    entries.append(_looper(Helix(5000, pt=0.2, eta=0.3, phi0=1.0, q=1)))
    return build_event(entries, n_noise=10, seed=3)


def test_grouping_matches_a_naive_loop() -> None:
    event, _ = _mixed_event()
    tracks = event_tracks(event)
    truth, hits, particles = event.truth, event.hits, event.particles
    pid = truth["particle_id"].to_numpy()
    wanted = np.unique(pid[pid > 0])
    np.testing.assert_array_equal(tracks.particle_id, wanted)  # increasing particle id
    kin = particle_kinematics(particles).set_index(particles["particle_id"])
    for i, p in enumerate(wanted):  # the naive reference: one particle at a time
        rows = np.flatnonzero(pid == p)
        prow = particles.index[particles["particle_id"] == p][0]
        path = trajectory_path(
            truth[["tx", "ty", "tz"]].to_numpy()[rows],
            truth[["tpx", "tpy", "tpz"]].to_numpy()[rows],
            np.zeros(len(rows), dtype=np.int64),
            particles.loc[[prow], ["vx", "vy", "vz"]].to_numpy(),
            particles.loc[[prow], ["px", "py", "pz"]].to_numpy(),
        )
        rows = rows[np.argsort(path, kind="stable")]
        sl = slice(tracks.offsets[i], tracks.offsets[i + 1])
        np.testing.assert_array_equal(tracks.hit_id[sl], hits["hit_id"].to_numpy()[rows])
        np.testing.assert_allclose(
            tracks.coords[sl], hits[["x", "y", "z"]].to_numpy()[rows], rtol=1e-6
        )
        for name in ("volume_id", "layer_id", "module_id"):
            np.testing.assert_array_equal(getattr(tracks, name)[sl], hits[name].to_numpy()[rows])
        assert tracks.pt[i] == pytest.approx(kin.loc[p, "pt"], rel=1e-6)
        assert tracks.eta[i] == pytest.approx(kin.loc[p, "eta"], rel=1e-5, abs=1e-6)
    assert set(tracks.event_id) == {event.event_id}
    assert np.all(tracks.backward_steps == 0)


def test_noise_and_reserved_ids_are_not_tracks() -> None:
    event, expected = _mixed_event()
    tracks = event_tracks(event)
    assert tracks.n_hits == sum(len(v) for v in expected.values())
    pid = event.truth["particle_id"].to_numpy()
    not_real = event.hits["hit_id"].to_numpy()[pid <= 0]
    assert len(not_real) == 11 and not np.isin(tracks.hit_id, not_real).any()


def test_blacklisted_hits_and_particles_are_removed() -> None:
    event, expected = _mixed_event()
    ids = sorted(expected)
    dropped_hit = expected[ids[0]][2]
    event = event.with_parts(
        blacklist_hits=pd.DataFrame({"hit_id": np.array([dropped_hit], dtype=np.int64)}),
        blacklist_particles=pd.DataFrame({"particle_id": np.array([ids[1]], dtype=np.int64)}),
    )
    tracks = event_tracks(event)
    assert ids[1] not in tracks.particle_id
    np.testing.assert_array_equal(_track_hit_ids(tracks, ids[0]), np.delete(expected[ids[0]], 2))
    full = event_tracks(event, apply_blacklists=False)
    assert full.n_tracks == len(expected)


def test_events_without_truth_or_particles_are_refused() -> None:
    event = make_small_event()
    with pytest.raises(DataError, match="no truth"):
        event_tracks(event.with_parts(truth=None))
    with pytest.raises(DataError, match="no particles"):
        event_tracks(event.with_parts(particles=None))
    with pytest.raises(DataError, match=r"particle_id 1000 .* not in the particles table"):
        event_tracks(event.with_parts(particles=event.particles.iloc[1:]))


def test_tracks_from_events_concatenates() -> None:
    a, b = make_small_event(event_id=1), make_small_event(event_id=2, n_particles=3)
    tracks = tracks_from_events([a, b])
    assert tracks.n_tracks == 7
    np.testing.assert_array_equal(tracks.event_id, [1, 1, 1, 1, 2, 2, 2])


# --------------------------------------------------------------------------- TrackSet


def _some_tracks() -> TrackSet:
    event, _ = _mixed_event()
    return event_tracks(event)


def test_trackset_save_load_roundtrip(tmp_path: Path) -> None:
    tracks = _some_tracks()
    for compress in (False, True):
        path = tracks.save(tmp_path / f"tracks{compress}.npz", compress=compress)
        back = TrackSet.load(path)
        for name, array in tracks.arrays().items():
            loaded = getattr(back, name)
            assert loaded.dtype == array.dtype, name
            np.testing.assert_array_equal(loaded, array)


def test_trackset_load_names_missing_key(tmp_path: Path) -> None:
    tracks = _some_tracks()
    arrays = tracks.arrays()
    del arrays["layer_id"]
    path = tmp_path / "broken.npz"
    np.savez(path, format_version=np.array(1), **arrays)
    with pytest.raises(DataError, match="lacks key 'layer_id'"):
        TrackSet.load(path)
    with pytest.raises(DataError, match="cannot read track set"):
        (tmp_path / "junk.npz").write_bytes(b"not a zip")
        TrackSet.load(tmp_path / "junk.npz")


def test_trackset_indexing_and_concatenation() -> None:
    tracks = _some_tracks()
    lengths = tracks.lengths
    one = tracks[3]
    assert one.n_tracks == 1 and one.n_hits == lengths[3]
    np.testing.assert_array_equal(one.coords, tracks.track_coords(3))
    picked = tracks.take(np.array([5, 0, -1]))
    np.testing.assert_array_equal(picked.particle_id, tracks.particle_id[[5, 0, -1]])
    np.testing.assert_array_equal(picked.lengths, lengths[[5, 0, -1]])
    np.testing.assert_array_equal(picked.track_coords(1), tracks.track_coords(0))
    mask = lengths > 5
    np.testing.assert_array_equal(tracks[mask].particle_id, tracks.particle_id[mask])
    np.testing.assert_array_equal(
        tracks[2:4].hit_id, tracks.hit_id[tracks.offsets[2] : tracks.offsets[4]]
    )
    both = TrackSet.concatenate([tracks[:3], tracks[3:]])
    for name, array in tracks.arrays().items():
        np.testing.assert_array_equal(getattr(both, name), array)
    assert TrackSet.concatenate([]).n_tracks == 0
    with pytest.raises(IndexError):
        tracks.take([tracks.n_tracks])


def test_trackset_select_hits_drops_empty_tracks() -> None:
    tracks = _some_tracks()
    keep = np.ones(tracks.n_hits, dtype=bool)
    keep[tracks.offsets[1] : tracks.offsets[2]] = False  # all of track 1
    keep[tracks.offsets[0]] = False  # first hit of track 0
    out = tracks.select_hits(keep)
    assert out.n_tracks == tracks.n_tracks - 1
    assert out.lengths[0] == tracks.lengths[0] - 1
    np.testing.assert_array_equal(out.particle_id, np.delete(tracks.particle_id, 1))


def test_trackset_rejects_inconsistent_arrays() -> None:
    tracks = _some_tracks()
    arrays = tracks.arrays()
    arrays["hit_id"] = arrays["hit_id"][:-1]
    with pytest.raises(DataError, match="'hit_id' has shape"):
        TrackSet(**arrays)
    arrays = tracks.arrays()
    arrays["offsets"] = arrays["offsets"][::-1]
    with pytest.raises(DataError, match="offsets"):
        TrackSet(**arrays)
