"""Double hits: a free hit next to a track's hit in the same layer joins it when it fits."""

from __future__ import annotations

import numpy as np

from tracknet.building.doubles import attach_double_hits
from tracknet.building.fit import hit_sigmas


def _track(n: int = 8) -> np.ndarray:
    """A pT ~ 2 GeV track from the origin through the pixel barrel (radii 30..170 mm)."""
    radius = 3300.0
    r = np.linspace(30.0, 170.0, n)
    phi = np.arcsin(r / (2 * radius))  # circle through the origin, centre (0, radius)
    x, y = r * np.cos(phi), r * np.sin(phi)
    return np.c_[x, y, 0.5 * r]


def test_double_hit_on_the_helix_joins_and_impostors_do_not() -> None:
    track = _track()
    direction = (track[4] - track[3]) / np.linalg.norm(track[4] - track[3])
    double = track[3] + 2.0 * direction  # the overlapping module, 2 mm further along the track
    off = track[5] + np.array([0.0, 0.0, 6.0])  # same layer, other module, but 6 mm off in z
    same_module = track[6] + 1.5 * direction  # close, but on the partner's own module
    positions = np.vstack([track, double, off, same_module])
    layer = np.r_[np.arange(8), 3, 5, 6]
    module = np.r_[np.arange(8) * 10, 31, 51, 60]
    track_of_hit = np.r_[np.ones(8, dtype=np.int64), 0, 0, 0]
    sigma_z, sigma_r = hit_sigmas(np.full(len(positions), 8))
    out = attach_double_hits(
        positions,
        layer,
        module,
        track_of_hit,
        sigma_z,
        sigma_r,
        max_distance_mm=10.0,
        max_residual_mm=0.5,
        max_pull_z=5.5,
    )
    assert out[:8].tolist() == [1] * 8  # the track's own hits are untouched
    assert out[8] == 1  # the double hit joined
    assert out[9] == 0  # off the helix in z: 60 sigma of a pixel hit
    assert out[10] == 0  # same module as its neighbour: not a double hit


def test_nothing_to_attach_leaves_the_assignment_alone() -> None:
    positions = _track()
    track_of_hit = np.zeros(8, dtype=np.int64)
    sigma_z, sigma_r = hit_sigmas(np.full(8, 8))
    out = attach_double_hits(
        positions,
        np.arange(8),
        np.arange(8),
        track_of_hit,
        sigma_z,
        sigma_r,
        max_distance_mm=10.0,
        max_residual_mm=0.5,
        max_pull_z=5.5,
    )
    assert out.tolist() == [0] * 8
