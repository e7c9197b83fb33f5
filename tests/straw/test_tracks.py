"""Track gun, occupancy and straw crossings against independent calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.straw.helpers import circle_dca
from tracknet.errors import ConfigError
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.tracks import (
    Occupancy,
    TrackGun,
    closest_approach,
    sample_times,
    sample_track_counts,
    sample_tracks,
    straw_crossings,
)

GEOMETRY = StrawGeometry()


def _dense_hits(tracks, geometry: StrawGeometry, stop_deg: float) -> dict[tuple[int, int], float]:
    """Straws within the radius of densely sampled trajectories (the brute-force answer)."""
    s = np.linspace(0.0, 1600.0, 320_001)  # 5 um steps
    stop = math.radians(stop_deg)
    found: dict[tuple[int, int], float] = {}
    for i in range(len(tracks.x0)):
        k = tracks.kappa[i]
        phi = tracks.phi0[i] + k * s
        if k != 0:
            x = tracks.x0[i] + (np.sin(phi) - np.sin(tracks.phi0[i])) / k
            y = tracks.y0[i] - (np.cos(phi) - np.cos(tracks.phi0[i])) / k
        else:
            x = tracks.x0[i] + s * np.cos(phi)
            y = tracks.y0[i] + s * np.sin(phi)
        beyond = np.flatnonzero(np.abs(phi) > stop)
        end = beyond[0] if len(beyond) else len(s)
        x, y = x[:end], y[:end]
        for layer in range(geometry.n_layers):
            near = np.abs(x - geometry.layer_x[layer]) < geometry.straw_radius_mm + 0.1
            if not near.any():
                continue
            ids = layer * geometry.straws_per_layer + np.arange(geometry.straws_per_layer)
            d = np.hypot(
                x[near][:, None] - geometry.straw_x[ids], y[near][:, None] - geometry.straw_y[ids]
            ).min(axis=0)
            for j in np.flatnonzero(d < geometry.straw_radius_mm):
                found[(i, int(ids[j]))] = float(d[j])
    return found


@pytest.mark.parametrize(
    "gun",
    [
        TrackGun(p_min_gev=0.15, p_max_gev=0.4, angle_max_deg=30.0),  # strongly curved, many stop
        TrackGun(
            straight=True, angle_max_deg=45.0, stop_angle_deg=60.0
        ),  # steep lines: 2 straws per layer
        TrackGun(charge=0, angle_max_deg=15.0),  # both charges
    ],
)
def test_crossings_match_brute_force(gun: TrackGun) -> None:
    tracks = sample_tracks(gun, GEOMETRY, 40, np.random.default_rng(11))
    hits = straw_crossings(tracks, GEOMETRY, gun.stop_angle_deg)
    mine = {
        (int(t), int(s)): d for t, s, d in zip(hits.track, hits.straw_id, hits.dca, strict=True)
    }
    brute = _dense_hits(tracks, GEOMETRY, gun.stop_angle_deg)
    r = GEOMETRY.straw_radius_mm
    # Grazing straws (DCA within 2 um of the wall) may fall either side of the sampling.
    differ = {k for k in set(mine) ^ set(brute) if abs(mine.get(k, brute.get(k, 0.0)) - r) > 2e-3}
    assert not differ
    common = set(mine) & set(brute)
    assert len(common) > 200
    assert max(abs(mine[k] - brute[k]) for k in common) < 1e-3
    # The closest point is the drift distance away from the wire.
    wire = np.hypot(
        hits.tx - GEOMETRY.straw_x[hits.straw_id], hits.ty - GEOMETRY.straw_y[hits.straw_id]
    )
    assert np.allclose(wire, hits.dca, atol=1e-9)
    # Momentum magnitude is conserved along the track.
    assert np.allclose(np.hypot(hits.tpx, hits.tpy), tracks.p[hits.track])


def test_closest_approach_against_textbook_circle() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    px, py = rng.uniform(-100, 100, (2, n))
    phi = rng.uniform(-1, 1, n)
    p = rng.uniform(0.05, 3.0, n)
    q = rng.choice([-1, 1], n)
    kappa = -q * 1.45 * 0.299792458e-3 / p
    sx, sy = px + rng.uniform(-20, 20, n), py + rng.uniform(-20, 20, n)
    dca, qx, qy, _ = closest_approach(px, py, phi, kappa, sx, sy)
    expected = circle_dca(px, py, p * np.cos(phi), p * np.sin(phi), q, 1.45, sx, sy)
    assert np.allclose(dca, expected, atol=1e-9)
    assert np.allclose(np.hypot(qx - sx, qy - sy), dca, atol=1e-9)
    # The closest point lies on the circle.
    assert np.allclose(
        circle_dca(px, py, p * np.cos(phi), p * np.sin(phi), q, 1.45, qx, qy), 0.0, atol=1e-9
    )
    line, _, _, _ = closest_approach(px, py, phi, np.zeros(n), sx, sy)
    assert np.allclose(line, np.abs(-(sx - px) * np.sin(phi) + (sy - py) * np.cos(phi)))


def _truncated_poisson_mean(mean: float, lo: int, hi: int) -> float:
    k = np.arange(lo, hi + 1)
    logp = k * math.log(mean) - np.array([math.lgamma(v + 1) for v in k])
    w = np.exp(logp - logp.max())
    return float((k * w).sum() / w.sum())


@pytest.mark.parametrize(("mean", "lo", "hi"), [(2.0, 0, 8), (3.0, 1, 4), (0.5, 1, 3)])
def test_truncated_poisson(mean: float, lo: int, hi: int) -> None:
    occ = Occupancy(mean=mean, min_tracks=lo, max_tracks=hi)
    n = 40_000
    counts = sample_track_counts(occ, np.full(n, np.nan), np.random.default_rng(1))
    assert counts.min() >= lo and counts.max() <= hi
    expected = _truncated_poisson_mean(mean, lo, hi)
    assert abs(counts.mean() - expected) < 5 * counts.std() / math.sqrt(n)


def test_fixed_uniform_and_zero_mean() -> None:
    rng = np.random.default_rng(2)
    assert np.all(
        sample_track_counts(Occupancy(distribution="fixed", mean=3), np.full(10, np.nan), rng) == 3
    )
    uniform = sample_track_counts(
        Occupancy(distribution="uniform", min_tracks=2, max_tracks=4), np.full(30_000, np.nan), rng
    )
    assert set(np.unique(uniform)) == {2, 3, 4}
    assert np.allclose(np.bincount(uniform)[2:] / len(uniform), 1 / 3, atol=0.02)
    assert np.all(
        sample_track_counts(
            Occupancy(mean=0.0, min_tracks=2, max_tracks=5), np.full(5, np.nan), rng
        )
        == 2
    )
    assert np.all(sample_track_counts(Occupancy(mean=0.0), np.full(5, np.nan), rng) == 0)


def test_occupancy_falls_with_time_in_fill() -> None:
    """Mean tracks at time t follow A * exp(-t / tau) (max far above the mean)."""
    tau = 64.4
    times = np.array([0.0, 30.0, 64.4, 150.0])
    n = 30_000
    means = []
    for t in times:
        occ = Occupancy(mean=6.0, max_tracks=60, time_in_fill_us=float(t), tau_us=tau)
        counts = sample_track_counts(
            occ, sample_times(occ, n, np.random.default_rng(3)), np.random.default_rng(int(t) + 7)
        )
        means.append(counts.mean())
    expected = 6.0 * np.exp(-times / tau)
    errors = np.sqrt(expected / n)
    assert np.all(np.abs(np.asarray(means) - expected) < 5 * errors)
    slope = np.polyfit(times, np.log(means), 1)[0]
    assert abs(-1.0 / slope - tau) < 3.0


def test_time_range_is_uniform() -> None:
    occ = Occupancy(time_in_fill_us=10.0, time_in_fill_max_us=110.0)
    t = sample_times(occ, 20_000, np.random.default_rng(4))
    assert t.min() >= 10.0 and t.max() <= 110.0
    assert abs(t.mean() - 60.0) < 1.0
    assert np.isnan(sample_times(Occupancy(), 3, np.random.default_rng(4))).all()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Occupancy(distribution="gauss"), "distribution"),
        (lambda: Occupancy(min_tracks=3, max_tracks=2), "must not exceed"),
        (lambda: Occupancy(mean=-1.0), "occupancy mean"),
        (lambda: Occupancy(distribution="uniform", time_in_fill_us=5.0), "uniform"),
        (lambda: Occupancy(time_in_fill_max_us=5.0), "lower end"),
        (lambda: Occupancy(tau_us=0.0), "tau"),
        (lambda: TrackGun(p_min_gev=2.0, p_max_gev=1.0), "p_min"),
        (lambda: TrackGun(angle_max_deg=80.0), "stop_angle_deg"),
        (lambda: TrackGun(charge=2), "charge"),
    ],
)
def test_bad_parameters_are_one_line(make, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    assert fragment in str(info.value) and "\n" not in str(info.value)
