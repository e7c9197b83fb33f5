from __future__ import annotations

import numpy as np
import pytest

from tracknet.simulation.helix import (
    K_GEV_PER_T_MM,
    cylinder_path_lengths,
    helix_advance,
    helix_direction,
    highland_theta0,
    plane_path_lengths,
    radius_of_curvature,
    scatter_direction,
    signed_curvature,
)


def test_radius_of_curvature_is_pt_over_0_3_b() -> None:
    # 1 GeV in 2 T: R = 1 / (0.3 * 2) m = 1.668 m
    assert radius_of_curvature(np.array([1.0]), 2.0)[0] == pytest.approx(1667.8204759, rel=1e-9)
    assert signed_curvature(np.array([1.0]), np.array([1]), 2.0)[0] == pytest.approx(
        -2 * K_GEV_PER_T_MM
    )


def test_helix_stays_on_its_circle_and_positive_charges_turn_clockwise() -> None:
    rho = signed_curvature(np.array([0.5]), np.array([1]), 2.0)
    big_r = 1.0 / abs(rho[0])
    lengths = np.linspace(0.0, 3000.0, 50)
    x, y, z, phi = helix_advance(0.0, 0.0, 1.0, 0.3, 2.0, rho, lengths)
    centre = np.array([np.sin(0.3), -np.cos(0.3)]) * big_r  # to the right of the motion
    assert np.allclose(np.hypot(x - centre[0], y - centre[1]), big_r, atol=1e-9)
    assert np.allclose(z, 1.0 + 2.0 * lengths)
    assert np.all(np.diff(phi) < 0)


def test_helix_advance_is_a_straight_line_without_curvature() -> None:
    x, y, z, phi = helix_advance(1.0, 2.0, 3.0, 0.5, 0.25, 0.0, 10.0)
    assert (x, y, z, phi) == pytest.approx((1 + 10 * np.cos(0.5), 2 + 10 * np.sin(0.5), 5.5, 0.5))


def test_cylinder_crossings_from_the_beam_line() -> None:
    pt = np.array([1.0, 0.3, 0.3])
    q = np.array([1, -1, 1])
    rho = signed_curvature(pt, q, 2.0)
    radii = np.array([100.0, 500.0, 1200.0])
    lengths = cylinder_path_lengths(np.zeros(3), np.zeros(3), np.full(3, 0.7), rho, radii)
    big_r = radius_of_curvature(pt, 2.0)[:, None]
    reachable = radii[None, :] <= 2 * big_r
    expected = np.where(
        reachable, 2 * big_r * np.arcsin(np.minimum(radii / (2 * big_r), 1.0)), np.inf
    )
    assert np.allclose(lengths, expected, rtol=1e-10)


def test_looper_finds_the_return_crossing() -> None:
    rho = signed_curvature(np.array([0.3]), np.array([1]), 2.0)
    big_r = 1.0 / abs(rho[0])
    out = cylinder_path_lengths(np.zeros(1), np.zeros(1), np.zeros(1), rho, np.array([500.0]))[0, 0]
    x, y, _, phi = helix_advance(
        np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 0.0, rho, np.array([out])
    )
    back = cylinder_path_lengths(x, y, phi, rho, np.array([500.0]))[0, 0]
    # out at 2R asin(r / 2R); back in after the apex, symmetric about it
    assert back == pytest.approx(2 * np.pi * big_r - 2 * out, rel=1e-9)


def test_plane_crossings_only_ahead() -> None:
    lengths = plane_path_lengths(
        np.array([0.0, 0.0]), np.array([2.0, -2.0]), np.array([-600.0, 600.0])
    )
    assert lengths[0, 1] == pytest.approx(300.0)
    assert lengths[1, 0] == pytest.approx(300.0)
    assert np.isinf(lengths[0, 0]) and np.isinf(lengths[1, 1])


def test_highland_formula() -> None:
    # beta ~ 1 at 10 GeV: 13.6 MeV / 10 GeV * sqrt(0.01) * (1 + 0.038 ln 0.01)
    expected = 0.0136 / 10.0 * 0.1 * (1 + 0.038 * np.log(0.01))
    assert highland_theta0(np.array([10.0]), np.array([0.01]))[0] == pytest.approx(
        expected, rel=1e-3
    )
    assert highland_theta0(np.array([1.0]), np.array([0.0]))[0] == 0.0


def test_scattering_turns_by_the_given_angle_and_keeps_p() -> None:
    phi, cot = np.array([0.4]), np.array([0.8])
    new_phi, new_cot, ratio = scatter_direction(phi, cot, np.array([1e-3]), np.array([-2e-3]))
    before, after = helix_direction(phi, cot)[0], helix_direction(new_phi, new_cot)[0]
    assert np.degrees(np.arccos(np.clip(before @ after, -1, 1))) == pytest.approx(
        np.degrees(np.hypot(1e-3, 2e-3)), rel=1e-3
    )
    sin_before = 1 / np.sqrt(1 + cot**2)
    sin_after = 1 / np.sqrt(1 + new_cot**2)
    assert ratio == pytest.approx(sin_after / sin_before)
