"""A built straw detector that differs from the design: misaligned straws and modules, a
field off its nominal value and varying along the tracker."""

from __future__ import annotations

import numpy as np
import pytest

from tracknet.errors import ConfigError
from tracknet.simulation.straw import (
    REAL_DETECTOR,
    DetectorConditions,
    StrawConfig,
    StrawGeometry,
    StrawResponse,
    TrackGun,
    simulate_straw_batch,
)
from tracknet.simulation.straw.conditions import BuiltDetector
from tracknet.simulation.straw.tracks import TrackStates, sample_tracks, straw_crossings

GEOMETRY = StrawGeometry()
GUN = TrackGun(p_min_gev=0.3, p_max_gev=3.0, charge=0)


def _tracks(n: int = 400, gun: TrackGun = GUN) -> TrackStates:
    return sample_tracks(gun, GEOMETRY, n, np.random.default_rng(5))


def _detector(dy: float = 0.0, factors: np.ndarray | float = 1.0) -> BuiltDetector:
    return BuiltDetector(
        np.full(GEOMETRY.n_straws, dy), np.broadcast_to(factors, (GEOMETRY.n_modules,)).copy()
    )


def _same_hits(a, b, atol: float = 1e-9) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(a.track, b.track) and np.array_equal(a.straw_id, b.straw_id)
    for name in ("dca", "tx", "ty", "tpx", "tpy"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=atol, rtol=0)


def test_the_design_built_exactly_crosses_the_same_straws() -> None:
    """The field taken module by module is the same circle when every module has the
    nominal field."""
    tracks = _tracks()
    nominal = straw_crossings(tracks, GEOMETRY, GUN.stop_angle_deg)
    assert len(nominal.track) > 400 * 15
    _same_hits(straw_crossings(tracks, GEOMETRY, GUN.stop_angle_deg, _detector()), nominal)


def test_a_uniform_field_change_is_a_change_of_curvature() -> None:
    tracks = _tracks()
    stronger = tracks._replace(kappa=tracks.kappa * 1.07)
    _same_hits(
        straw_crossings(tracks, GEOMETRY, GUN.stop_angle_deg, _detector(factors=1.07)),
        straw_crossings(stronger, GEOMETRY, GUN.stop_angle_deg),
        atol=1e-7,
    )


def test_a_shifted_tracker_sees_the_tracks_shifted_the_other_way() -> None:
    """Every straw moved by +d along y: the DCAs are those of the tracks moved by -d."""
    tracks, d = _tracks(), 0.37
    moved = straw_crossings(tracks, GEOMETRY, GUN.stop_angle_deg, _detector(dy=d))
    back = straw_crossings(tracks._replace(y0=tracks.y0 - d), GEOMETRY, GUN.stop_angle_deg)
    assert np.array_equal(moved.straw_id, back.straw_id)
    np.testing.assert_allclose(moved.dca, back.dca, atol=1e-9)
    np.testing.assert_allclose(moved.ty, back.ty + d, atol=1e-9)


def test_a_field_gradient_bends_tracks_only_after_the_first_module() -> None:
    tracks = _tracks(gun=TrackGun(p_min_gev=1.5, p_max_gev=1.5))
    factors = 1.0 + 0.05 * np.arange(GEOMETRY.n_modules)
    bent = straw_crossings(tracks, GEOMETRY, GUN.stop_angle_deg, _detector(factors=factors))
    nominal = straw_crossings(tracks, GEOMETRY, GUN.stop_angle_deg)
    first = GEOMETRY.straws_per_layer * GEOMETRY.layers_per_module
    a, b = bent.straw_id < first, nominal.straw_id < first
    assert np.array_equal(bent.straw_id[a], nominal.straw_id[b])
    np.testing.assert_allclose(bent.ty[a], nominal.ty[b], atol=1e-9)
    # The last module: the stronger field has turned the tracks further.
    last = GEOMETRY.n_straws - first
    turned = np.mean(np.abs(np.arctan2(bent.tpy, bent.tpx))[bent.straw_id >= last])
    assert turned > np.mean(np.abs(np.arctan2(nominal.tpy, nominal.tpx))[nominal.straw_id >= last])


def test_the_detector_is_fixed_by_its_seed_and_spreads_as_set() -> None:
    one, again = REAL_DETECTOR.build(GEOMETRY), REAL_DETECTOR.build(GEOMETRY)
    assert one.straw_dy.tobytes() == again.straw_dy.tobytes()
    other = REAL_DETECTOR.with_overrides({"seed": REAL_DETECTOR.seed + 1}).build(GEOMETRY)
    assert not np.array_equal(one.straw_dy, other.straw_dy)
    # Straws of one module share its offset: the spread within a module is the straws'.
    per_module = one.straw_dy.reshape(GEOMETRY.n_modules, -1)
    within = (per_module - per_module.mean(axis=1, keepdims=True)).std()
    assert within == pytest.approx(REAL_DETECTOR.straw_sigma_mm, rel=0.15)
    assert one.field_factor[0] == REAL_DETECTOR.field_scale
    assert np.all(np.diff(one.field_factor) < 0)
    assert DetectorConditions().nominal and not REAL_DETECTOR.nominal
    with pytest.raises(ConfigError, match="field_scale"):
        DetectorConditions(field_scale=0.0)


def test_events_of_the_built_detector_carry_design_positions_and_true_drifts() -> None:
    """The hits name their straw at its design position; the drift distance is measured
    from the straw where it really is."""
    config = StrawConfig(
        response=StrawResponse.ideal(), conditions=REAL_DETECTOR, gun=TrackGun(charge=0)
    )
    batch = simulate_straw_batch(config, 300, seed=11)
    again = simulate_straw_batch(config, 300, seed=11)
    assert all(
        batch.hits[c].tobytes() == again.hits[c].tobytes() for c in batch.hits
    )  # same seeds, same bytes
    hits = batch.hits
    sid = hits["straw_id"]
    np.testing.assert_array_equal(hits["x"], GEOMETRY.straw_x[sid])
    np.testing.assert_array_equal(hits["y"], GEOMETRY.straw_y[sid])
    dy = REAL_DETECTOR.build(GEOMETRY).straw_dy[sid]
    real = np.hypot(hits["tx"] - hits["x"], hits["ty"] - hits["y"] - dy)
    design = np.hypot(hits["tx"] - hits["x"], hits["ty"] - hits["y"])
    np.testing.assert_allclose(real, hits["drift_mm"], atol=1e-6)
    assert np.mean(np.abs(design - hits["drift_mm"])) > 0.1
    nominal = simulate_straw_batch(
        StrawConfig(response=StrawResponse.ideal(), gun=TrackGun(charge=0)), 300, seed=11
    )
    assert len(nominal.hits["x"]) != len(hits["x"]) or not np.array_equal(
        nominal.hits["straw_id"], sid
    )
