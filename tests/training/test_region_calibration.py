"""Region calibration: dense regions get tight spheres, efficiency is met, tables load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from tracknet.errors import ConfigError
from tracknet.model import StepAheadTrackNet
from tracknet.training.region_calibration import (
    RegionPredictions,
    RegionSettings,
    fit_region_tables,
    hit_counts,
)


def test_hit_counts_match_a_brute_force_count() -> None:
    gen = np.random.default_rng(0)
    points = gen.uniform(-100, 100, (3000, 3))
    centres = gen.uniform(-80, 80, (50, 3))
    radii = gen.uniform(1, 60, (50, 4))
    counts = hit_counts(cKDTree(points), 3, centres, radii)
    dist = np.linalg.norm(centres[:, None, :] - points[None, :, :], axis=-1)
    exact = (dist[:, None, :] <= radii[:, :, None]).sum(-1) / 3
    small = radii < np.sort(dist, axis=1)[:, 255:256]  # within the 256 nearest: exact
    np.testing.assert_allclose(counts[small], exact[small])
    assert np.all(counts[~small] > 0)


def test_dense_region_gets_the_tighter_spheres_at_equal_efficiency() -> None:
    # Two regions (transverse radius below / above 100 mm) with the same miss distances,
    # one ten times denser in cost hits: the fit should spend its misses there.
    gen = np.random.default_rng(1)
    n = 2000
    rho = np.r_[np.full(n, 50.0), np.full(n, 500.0)]
    phi = gen.uniform(0, 2 * np.pi, 2 * n)
    centres = np.c_[rho * np.cos(phi), rho * np.sin(phi), np.zeros(2 * n)]
    distance = np.abs(gen.normal(0, 5.0, 2 * n))
    preds = RegionPredictions(centres, np.full(2 * n, 5.0), distance)
    dense = gen.uniform(-1, 1, (40000, 3)) * [70, 70, 20]
    sparse = gen.uniform(-1, 1, (4000, 3)) * [600, 600, 20]
    sparse = sparse[np.hypot(sparse[:, 0], sparse[:, 1]) > 100]
    settings = RegionSettings(r_edges_mm=(100.0,), caps_mm=(math.inf,))
    fit = fit_region_tables(preds, cKDTree(np.r_[dense, sparse]), 1, settings, 0.9)
    assert fit["efficiency"] >= 0.9
    assert fit["scales"][0] < fit["scales"][1]
    assert fit["predictions_per_region"] == [n, n]


def test_model_applies_the_tables_by_region() -> None:
    model = StepAheadTrackNet(hidden_size=4, features="cylindrical").eval()
    x = torch.tensor([[[0.03, 0.0, 0.0], [0.07, 0.0, 0.0], [0.116, 0.0, 0.0]]])
    with torch.no_grad():
        raw = model(x)
    model.set_radius_regions(
        {
            "r_edges": [0.1],
            "z_edges": [],
            "t1_scales": [2.0, 3.0],
            "t1_caps": [math.inf, 1e-5],
            "t2_scales": [1.0, 1.0],
            "t2_caps": [math.inf, math.inf],
        }
    )
    with torch.no_grad():
        cal = model(x)
    inner = torch.linalg.vector_norm(raw.t1_center[..., :2], dim=-1) < 0.1
    torch.testing.assert_close(cal.t1_radius[inner], 2.0 * raw.t1_radius[inner])
    torch.testing.assert_close(cal.t1_radius[~inner], torch.full_like(cal.t1_radius[~inner], 1e-5))
    torch.testing.assert_close(cal.t2_radius, raw.t2_radius)
    clone = StepAheadTrackNet.from_config(model.config())
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(clone.eval()(x).t1_radius, cal.t1_radius)
    with pytest.raises(ConfigError):
        model.set_radius_regions(
            {
                "r_edges": [0.1],
                "z_edges": [],
                "t1_scales": [1.0],
                "t1_caps": [1.0],
                "t2_scales": [1.0, 1.0],
                "t2_caps": [1.0, 1.0],
            }
        )
    with pytest.raises(ConfigError):
        RegionSettings(r_edges_mm=(200.0, 100.0))
