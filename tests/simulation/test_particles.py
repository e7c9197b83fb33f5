from __future__ import annotations

import numpy as np
import pytest

from tracknet.errors import ConfigError
from tracknet.events import PARTICLES_SCHEMA, particle_kinematics
from tracknet.simulation import SimulationConfig, sample_particles
from tracknet.simulation.particles import load_particle_tables, sample_truncated


def test_truncated_quantile_sampling_stays_in_range_and_follows_the_table() -> None:
    levels = np.linspace(0.0, 1.0, 11)
    knots = np.linspace(0.0, 10.0, 11)  # uniform on [0, 10]
    u = np.random.default_rng(0).random(20_000)
    values = sample_truncated(levels, knots, 2.0, 4.0, u)
    assert values.min() >= 2.0 and values.max() <= 4.0
    assert values.mean() == pytest.approx(3.0, abs=0.02)


def test_particles_follow_the_requested_ranges() -> None:
    config = SimulationConfig(n_particles=5000, pt_min_gev=0.5, pt_max_gev=5.0, eta_max=2.0)
    particles = sample_particles(config, np.random.default_rng(1))
    kin = particle_kinematics(particles)
    assert len(particles) == 5000
    assert kin["pt"].between(0.5, 5.0).all()
    assert (kin["eta"].abs() <= 2.0 + 1e-12).all()
    assert dict(particles.dtypes) == dict(PARTICLES_SCHEMA)
    assert particles["particle_id"].is_unique and (particles["particle_id"] > 0).all()
    assert particles["particle_id"].is_monotonic_increasing
    assert set(particles["q"].unique()) <= {-1, 1}


def test_default_particles_look_like_the_real_event() -> None:
    particles = sample_particles(SimulationConfig(n_particles=20_000), np.random.default_rng(2))
    kin = particle_kinematics(particles)
    tables = load_particle_tables()
    # real event 1000: median pT 0.36 GeV, 30 % secondaries, |eta| up to 4
    assert kin["pt"].median() == pytest.approx(0.36, abs=0.03)
    assert (kin["vr"] > 1.0).mean() == pytest.approx(
        tables.raw["particles"]["secondary_fraction"], abs=0.02
    )
    assert kin["eta"].abs().max() <= 4.0
    primaries = kin["vr"] < 1.0
    assert particles.loc[primaries, "vz"].std() < 20.0


def test_pt_range_outside_the_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="tabulated spectrum"):
        sample_particles(
            SimulationConfig(pt_min_gev=500.0, pt_max_gev=600.0), np.random.default_rng(0)
        )


def test_no_particles() -> None:
    particles = sample_particles(SimulationConfig(n_particles=0), np.random.default_rng(0))
    assert particles.empty and dict(particles.dtypes) == dict(PARTICLES_SCHEMA)
