from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tracknet.errors import ConfigError
from tracknet.events import HITS_SCHEMA, PARTICLES_SCHEMA, TRUTH_SCHEMA, Event
from tracknet.simulation import (
    SimulationConfig,
    event_rng,
    load_geometry,
    simulate_event,
    simulate_events,
    simulate_particles,
)
from tracknet.simulation.helix import radius_of_curvature
from tracknet.simulation.response import layer_resolution
from tracknet.simulation.simulate import POSITION_DECIMALS

#: A detector without randomness besides the particles: no material, no noise, no loss.
CLEAN = SimulationConfig(
    material_scale=0.0,
    interactions_per_x0=0.0,
    noise_fraction=0.0,
    hit_efficiency=1.0,
    smearing_scale=0.0,
)


def gun(
    pt: list[float], eta: list[float], phi: list[float], q: list[int], vz: float = 0.0
) -> pd.DataFrame:
    pt_a, eta_a, phi_a = (np.asarray(v, dtype=np.float64) for v in (pt, eta, phi))
    n = len(pt_a)
    return pd.DataFrame(
        {
            "particle_id": np.arange(1, n + 1, dtype=np.int64),
            "vx": np.zeros(n),
            "vy": np.zeros(n),
            "vz": np.full(n, vz),
            "px": pt_a * np.cos(phi_a),
            "py": pt_a * np.sin(phi_a),
            "pz": pt_a * np.sinh(eta_a),
            "q": np.asarray(q, dtype=np.int32),
        }
    )


def merged(event: Event) -> pd.DataFrame:
    assert event.truth is not None
    return event.hits.merge(event.truth, on="hit_id")


def test_schema_ids_and_order(full_event: Event) -> None:
    event = full_event
    assert dict(event.hits.dtypes) == dict(HITS_SCHEMA)
    assert event.truth is not None and event.particles is not None
    assert dict(event.truth.dtypes) == dict(TRUTH_SCHEMA)
    assert dict(event.particles.dtypes) == dict(PARTICLES_SCHEMA)
    assert np.array_equal(event.hits["hit_id"], np.arange(1, event.n_hits + 1))
    assert np.array_equal(event.truth["hit_id"], event.hits["hit_id"])
    key = event.hits[["volume_id", "layer_id", "module_id"]].to_numpy()
    assert (np.diff(key[:, 0] * 10**8 + key[:, 1] * 10**5 + key[:, 2]) >= 0).all()
    assert event.meta["detector"] == "trackml" and event.meta["generator"] == "tracknet.simulation"
    assert event.meta["config"] == SimulationConfig().to_dict()
    for frame in (event.hits, event.truth, event.particles):
        assert np.isfinite(frame.select_dtypes("float").to_numpy()).all()


def test_full_event_size(full_event: Event) -> None:
    # the real full events 1001 / 1003 have 93,680 / 104,451 hits
    assert 75_000 < full_event.n_hits < 125_000
    assert full_event.truth is not None
    assert full_event.truth["weight"].sum() == pytest.approx(1.0)


def test_layers_and_modules_are_those_of_the_table(full_event: Event) -> None:
    geometry = load_geometry()
    layers = geometry.layers.set_index(["volume_id", "layer_id"])
    written = full_event.hits.groupby(["volume_id", "layer_id"])["module_id"].agg(["min", "max"])
    assert set(written.index) <= set(layers.index)
    assert (written["min"] >= 1).all()
    assert (written["max"] <= layers.loc[written.index, "n_modules"]).all()


def test_hits_lie_on_their_module_and_layer_surface(full_event: Event) -> None:
    geometry = load_geometry()
    hits = full_event.hits
    index = geometry.layers.reset_index().set_index(["volume_id", "layer_id"])["index"]
    layer = index.loc[list(zip(hits["volume_id"], hits["layer_id"], strict=True))].to_numpy()
    module = geometry.module_offset[layer] + hits["module_id"].to_numpy() - 1
    pos = hits[["x", "y", "z"]].to_numpy()
    mods = geometry.modules
    distance = np.einsum("ij,ij->i", pos - mods.centre[module], mods.w_axis[module])
    # Positions are written to 1e-4 mm: a coordinate is off by at most 0.5e-4 mm.
    tol = np.sqrt(3) * 0.5 * 10.0**-POSITION_DECIMALS + 1e-9
    assert np.abs(distance).max() < tol
    r = np.hypot(pos[:, 0], pos[:, 1])
    lay = geometry.layers
    assert np.all(r >= lay["r_min"].to_numpy()[layer] - tol)
    assert np.all(r <= lay["r_max"].to_numpy()[layer] + tol)
    assert np.all(pos[:, 2] >= lay["z_min"].to_numpy()[layer] - tol)
    assert np.all(pos[:, 2] <= lay["z_max"].to_numpy()[layer] + tol)


def test_measured_hits_are_smeared_by_the_resolution(full_event: Event) -> None:
    data = merged(full_event)
    signal = data[data["particle_id"] > 0]
    residual = np.linalg.norm(
        signal[["x", "y", "z"]].to_numpy() - signal[["tx", "ty", "tz"]].to_numpy(), axis=1
    )
    pixels = signal["volume_id"].isin([7, 8, 9]).to_numpy()
    sigma_u, sigma_v = layer_resolution(load_geometry())
    assert 0.005 < np.median(residual[pixels]) < 0.05  # tens of micrometres
    assert np.median(residual[~pixels]) > np.median(residual[pixels])
    assert residual.max() < 6 * max(sigma_u.max(), sigma_v.max())


def test_noise_hits_and_nhits(full_event: Event) -> None:
    data = merged(full_event)
    noise = data[data["particle_id"] == 0]
    assert len(noise) / len(data) == pytest.approx(SimulationConfig().noise_fraction, abs=0.01)
    assert np.array_equal(noise[["x", "y", "z"]].to_numpy(), noise[["tx", "ty", "tz"]].to_numpy())
    assert (noise[["tpx", "tpy", "tpz", "weight"]].to_numpy() == 0).all()
    assert full_event.particles is not None
    counts = data.loc[data["particle_id"] > 0, "particle_id"].value_counts()
    nhits = full_event.particles.set_index("particle_id")["nhits"]
    assert nhits.sum() == len(data) - len(noise)
    assert (nhits.loc[counts.index] == counts).all()
    assert set(counts.index) <= set(nhits.index)


@pytest.mark.parametrize("fraction", [0.0, 0.3])
def test_noise_fraction_near_requested(fraction: float) -> None:
    config = SimulationConfig(n_particles=1500, noise_fraction=fraction)
    event = simulate_event(config, 3, event_rng(5, 3))
    assert event.truth is not None
    assert np.mean(event.truth["particle_id"] == 0) == pytest.approx(fraction, abs=0.02)


def test_same_seed_same_event_and_batch_independence() -> None:
    config = SimulationConfig(n_particles=300)
    a = list(simulate_events(config, 2, seed=7, first_event_id=100))
    b = list(simulate_events(config, 5, seed=7, first_event_id=100))
    again = list(simulate_events(config, 2, seed=7, first_event_id=100))
    for x, y in [(a[0], b[0]), (a[1], b[1]), (a[0], again[0]), (a[1], again[1])]:
        assert x.event_id == y.event_id
        for part in ("hits", "truth", "particles"):
            pd.testing.assert_frame_equal(getattr(x, part), getattr(y, part))
    assert [e.event_id for e in b] == [100, 101, 102, 103, 104]
    assert not a[0].hits.equals(a[1].hits)
    other_seed = next(simulate_events(config, 1, seed=8, first_event_id=100))
    assert not other_seed.hits.equals(a[0].hits)


def test_simulate_events_arguments() -> None:
    with pytest.raises(ConfigError):
        list(simulate_events(SimulationConfig(), -1, seed=0))
    with pytest.raises(ConfigError):
        list(simulate_events(SimulationConfig(), 1, seed=-3))
    with pytest.raises(ConfigError):
        list(simulate_events(SimulationConfig(field_tesla=0.0), 1, seed=0))


def test_truth_lies_on_the_helix_of_the_particle() -> None:
    field = 2.0
    particles = gun([0.8, 2.5, 0.4], [0.3, -1.2, 2.2], [0.1, 2.0, -2.5], [1, -1, -1], vz=10.0)
    event = simulate_particles(particles, CLEAN, 0, np.random.default_rng(0))
    data = merged(event)
    for row in particles.itertuples():
        hits = data[data["particle_id"] == row.particle_id]
        assert len(hits) >= 6
        pt = np.hypot(row.px, row.py)
        big_r = radius_of_curvature(np.array([pt]), field)[0]  # pT / (0.3 B)
        phi0 = np.arctan2(row.py, row.px)
        # centre to the left of the motion for negative, to the right for positive charge
        centre = -row.q * big_r * np.array([-np.sin(phi0), np.cos(phi0)])
        radius = np.hypot(hits["tx"] - centre[0], hits["ty"] - centre[1])
        assert np.allclose(radius, big_r, atol=1e-6)
        # momentum at the hit: same pT and pz, tangent to the circle
        assert np.allclose(np.hypot(hits["tpx"], hits["tpy"]), pt)
        assert np.allclose(hits["tpz"], row.pz)
        tangent = np.column_stack([-(hits["ty"] - centre[1]), hits["tx"] - centre[0]]) / big_r
        along = (tangent * hits[["tpx", "tpy"]].to_numpy()).sum(axis=1) / pt
        assert np.allclose(np.abs(along), 1.0, atol=1e-9)
        # z grows linearly with the turning angle: dz = R * |dangle| * pz / pT
        angle = np.unwrap(
            np.arctan2(hits["ty"] - centre[1], hits["tx"] - centre[0]).to_numpy()[
                np.argsort(np.abs(hits["tz"] - row.vz).to_numpy())
            ]
        )
        dz = np.sort(np.abs(hits["tz"] - row.vz).to_numpy())
        assert np.allclose(
            dz,
            big_r * np.abs(angle - np.arctan2(-centre[1], -centre[0])) * abs(row.pz) / pt,
            atol=1e-6,
        )


def test_scattering_changes_the_direction_but_not_p() -> None:
    particles = gun([0.5], [0.5], [0.0], [1])
    config = SimulationConfig(
        material_scale=5.0, interactions_per_x0=0.0, noise_fraction=0.0, smearing_scale=0.0
    )
    data = merged(simulate_particles(particles, config, 0, np.random.default_rng(3)))
    p = np.linalg.norm(data[["tpx", "tpy", "tpz"]].to_numpy(), axis=1)
    # Momentum components are written to 1e-6 GeV; |p| is kept to that precision.
    assert np.allclose(
        p, np.linalg.norm(particles[["px", "py", "pz"]].to_numpy()), rtol=0, atol=2e-6
    )
    assert np.ptp(data["tpz"]) > 0


def test_loopers_curl_back_and_stay_bounded() -> None:
    # 0.15 GeV at eta ~ 0 in 2 T: R = 250 mm, the circle reaches r = 500 mm and comes back
    particles = gun([0.15], [0.02], [0.5], [1])
    base = replace(CLEAN, pt_min_tracked_gev=0.1)
    half = merged(simulate_particles(particles, base, 0, np.random.default_rng(0)))
    looping = replace(base, max_turns=3.0, material_scale=1.0)
    three = merged(simulate_particles(particles, looping, 0, np.random.default_rng(0)))
    big_r = radius_of_curvature(np.array([0.15]), 2.0)[0]
    for data in (half, three):
        assert (np.hypot(data["tx"], data["ty"]) <= 2 * big_r * 1.02).all()
    # the default (half a turn, as real TrackML) stops at the apex: one crossing per
    # layer, up to 4 hits where modules overlap in phi and z
    assert half.groupby(["volume_id", "layer_id"]).size().max() <= 4
    per_layer = three.groupby(["volume_id", "layer_id"]).size()
    assert (per_layer.loc[(8, 4)] >= 2 * 3) and (per_layer.loc[(13, 2)] >= 2 * 3)
    # distinct crossings: out and back of three turns at different places
    first_layer = three[(three["volume_id"] == 8) & (three["layer_id"] == 4)]
    assert len(np.unique(np.round(first_layer["tz"], 3))) >= 6
    # bounded: 3 turns, each crossing 7 layers out and back, a few modules per crossing
    assert len(three) <= 3 * 2 * 7 * 3


def test_particles_stop_when_they_leave_the_detector() -> None:
    geometry = load_geometry()
    particles = gun([50.0, 50.0], [0.0, 3.0], [0.3, -1.0], [1, -1])
    outside = particles.iloc[[0]].assign(particle_id=3, vx=1500.0)
    event = simulate_particles(pd.concat([particles, outside]), CLEAN, 0, np.random.default_rng(0))
    data = merged(event)
    assert (np.hypot(data["tx"], data["ty"]) < geometry.r_world).all()
    assert (data["tz"].abs() < geometry.z_world).all()
    assert event.particles is not None
    nhits = event.particles.set_index("particle_id")["nhits"]
    assert nhits[3] == 0
    # a stiff central track crosses each of the 10 barrel layers once (plus overlaps)
    central = data[data["particle_id"] == 1]
    assert central.groupby(["volume_id", "layer_id"]).ngroups == 10
    assert 10 <= len(central) <= 16


def test_low_pt_particles_below_the_tracking_threshold_have_no_hits() -> None:
    event = simulate_particles(gun([0.12], [0.0], [0.0], [1]), CLEAN, 0, np.random.default_rng(0))
    assert event.n_hits == 0
    assert event.particles is not None and event.particles["nhits"].tolist() == [0]


def test_inefficiency_drops_hits() -> None:
    particles = gun(
        [1.0] * 50, np.linspace(-2, 2, 50).tolist(), np.linspace(-3, 3, 50).tolist(), [1] * 50
    )
    full = simulate_particles(particles, CLEAN, 0, np.random.default_rng(0))
    half_config = replace(CLEAN, hit_efficiency=0.5)
    half = simulate_particles(particles, half_config, 0, np.random.default_rng(0))
    assert half.n_hits == pytest.approx(0.5 * full.n_hits, rel=0.15)


def test_volume_selection_limits_hits() -> None:
    config = SimulationConfig(n_particles=300, volumes=(8, 13, 17))
    event = simulate_event(config, 0, event_rng(0, 0))
    assert set(event.hits["volume_id"].unique()) <= {8, 13, 17}
    assert event.n_hits > 0


def test_bad_particle_tables() -> None:
    particles = gun([1.0], [0.0], [0.0], [1])
    with pytest.raises(ConfigError, match="charges"):
        simulate_particles(particles.assign(q=0), CLEAN, 0, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="positive and unique"):
        simulate_particles(pd.concat([particles, particles]), CLEAN, 0, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="lacks"):
        simulate_particles(particles.drop(columns="q"), CLEAN, 0, np.random.default_rng(0))
