"""Radius calibration from validation statistics: scale factors, caps, exact sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tracknet.data.normalize import Normalizer
from tracknet.model import Prediction
from tracknet.training.calibration import LOG_RATIO_BIN, SphereStats


def _batch(
    distances_mm: np.ndarray, radii_mm: np.ndarray
) -> tuple[Prediction, torch.Tensor, torch.Tensor]:
    """Predictions at the origin with the given radii.

    The true hits lie at the given distances along x.
    """
    n = len(distances_mm)
    centre = torch.zeros(1, n, 3, dtype=torch.float64)
    truth = torch.zeros(1, n, 3, dtype=torch.float64)
    truth[0, :, 0] = torch.from_numpy(distances_mm / 1000.0)
    radius = torch.from_numpy(radii_mm / 1000.0)[None]
    return Prediction(centre, radius, centre, radius), truth, torch.ones(1, n, dtype=torch.bool)


def test_scale_reaches_the_target_share_and_sums_are_exact() -> None:
    gen = np.random.default_rng(0)
    d = gen.uniform(0.0, 10.0, 1000)
    r = np.full(1000, 2.0)
    stats = SphereStats(Normalizer())
    pred, truth, mask = _batch(d, r)
    stats.update(pred, truth, truth, mask, mask)
    raw = stats.metrics()
    assert raw["t1_efficiency"] == pytest.approx(np.mean(d <= 2.0))
    assert raw["t1_radius_mm"] == pytest.approx(2.0)
    assert raw["t1_search_volume_mm3"] == pytest.approx(4 / 3 * math.pi * 8.0)
    cal = stats.calibrate(0.9, 0.5)
    assert cal is not None
    # the 90 % quantile of d / r, rounded up to a bin edge
    want = np.quantile(d / 2.0, 0.9)
    assert want <= cal.t1_scale <= want * math.exp(2 * LOG_RATIO_BIN)
    assert cal.t1_efficiency == pytest.approx(0.9, abs=0.002)
    metrics = stats.metrics(cal)
    assert metrics["t1_efficiency"] == pytest.approx(np.mean(d <= cal.t1_scale * 2.0), abs=1e-9)
    assert metrics["t1_radius_mm"] == pytest.approx(cal.t1_scale * 2.0, rel=0.005)
    assert metrics["t1_efficiency_raw"] == raw["t1_efficiency"]


def test_a_cap_gives_up_on_far_hits_and_calibrates_on_the_reachable_ones() -> None:
    # 90 predictions with d = 1 mm, r = 1 mm; 10 with d = 100 mm, r = 50 mm.
    d = np.r_[np.full(90, 1.0), np.full(10, 100.0)]
    r = np.r_[np.full(90, 1.0), np.full(10, 50.0)]
    stats = SphereStats(Normalizer(), max_radius_mm=(20.0, math.inf))
    pred, truth, mask = _batch(d, r)
    stats.update(pred, truth, truth, mask, mask)
    cal = stats.calibrate(0.95, 0.95)
    assert cal is not None
    # t1: the far hits are beyond the cap; all reachable ones are in at s ~ 1
    assert cal.t1_scale == pytest.approx(1.0, rel=0.006) and cal.t1_efficiency == pytest.approx(0.9)
    # t2 without cap needs s = 2 for the far ones
    assert cal.t2_scale == pytest.approx(2.0, rel=0.006) and cal.t2_efficiency == pytest.approx(1.0)
    m = stats.metrics(cal)
    assert m["t1_reachable"] == pytest.approx(0.9) and m["t1_efficiency"] == pytest.approx(0.9)
    # capped radii: 90 x 1 mm and 10 x 20 mm
    assert m["t1_radius_mm"] == pytest.approx((90 * 1.0 + 10 * 20.0) / 100, rel=0.006)


def test_state_adds_up_over_ranks() -> None:
    gen = np.random.default_rng(1)
    d = gen.uniform(0, 5, 200)
    r = gen.uniform(1, 3, 200)
    whole = SphereStats(Normalizer())
    parts = [SphereStats(Normalizer()), SphereStats(Normalizer())]
    pred, truth, mask = _batch(d, r)
    whole.update(pred, truth, truth, mask, mask)
    for i, part in enumerate(parts):
        p, t, m = _batch(d[i::2], r[i::2])
        part.update(p, t, t, m, m)
    merged = SphereStats(Normalizer())
    merged.load_tensors(parts[0].tensors() + parts[1].tensors())
    assert merged.metrics() == pytest.approx(whole.metrics())
    assert merged.calibrate(0.8, 0.8) == whole.calibrate(0.8, 0.8)
    assert SphereStats(Normalizer()).calibrate(0.9, 0.9) is None
