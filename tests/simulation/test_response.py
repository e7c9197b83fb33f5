from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from tracknet.simulation import SimulationConfig, load_geometry, response, sample_particles
from tracknet.simulation.geometry import TrackMLGeometry
from tracknet.simulation.propagation import LayerCrossings, propagate


def _every_module_of_the_layer(
    crossings: LayerCrossings, geometry: TrackMLGeometry
) -> tuple[np.ndarray, np.ndarray]:
    counts = geometry.layers["n_modules"].to_numpy()[crossings.layer]
    cross = np.repeat(np.arange(len(crossings)), counts)
    first = np.repeat(geometry.module_offset[crossings.layer], counts)
    rank = np.arange(len(cross)) - np.repeat(np.cumsum(counts) - counts, counts)
    return cross, first + rank


@pytest.mark.parametrize("max_turns", [0.5, 2.0])
def test_candidate_search_finds_what_trying_every_module_finds(max_turns: float) -> None:
    geometry = load_geometry()
    particles = sample_particles(SimulationConfig(n_particles=250), np.random.default_rng(4))
    particles = particles[np.hypot(particles["px"], particles["py"]) > 0.15]
    crossings = propagate(
        particles[["vx", "vy", "vz"]].to_numpy(),
        particles[["px", "py", "pz"]].to_numpy(),
        particles["q"].to_numpy(dtype=float),
        geometry,
        field_tesla=2.0,
        max_turns=max_turns,
        material_scale=1.0,
        rng=np.random.default_rng(0),
    )
    fast = response.intersect_modules(crossings, geometry)
    with mock.patch.object(response, "candidate_modules", _every_module_of_the_layer):
        slow = response.intersect_modules(crossings, geometry)
    key_fast = set(zip(fast.particle, fast.module, np.round(fast.position[:, 2], 6), strict=True))
    key_slow = set(zip(slow.particle, slow.module, np.round(slow.position[:, 2], 6), strict=True))
    assert len(key_fast) == len(fast)  # no module found twice from one particle's crossing
    assert key_fast <= key_slow
    assert len(key_slow - key_fast) <= 0.001 * len(key_slow)


def test_noise_is_uniform_on_module_surfaces() -> None:
    geometry = load_geometry()
    weights = response.noise_layer_weights(geometry, {8: 1.0})
    assert weights.sum() == pytest.approx(1.0)
    volume = geometry.layers["volume_id"].to_numpy()
    # volumes absent from the table share the mean density of the known ones
    assert (weights[volume != 8] > 0).all()
    module, position = response.sample_noise(
        20_000, geometry, np.where(volume == 12, 1.0, 0.0), np.random.default_rng(1)
    )
    assert set(geometry.modules.volume_id[module]) == {12}
    u, v = response._local_uv(position, module, geometry)
    assert response._inside(u, v, module, geometry, 1e-9).all()
    # trapezoids: more hits on the wide (outer) half, in proportion to the area
    mods = geometry.modules
    outer = v > 0
    w0, w1 = mods.hu_min[module], mods.hu_max[module]
    expected = np.mean((3 * w1 + w0) / (4 * (w0 + w1)) * 1.0)  # share of the outer half
    assert outer.mean() == pytest.approx(expected, abs=0.01)


def test_smearing_keeps_hits_on_their_module() -> None:
    geometry = load_geometry((17,))
    module, position = response.sample_noise(
        5000, geometry, np.ones(len(geometry.layers)), np.random.default_rng(2)
    )
    smeared = response.smear_on_modules(position, module, geometry, 3.0, np.random.default_rng(3))
    u, v = response._local_uv(smeared, module, geometry)
    assert response._inside(u, v, module, geometry, 1e-9).all()
    w = np.einsum(
        "ij,ij->i", smeared - geometry.modules.centre[module], geometry.modules.w_axis[module]
    )
    assert np.abs(w).max() < 1e-9
    sigma_u, sigma_v = response.layer_resolution(geometry, 3.0)
    du, dv = (
        a - b
        for a, b in zip(
            response._local_uv(smeared, module, geometry),
            response._local_uv(position, module, geometry),
            strict=True,
        )
    )
    assert np.std(du) == pytest.approx(sigma_u[0], rel=0.1)
    assert np.std(dv) < sigma_v[0]  # clipped at the module ends
