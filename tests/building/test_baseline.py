"""The classical helix follower: exact crossings on ideal helices, and whole events."""

from __future__ import annotations

import numpy as np
import pytest

from tracknet.building import BuildConfig, build_tracks
from tracknet.building.baseline import (
    HelixExtender,
    HelixState,
    helix_crossings,
    helix_frame,
    helix_points,
)
from tracknet.building.geometry import LayerSurfaces, layer_keys
from tracknet.building.seeding import curvature_from_pt
from tracknet.errors import ConfigError
from tracknet.evaluation import ParticleSelection, evaluate_event
from tracknet.events import Event

RADII = {2: 32.0, 4: 72.0, 6: 116.0, 8: 172.0}
DISKS = {2: 600.0, 4: 700.0, 6: 820.0}


def helix_point_at_radius(
    kappa: float, phi0: float, cot: float, z0: float, radius: float
) -> np.ndarray:
    half = np.arcsin(kappa * radius / 2.0)
    s = 2.0 * half / kappa
    return np.array([radius * np.cos(phi0 + half), radius * np.sin(phi0 + half), z0 + s * cot])


def helix_point_at_z(kappa: float, phi0: float, cot: float, z0: float, z: float) -> np.ndarray:
    s = (z - z0) / cot
    radius = 2.0 * np.sin(kappa * s / 2.0) / kappa
    return np.array(
        [radius * np.cos(phi0 + kappa * s / 2.0), radius * np.sin(phi0 + kappa * s / 2.0), z]
    )


@pytest.fixture
def surfaces() -> LayerSurfaces:
    """Ideal pixel barrel layers (volume 8) and disks (volume 9), from a few hits each."""
    points, volume, layer = [], [], []
    for lay, radius in RADII.items():
        for z in (-480.0, 0.0, 480.0):
            points.append((radius, 0.0, z))
            volume.append(8)
            layer.append(lay)
    for lay, zeta in DISKS.items():
        for radius in (30.0, 100.0, 175.0):
            points.append((0.0, radius, zeta))
            volume.append(9)
            layer.append(lay)
    return LayerSurfaces.from_hits(np.array(points), np.array(volume), np.array(layer))


def test_surfaces_are_read_off_the_hits(surfaces: LayerSurfaces) -> None:
    barrel = surfaces.barrel[surfaces.index_of(layer_keys(np.array([8, 8]), np.array([2, 8])))]
    assert barrel.tolist() == [True, True]
    row = int(surfaces.index_of(layer_keys(np.array([9]), np.array([4])))[0])
    assert not surfaces.barrel[row] and surfaces.position[row] == 700.0
    assert surfaces.low[row] == 30.0 and surfaces.high[row] == 175.0
    assert surfaces.index_of(layer_keys(np.array([12]), np.array([2]))).tolist() == [-1]


@pytest.mark.parametrize("charge", [1, -1])
def test_next_crossings_of_a_barrel_helix_are_exact(surfaces: LayerSurfaces, charge: int) -> None:
    kappa, phi0, cot, z0 = charge * curvature_from_pt(0.8, 2.0), 0.7, 0.4, 5.0
    hits = np.array([helix_point_at_radius(kappa, phi0, cot, z0, RADII[k]) for k in (2, 4, 6)])
    state = HelixState(hits[None], np.array([3]), layer_keys(np.array([8]), np.array([6])))
    position, tangent, curvature, tan_lambda = helix_frame(state)
    assert curvature[0] == pytest.approx(kappa, rel=1e-9)
    assert tan_lambda[0] == pytest.approx(cot, rel=1e-9)
    s = helix_crossings(state, surfaces, margin_mm=10.0)
    best = int(np.argmin(s[0]))
    assert surfaces.keys[best] == layer_keys(np.array([8]), np.array([8]))[0]
    point = helix_points(position, tangent, curvature, tan_lambda, s[:, best])
    np.testing.assert_allclose(
        point[0], helix_point_at_radius(kappa, phi0, cot, z0, 172.0), atol=1e-6
    )
    # A two-hit seed uses the beam line as its first point: the same helix.
    pair = HelixState(
        np.concatenate([np.full((1, 1, 3), 99.0), hits[None, :2]], axis=1),
        np.array([2]),
        layer_keys(np.array([8]), np.array([4])),
    )
    s2 = helix_crossings(pair, surfaces, margin_mm=10.0)
    best2 = int(np.argmin(s2[0]))
    assert surfaces.keys[best2] == layer_keys(np.array([8]), np.array([6]))[0]
    point2 = helix_points(*helix_frame(pair), s2[:, best2])
    np.testing.assert_allclose(point2[0], hits[2], atol=1e-6)


def test_forward_helix_reaches_the_disks(surfaces: LayerSurfaces) -> None:
    kappa, phi0, cot, z0 = curvature_from_pt(2.0, 2.0), -1.0, 6.0, 0.0
    hits = np.array(
        [
            helix_point_at_radius(kappa, phi0, cot, z0, 32.0),
            helix_point_at_radius(kappa, phi0, cot, z0, 72.0),
        ]
    )
    hits = np.vstack([hits, helix_point_at_z(kappa, phi0, cot, z0, 600.0)])
    state = HelixState(hits[None], np.array([3]), layer_keys(np.array([9]), np.array([2])))
    extender = HelixExtender(surfaces, window_mm=5.0, t2_window_mm=9.0)
    _, spheres = extender.start(
        hits[None], layer_keys(np.array([8, 8, 9]), np.array([2, 4, 2]))[None]
    )
    np.testing.assert_allclose(
        spheres.t1_center[0], helix_point_at_z(kappa, phi0, cot, z0, 700.0), atol=1e-6
    )
    np.testing.assert_allclose(
        spheres.t2_center[0], helix_point_at_z(kappa, phi0, cot, z0, 820.0), atol=1e-6
    )
    assert spheres.t1_radius.tolist() == [5.0] and spheres.t2_radius.tolist() == [9.0]
    # Past the last disk there is nothing ahead: NaN centres (the candidate leaves).
    far = np.vstack([hits[1:], helix_point_at_z(kappa, phi0, cot, z0, 820.0)])
    _, spheres = extender.start(
        far[None], layer_keys(np.array([8, 9, 9]), np.array([4, 2, 6]))[None]
    )
    assert np.isnan(spheres.t1_center).all()
    with pytest.raises(ConfigError, match="window_mm"):
        HelixExtender(surfaces, window_mm=-1.0)
    assert state.n_points[0] == 3


def test_baseline_finds_the_high_pt_tracks(test_event: Event) -> None:
    result = build_tracks(test_event, "baseline", None, BuildConfig())
    _, metrics, _ = evaluate_event(
        test_event,
        result.submission[["hit_id", "track_id"]],
        ParticleSelection(min_pt=1.0, min_hits=5),
    )
    assert metrics.n_particles >= 10
    assert metrics.efficiency >= 0.9
    assert metrics.fake_rate <= 0.1
