"""Layer search regions: line crossings with the layer surfaces, the regions a wide t1
sphere becomes, and the loop taking the next hit from either t1 region at no miss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tracknet.building.builder import ExtensionConfig, Spheres, TrackNetExtender, extend_seeds
from tracknet.building.geometry import Envelope, LayerSurfaces, layer_keys
from tracknet.data import Normalizer
from tracknet.model import StepAheadTrackNet

#: A barrel cylinder r = 100 mm (|z| <= 200) and an end-cap disk z = 250 mm (50 <= r <= 150).
CYLINDER = int(layer_keys(np.array([8]), np.array([2]))[0])
DISK = int(layer_keys(np.array([9]), np.array([2]))[0])


def _surfaces(spread: float = 0.0) -> LayerSurfaces:
    return LayerSurfaces(
        keys=np.array([CYLINDER, DISK]),
        barrel=np.array([True, False]),
        position=np.array([100.0, 250.0]),
        low=np.array([-200.0, 50.0]),
        high=np.array([200.0, 150.0]),
        spread=np.array([spread, spread]),
    )


def test_line_crossings_are_exact_and_respect_extent_and_the_excluded_layer() -> None:
    surfaces = _surfaces()
    points = np.array([[60.0, 0.0, 150.0], [60.0, 0.0, 150.0], [0.0, 0.0, 0.0], [60.0, 0.0, 150.0]])
    diagonal = np.array([1.0, 0.0, 1.0]) / np.sqrt(2.0)
    directions = np.array([diagonal, diagonal, [1.0, 0.0, 0.0], diagonal])
    exclude = np.array([-1, -1, -1, DISK])
    t = surfaces.line_crossings(points, directions, exclude, margin_mm=0.0)
    # From (60, 0, 150) at 45 degrees: r = 100 at z = 190 (inside |z| <= 200), z = 250 at
    # r = 160, beyond the disk's r <= 150.
    assert t[0, 0] == pytest.approx(40.0 * np.sqrt(2.0))
    assert t[0, 1] == np.inf
    # A margin of 10 mm takes the disk crossing at r = 160.
    wide = surfaces.line_crossings(points[:1], directions[:1], exclude[:1], margin_mm=10.0)
    assert wide[0, 1] == pytest.approx(100.0 * np.sqrt(2.0))
    # Straight out along x from the origin: the cylinder at t = 100, the disk never.
    assert t[2, 0] == pytest.approx(100.0) and t[2, 1] == np.inf
    # The excluded layer is never a crossing.
    assert t[3, 1] == np.inf and t[3, 0] == pytest.approx(40.0 * np.sqrt(2.0))
    # Moving out from beyond the cylinder: it lies behind, not ahead.
    away = np.array([[1.0, 0.0, 0.1]]) / np.linalg.norm([1.0, 0.0, 0.1])
    back = surfaces.line_crossings(np.array([[120.0, 0.0, 150.0]]), away, exclude[:1], 0.0)
    assert np.all(back[0] == np.inf)


def _extender(surfaces: LayerSurfaces, layer_radius_mm: float) -> TrackNetExtender:
    return TrackNetExtender(
        StepAheadTrackNet(),
        Normalizer(),
        surfaces=surfaces,
        layer_radius_mm=layer_radius_mm,
        max_radius_mm=1000.0,
    )


def test_a_wide_sphere_becomes_one_region_per_layer_it_reaches_and_a_tight_one_stays() -> None:
    surfaces = _surfaces(spread=1.0)
    extender = _extender(surfaces, layer_radius_mm=5.0)
    last = np.tile([60.0, 0.0, 100.0], (3, 1))
    along = np.array([1.0, 0.0, 2.0]) / np.sqrt(5.0)  # dz/dr = 2: the cylinder, then the disk
    # From (60, 0, 100): r = 100 at z = 180 (t = 40 sqrt 5), z = 250 at r = 135 (t = 75 sqrt 5).
    centre = last + along * 55.0 * np.sqrt(5.0)  # 33.5 mm and 44.7 mm from the two crossings
    spheres = Spheres(
        t1_center=centre.copy(),
        t1_radius=np.array([50.0, 40.0, 3.0]),  # both layers, the cylinder only, tight
        t2_center=centre + 10.0,
        t2_radius=np.full(3, 50.0),
    )
    out = extender._finish(spheres, last, np.full(3, -1))
    cylinder_point = np.array([100.0, 0.0, 180.0])
    disk_point = np.array([135.0, 0.0, 250.0])
    # Wide: t1 on the nearer layer, t1b on the next, radii layer_radius_mm plus staggering.
    np.testing.assert_allclose(out.t1_center[0], cylinder_point, atol=1e-9)
    np.testing.assert_allclose(out.t1b_center[0], disk_point, atol=1e-9)
    cos_cylinder = 1.0 / np.sqrt(5.0)  # the line's angle to the cylinder's (radial) normal
    assert out.t1_radius[0] == pytest.approx(5.0 + min(1.0 / cos_cylinder, 3.0))
    assert out.t1b_radius[0] == pytest.approx(5.0 + 1.0 / (2.0 / np.sqrt(5.0)))
    # A sphere reaching only one layer: one region, no alternative.
    np.testing.assert_allclose(out.t1_center[1], cylinder_point, atol=1e-9)
    assert np.isnan(out.t1b_center[1]).all()
    # Tighter than layer_radius_mm: the model's own sphere.
    np.testing.assert_allclose(out.t1_center[2], centre[2])
    assert out.t1_radius[2] == 3.0 and np.isnan(out.t1b_center[2]).all()
    # A wide t2 sphere moves to the first layer beyond the t1 region: for the first two
    # candidates (t1 on the cylinder) the disk, which its own line crosses inside it.
    for row in (0, 1):
        assert out.t2_center[row, 2] == pytest.approx(250.0)
        assert np.linalg.norm(out.t2_center[row] - spheres.t2_center[row]) <= 50.0


def test_regions_are_off_without_a_layer_radius() -> None:
    extender = TrackNetExtender(StepAheadTrackNet(), Normalizer(), max_radius_mm=20.0)
    spheres = Spheres(np.zeros((1, 3)), np.array([40.0]), np.ones((1, 3)), np.array([50.0]))
    out = extender._finish(spheres, np.zeros((1, 3)), np.zeros(1, dtype=np.int64))
    assert out.t1b_center is None
    assert out.t1_radius.tolist() == [20.0] and out.t2_radius.tolist() == [20.0]  # capped


class TwoRegionExtender:
    """Straight lines with hits every 30 mm: t1 points 20 mm off the next hit (it holds
    none), t1b on it; t2 on the hit after next."""

    def _spheres(self, prev: np.ndarray, last: np.ndarray) -> Spheres:
        step = last - prev
        n = len(last)
        off = np.array([0.0, 0.0, 20.0])
        return Spheres(
            last + step + off,
            np.full(n, 3.0),
            last + 2 * step,
            np.full(n, 3.0),
            t1b_center=last + step,
            t1b_radius=np.full(n, 3.0),
        )

    def start(self, seed_positions: np.ndarray, seed_layers: np.ndarray) -> tuple[Any, Spheres]:
        state = (seed_positions[:, -2].copy(), seed_positions[:, -1].copy())
        return state, self._spheres(*state)

    def advance(self, state, parents, hit_positions, hit_layers, hole_positions, has_hole):  # type: ignore[no-untyped-def]
        new = (state[1][parents], hit_positions.copy())
        return new, self._spheres(*new)


def test_the_loop_takes_the_next_hit_from_the_second_region_at_no_miss() -> None:
    steps = 30.0 * np.arange(1, 9)
    direction = np.array([1.0, 0.0, 0.3]) / np.linalg.norm([1.0, 0.0, 0.3])
    positions = direction[None, :] * steps[:, None]
    keys = np.zeros(len(positions), dtype=np.int64)
    candidates = extend_seeds(
        TwoRegionExtender(),
        positions,
        keys,
        np.array([[0, 1, 2]]),
        np.ones(len(positions), dtype=bool),
        Envelope.from_positions(positions, 5.0),
        ExtensionConfig(max_misses=0, skip_branches=False),
    )
    longest = int(np.argmax(candidates.n_hits))
    assert candidates.paths[longest, : candidates.n_hits[longest]].tolist() == list(range(8))
    assert candidates.misses[longest] == 0
    assert candidates.cost[longest] == pytest.approx(0.0, abs=1e-9)
