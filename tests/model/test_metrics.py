"""Sphere metrics, the density map and exact hit counts, with hand values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import make_small_event
from tracknet.data.normalize import Normalizer
from tracknet.errors import DataError
from tracknet.model.density import DENSITY_MAP_KEYS, DensityMap, hits_in_sphere
from tracknet.model.metrics import METRIC_NAMES, StepAheadMetrics, step_ahead_metrics
from tracknet.model.step_ahead import Prediction


def _one_step(center: list[float], radius: float, truth: list[float]) -> tuple:  # type: ignore[type-arg]
    c = torch.tensor([[center]])
    r = torch.tensor([[radius]])
    y = torch.tensor([[truth]])
    m = torch.ones(1, 1, dtype=torch.bool)
    return Prediction(c, r, c, r), y, m


def test_efficiency_volume_and_radius_by_hand() -> None:
    norm = Normalizer(1000.0)
    # model frame: radius 0.001 = 1 mm; true hit 0.5 mm away -> inside; 1.5 mm -> outside
    pred, inside, m = _one_step([0.0, 0.0, 0.0], 0.001, [0.0005, 0.0, 0.0])
    _, outside, _ = _one_step([0.0, 0.0, 0.0], 0.001, [0.0, 0.0015, 0.0])
    got = step_ahead_metrics(pred, inside, outside, m, m, norm)
    assert got["t1_efficiency"] == 1.0
    assert got["t2_efficiency"] == 0.0
    assert got["t1_search_volume_mm3"] == pytest.approx(4.0 / 3.0 * math.pi)
    assert got["t1_radius_mm"] == pytest.approx(1.0)
    assert "t1_expected_hits" not in got  # no density map given
    # exactly on the surface counts as inside
    pred, surface, m = _one_step([0.0, 0.0, 0.0], 0.002, [0.0, 0.0, 0.002])
    assert step_ahead_metrics(pred, surface, surface, m, m, norm)["t1_efficiency"] == 1.0


def test_masked_positions_and_accumulation_over_batches() -> None:
    norm = Normalizer(10.0)
    c = torch.zeros(2, 2, 3)
    r = torch.tensor([[0.1, 0.2], [0.3, 0.4]])  # 1, 2, 3, 4 mm
    y = torch.zeros(2, 2, 3)
    y[0, 1, 0] = 0.5  # 5 mm away from a 2 mm sphere: outside
    mask = torch.tensor([[True, True], [True, False]])
    pred = Prediction(c, r, c, r)
    got = step_ahead_metrics(pred, y, y, mask, mask, norm)
    assert got["t1_efficiency"] == pytest.approx(2.0 / 3.0)
    assert got["t1_radius_mm"] == pytest.approx(2.0)
    assert got["t1_search_volume_mm3"] == pytest.approx(4.0 / 3.0 * math.pi * (1 + 8 + 27) / 3)
    acc = StepAheadMetrics(norm)
    for b in range(2):
        acc.update(
            Prediction(c[b : b + 1], r[b : b + 1], c[b : b + 1], r[b : b + 1]),
            y[b : b + 1],
            y[b : b + 1],
            mask[b : b + 1],
            mask[b : b + 1],
        )
    assert acc.compute() == pytest.approx(got)
    acc.reset()
    assert math.isnan(acc.compute()["t1_efficiency"])


def test_expected_hits_read_from_the_density_map() -> None:
    # 8 hits in the voxel [0,10)^3 mm over 2 events -> 4 hits / 1000 mm^3 = 0.004 per mm^3
    points = np.full((8, 3), 5.0)
    far = np.array([[95.0, 95.0, 95.0]])
    density = DensityMap.from_points(
        [points, far], voxel_size_mm=10.0, bounds_mm=((0, 0, 0), (100, 100, 100))
    )
    assert density.shape == (11, 11, 11) and density.n_events == 2
    assert density.density_per_mm3[0, 0, 0] == pytest.approx(0.004)
    norm = Normalizer(1000.0)
    pred, y, m = _one_step(
        [0.005, 0.005, 0.005], 0.002, [0.005, 0.005, 0.005]
    )  # centre (5,5,5) mm, r 2 mm
    got = step_ahead_metrics(pred, y, y, m, m, norm, density)
    assert got["t1_expected_hits"] == pytest.approx(0.004 * 4.0 / 3.0 * math.pi * 8.0)
    # outside the grid the density is 0
    pred, y, m = _one_step([-0.5, 0.0, 0.0], 0.002, [-0.5, 0.0, 0.0])
    assert step_ahead_metrics(pred, y, y, m, m, norm, density)["t1_expected_hits"] == 0.0
    assert set(METRIC_NAMES) >= set(got)


def test_density_map_save_load_keys_and_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    events = [make_small_event(event_id=i) for i in range(3)]
    density = DensityMap.from_events(events, voxel_size_mm=25.0)
    path = density.save(tmp_path / "density.npz")
    with np.load(path) as data:
        assert tuple(sorted(data.files)) == tuple(sorted(DENSITY_MAP_KEYS))
    back = DensityMap.load(path)
    np.testing.assert_array_equal(back.density_per_mm3, density.density_per_mm3)
    np.testing.assert_array_equal(back.origin_mm, density.origin_mm)
    assert back.voxel_size_mm == 25.0 and back.n_events == 3
    # the metric reads exactly what was written, numpy and torch alike
    probe = np.concatenate([events[0].positions(), rng.uniform(-300, 300, size=(50, 3))])
    np.testing.assert_array_equal(back.density_at(probe), density.density_at(probe))
    torch_values = back.density_at(torch.tensor(probe, dtype=torch.float64))
    np.testing.assert_allclose(torch_values.numpy(), density.density_at(probe))
    # every hit sits in a voxel with density >= 1 hit / voxel volume / n_events
    assert np.all(density.density_at(events[0].positions()) >= 1.0 / (25.0**3 * 3) - 1e-15)
    # total: hits per event
    total = density.density_per_mm3.sum() * density.voxel_volume_mm3
    assert total == pytest.approx(events[0].n_hits)


def test_density_map_loader_names_a_missing_key(tmp_path: Path) -> None:
    density = DensityMap.from_points([np.zeros((1, 3)), np.ones((2, 3))], voxel_size_mm=1.0)
    density.save(tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz") as data:
        arrays = {k: data[k] for k in data.files if k != "voxel_size_mm"}
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(DataError, match="lacks key 'voxel_size_mm'"):
        DensityMap.load(tmp_path / "broken.npz")
    with pytest.raises(DataError, match="density map not found"):
        DensityMap.load(tmp_path / "missing.npz")


def test_hits_in_sphere_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform(-100, 100, size=(2000, 3))
    centers = rng.uniform(-100, 100, size=(300, 3))
    radii = rng.uniform(0.0, 40.0, size=300)
    got = hits_in_sphere(points, centers, radii)
    distance = np.linalg.norm(points[None, :, :] - centers[:, None, :], axis=2)
    np.testing.assert_array_equal(got, (distance <= radii[:, None]).sum(axis=1))
    assert hits_in_sphere(np.zeros((0, 3)), centers[:2], radii[:2]).tolist() == [0, 0]
    # a point exactly on the surface counts
    assert hits_in_sphere(
        np.array([[3.0, 4.0, 0.0]]), np.zeros((1, 3)), np.array([5.0])
    ).tolist() == [1]
