"""Track-fit quality: circle/line residuals, the (s, z) line, outlier trimming, the cut."""

from __future__ import annotations

import numpy as np
import pytest

from tracknet.building.builder import Candidates
from tracknet.building.fit import (
    FitQuality,
    fit_momentum,
    helix_fit,
    hit_sigmas,
    longitudinal_fit,
    scattering_scale,
    transverse_fit,
    transverse_fit_rms,
    trim_outliers,
)
from tracknet.building.selection import SelectionConfig, select_tracks
from tracknet.errors import ConfigError


def helix(
    radius_mm: float, n: int, *, centre=(0.0, 0.0), phi0=0.1, dphi=0.6, z0=-20.0, dz_ds=0.8
) -> np.ndarray:
    """Points of a helix: a circle arc in (x, y), z linear in the transverse path length."""
    phi = phi0 + np.linspace(0.0, dphi, n)
    x = centre[0] + radius_mm * np.cos(phi)
    y = centre[1] + radius_mm * np.sin(phi)
    s = radius_mm * (phi - phi0)
    return np.c_[x, y, z0 + dz_ds * s]


def paths_of(*rows: list[int], width: int = 12) -> np.ndarray:
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def two_candidates() -> Candidates:
    """Two candidates of five hits each, from seeds of three hits."""
    return Candidates(
        paths=paths_of([0, 1, 2, 3, 4], [5, 6, 7, 8, 9]),
        n_hits=np.array([5, 5]),
        cost=np.zeros(2),
        misses=np.zeros(2, dtype=np.int64),
        seed=np.arange(2),
        n_seed_hits=3,
    )


def test_exact_circle_and_line_fit_to_zero() -> None:
    circle = helix(800.0, 8, centre=(100.0, -50.0))
    line = np.c_[np.linspace(30, 1000, 8), 0.3 * np.linspace(30, 1000, 8), np.linspace(0, 500, 8)]
    # A 100 GeV track: radius 167 m, indistinguishable from a line over one metre.
    stiff = helix(1.67e5, 8, dphi=0.006)
    positions = np.concatenate([circle, line, stiff])
    rms = transverse_fit_rms(
        positions, paths_of(list(range(8)), list(range(8, 16)), list(range(16, 24)))
    )
    assert rms.shape == (3,)
    assert np.all(rms < 1e-4)


def test_noisy_circle_gives_its_noise_and_a_mixture_is_far_off() -> None:
    rng = np.random.default_rng(7)
    track = helix(1500.0, 60, dphi=0.5)
    sigma = 0.3
    noisy = track + np.c_[rng.normal(0, sigma, (60, 2)), np.zeros(60)]
    other = helix(1480.0, 60, dphi=0.5, phi0=0.15)  # a neighbour: another circle, 20 mm inside
    positions = np.concatenate([noisy, other])
    mixed = list(range(0, 30, 5)) + list(range(62, 90, 5))
    rms = transverse_fit_rms(positions, paths_of(list(range(60)), mixed, width=60))
    # Projected on the circle's normal the noise is ~sigma (60 hits, 57 dof).
    assert 0.2 < rms[0] < 0.4
    assert rms[1] > 10.0


def test_fewer_than_four_hits_always_fit() -> None:
    positions = np.array([[0.0, 0.0, 0.0], [10.0, 3.0, 0.0], [20.0, -7.0, 0.0]])
    rms, residuals = transverse_fit(positions, paths_of([0, 1, 2], [0, 1]))
    assert rms.tolist() == [0.0, 0.0]
    assert np.all(residuals == 0.0)


def test_trim_drops_the_displaced_hit_and_keeps_the_order() -> None:
    positions = helix(1000.0, 9)
    positions[4, 0] += 5.0  # one wrong hit in the middle
    paths, fit = trim_outliers(positions, paths_of(list(range(9))), 0.1, 2, 5)
    assert paths[0].tolist() == [0, 1, 2, 3, 5, 6, 7, 8, -1, -1, -1, -1]
    assert fit.rms_mm[0] < 1e-6


def test_trim_respects_the_minimum_length() -> None:
    rng = np.random.default_rng(3)
    positions = rng.uniform(-500, 500, (6, 3))  # no track at all
    paths, fit = trim_outliers(positions, paths_of(list(range(6))), 0.1, 5, 5)
    assert (paths[0] >= 0).sum() == 5  # one hit removed, then the floor of five hits
    assert fit.rms_mm[0] > 0.1


def test_longitudinal_fit_finds_a_z_outlier_with_the_barrel_resolutions() -> None:
    positions = helix(2000.0, 8, dphi=0.4, phi0=0.0)
    volume = np.full(8, 8)
    sigma_z, sigma_r = hit_sigmas(volume)
    chi2, pulls = longitudinal_fit(positions, paths_of(list(range(8))), sigma_z, sigma_r)
    assert chi2[0] < 1e-6
    positions[5, 2] += 3.0  # 30 sigma of a pixel hit
    chi2, pulls = longitudinal_fit(positions, paths_of(list(range(8))), sigma_z, sigma_r)
    assert chi2[0] > 30
    assert int(np.argmax(np.abs(pulls[0]))) == 5


def test_hit_sigmas_swap_between_barrel_and_disks() -> None:
    sigma_z, sigma_r = hit_sigmas(np.array([8, 17, 18, 99]))
    assert sigma_z[1] > 1.0 and sigma_r[1] <= 0.1  # long strip barrel: z is coarse
    assert sigma_r[2] > 1.0 and sigma_z[2] <= 0.1  # long strip disk: r is coarse
    assert sigma_z[0] <= 0.1 and sigma_r[0] <= 0.1
    assert sigma_z[3] == sigma_r[3] == 1.0


def test_selection_cuts_on_the_fit() -> None:
    candidates = two_candidates()
    fit = FitQuality(rms_mm=np.array([0.1, 2.0]), chi2_z=np.array([1.0, 1.0]))
    chosen = select_tracks(candidates, 10, SelectionConfig(min_hits=4, max_fit_rms_mm=0.5), fit=fit)
    assert chosen.candidate.tolist() == [0]
    fit = FitQuality(rms_mm=np.array([0.1, 0.1]), chi2_z=np.array([100.0, 1.0]))
    chosen = select_tracks(candidates, 10, SelectionConfig(min_hits=4, max_chi2_z=30.0), fit=fit)
    assert chosen.candidate.tolist() == [1]
    with pytest.raises(ConfigError, match="fit"):
        select_tracks(candidates, 10, SelectionConfig(min_hits=4, max_chi2_z=30.0))
    with pytest.raises(ConfigError, match="max_fit_rms_mm"):
        SelectionConfig(max_fit_rms_mm=-1.0)


def test_a_coarse_radius_is_forgiven_along_its_own_direction_only() -> None:
    # A curved track (radius 1.5 m) from the origin; the last hit moved 3 mm along its
    # radial direction, as an end-cap long strip measures r only to ~3 mm.
    positions = helix(1500.0, 8, centre=(0.0, 1500.0), phi0=-np.pi / 2, dphi=0.6)
    moved = positions.copy()
    rhat = moved[6, :2] / np.hypot(*moved[6, :2])
    moved[6, :2] += 3.0 * rhat
    paths = paths_of(list(range(8)))
    volume = np.full(8, 8)
    volume[6] = 18  # the moved hit is a long-strip disk hit
    _, sigma_r = hit_sigmas(volume)
    plain = transverse_fit(moved, paths)[1][0, 6]
    forgiving = transverse_fit(moved, paths, sigma_r)[1][0, 6]
    assert abs(plain) > 0.3
    assert abs(forgiving) < 0.3 * abs(plain)  # the circle itself is the same (unweighted fit)
    # Moved as far across the radial direction (in phi, which the strip measures well),
    # the same hit stands out several times more.
    across = positions.copy()
    across[6, :2] += 3.0 * np.array([-rhat[1], rhat[0]])
    assert abs(transverse_fit(across, paths, sigma_r)[1][0, 6]) > 3.0 * abs(forgiving)


def test_fits_do_not_depend_on_the_padding_after_the_hits() -> None:
    rng = np.random.default_rng(4)
    points = np.concatenate([helix(700.0, 9), helix(-1500.0, 6, phi0=2.0)])
    points[:, :2] += rng.normal(0.0, 0.05, (len(points), 2))
    sigma_z, sigma_r = np.full(len(points), 0.5), np.full(len(points), 0.05)
    rows = (list(range(9)), list(range(9, 15)), [0, 1])
    narrow, wide = paths_of(*rows, width=9), paths_of(*rows, width=30)
    for fit in (
        lambda p: transverse_fit(points, p),
        lambda p: transverse_fit(points, p, sigma_r),
        lambda p: longitudinal_fit(points, p, sigma_z, sigma_r),
    ):
        (fig_n, per_hit_n), (fig_w, per_hit_w) = fit(narrow), fit(wide)
        assert per_hit_w.shape == (3, 30) and not per_hit_w[:, 9:].any()
        assert np.allclose(fig_n, fig_w, rtol=1e-12, atol=1e-12)
        assert np.allclose(per_hit_n, per_hit_w[:, :9], rtol=1e-12, atol=1e-12)
        assert np.abs(per_hit_w[0]).max() > 0  # the noise is seen
    empty = np.full((2, 5), -1)
    assert transverse_fit(points, empty)[1].shape == (2, 5)


def test_the_fitted_momentum_is_that_of_the_helix() -> None:
    # R = 1 m in 2 T: pT = 0.3 * 2 * 1 = 0.6 GeV; dz/ds = 0.8: p = 0.6 * sqrt(1.64).
    positions = np.vstack([helix(1000.0, 8), np.c_[np.linspace(30, 300, 6), np.zeros((6, 2))]])
    paths = paths_of(list(range(8)), list(range(8, 14)))
    sigma = np.full(len(positions), 0.1)
    fit = helix_fit(positions, paths, sigma, sigma, 2.0)
    assert fit.momentum_gev is not None
    assert fit.momentum_gev[0] == pytest.approx(0.6 * np.sqrt(1.64), rel=1e-3)
    assert np.isinf(fit.momentum_gev[1])  # a straight line
    assert fit_momentum(np.array([500.0]), np.array([0.0]), 4.0)[0] == pytest.approx(0.6)
    trimmed = trim_outliers(
        positions, paths, 0.5, 2, 4, max_chi2_z=30.0, sigma_z=sigma, sigma_r=sigma
    )[1]
    assert trimmed.momentum_gev is not None
    np.testing.assert_allclose(trimmed.momentum_gev, fit.momentum_gev)


def test_scattering_widens_the_fit_cuts_of_soft_tracks_only() -> None:
    scale = scattering_scale(np.array([0.3, 3.0, np.inf, np.nan, 0.01]), 0.6)
    np.testing.assert_allclose(scale, [5.0, 1.04, 1.0, 1.0, 37.0])  # floor 0.1 GeV
    np.testing.assert_array_equal(scattering_scale(np.array([0.3, 0.01]), None), [1.0, 1.0])
    candidates = two_candidates()
    # The same fit figures: a 0.3 GeV track may have them, a 3 GeV one may not.
    fit = FitQuality(
        rms_mm=np.array([1.0, 1.0]), chi2_z=np.array([100.0, 100.0]),
        momentum_gev=np.array([0.3, 3.0]),
    )  # fmt: skip
    cuts = {"min_hits": 4, "max_fit_rms_mm": 0.5, "max_chi2_z": 30.0}
    plain = select_tracks(candidates, 10, SelectionConfig(**cuts), fit=fit)
    assert plain.n_tracks == 0
    soft = select_tracks(candidates, 10, SelectionConfig(**cuts, scattering_gev=0.6), fit=fit)
    assert soft.candidate.tolist() == [0]
    with pytest.raises(ConfigError, match="momentum"):
        select_tracks(
            candidates, 10, SelectionConfig(**cuts, scattering_gev=0.6),
            fit=FitQuality(fit.rms_mm, fit.chi2_z),
        )  # fmt: skip


def test_trimming_keeps_the_hits_of_a_soft_track_that_scattering_explains() -> None:
    # R = 500 mm in 2 T: pT 0.3 GeV. Hits scattered by ~0.8 mm across the circle.
    rng = np.random.default_rng(11)
    positions = helix(500.0, 10, dphi=1.0, dz_ds=0.0)
    radial = positions[:, :2] / np.linalg.norm(positions[:, :2], axis=1, keepdims=True)
    positions[:, :2] += radial * rng.normal(0.0, 0.8, 10)[:, None]
    paths = paths_of(list(range(10)))
    plain = trim_outliers(positions, paths, 0.5, 2, 5)[0]
    assert (plain[0] >= 0).sum() < 10
    kept, fit = trim_outliers(positions, paths, 0.5, 2, 5, scattering_gev=0.6)
    assert (kept[0] >= 0).sum() == 10
    assert fit.momentum_gev is not None and fit.momentum_gev[0] < 0.5
    assert 0.5 < fit.rms_mm[0] <= 0.5 * np.sqrt(scattering_scale(fit.momentum_gev, 0.6)[0])
