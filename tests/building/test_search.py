"""Per-query-radius neighbour search against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from tracknet.building.search import HitIndex, Neighbours
from tracknet.errors import ConfigError, DataError


def _brute_force(
    points: np.ndarray, centres: np.ndarray, radii: np.ndarray
) -> set[tuple[int, int]]:
    distance = np.linalg.norm(centres[:, None, :] - points[None, :, :], axis=2)
    q, h = np.nonzero(distance <= radii[:, None])
    return set(zip(q.tolist(), h.tolist(), strict=True))


@pytest.fixture
def cloud() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    points = rng.uniform(-100.0, 100.0, size=(2000, 3))
    centres = rng.uniform(-110.0, 110.0, size=(300, 3))
    radii = rng.uniform(0.0, 25.0, size=300)
    radii[:10] = 0.0  # degenerate spheres hold nothing (unless a point sits on the centre)
    return points, centres, radii


def test_ball_matches_brute_force(cloud: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    points, centres, radii = cloud
    found = HitIndex(points).ball(centres, radii)
    assert set(zip(found.query.tolist(), found.hit.tolist(), strict=True)) == _brute_force(
        points, centres, radii
    )
    # Flat, sorted by (query, distance), distances exact.
    assert np.all(np.diff(found.query) >= 0)
    same = found.query[1:] == found.query[:-1]
    assert np.all(np.diff(found.distance)[same] >= 0)
    np.testing.assert_allclose(
        found.distance, np.linalg.norm(points[found.hit] - centres[found.query], axis=1)
    )
    assert np.all(found.distance <= radii[found.query])


def test_nearest_is_the_k_closest_inside_each_sphere(
    cloud: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    points, centres, radii = cloud
    k = 3
    found = HitIndex(points, workers=2).nearest(centres, radii, k)
    distance = np.linalg.norm(centres[:, None, :] - points[None, :, :], axis=2)
    expected: set[tuple[int, int]] = set()
    for q in range(len(centres)):  # brute-force reference; the index itself is vectorised
        inside = np.flatnonzero(distance[q] <= radii[q])
        closest = inside[np.argsort(distance[q, inside], kind="stable")][:k]
        expected |= {(q, int(h)) for h in closest}
    assert set(zip(found.query.tolist(), found.hit.tolist(), strict=True)) == expected
    assert np.all(found.counts(len(centres)) <= k)


def test_radius_boundary_is_inclusive() -> None:
    points = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [6.0, 8.0, 0.0]])
    centres = np.zeros((1, 3))
    for result in (HitIndex(points).ball(centres, 5.0), HitIndex(points).nearest(centres, 5.0, 5)):
        assert result.hit.tolist() == [0, 1]
        np.testing.assert_allclose(result.distance, [0.0, 5.0])


def test_empty_inputs_and_bad_arguments() -> None:
    empty = HitIndex(np.zeros((0, 3)))
    assert len(empty.ball(np.zeros((4, 3)), 1.0).hit) == 0
    assert len(empty.nearest(np.zeros((4, 3)), 1.0, 2).hit) == 0
    index = HitIndex(np.zeros((3, 3)))
    assert len(index.ball(np.zeros((0, 3)), np.zeros(0)).query) == 0
    assert Neighbours.empty().counts(2).tolist() == [0, 0]
    with pytest.raises(DataError, match="radii"):
        index.ball(np.zeros((1, 3)), -1.0)
    with pytest.raises(DataError, match="centres"):
        index.nearest(np.full((1, 3), np.nan), 1.0, 1)
    with pytest.raises(ConfigError, match="k must be"):
        index.nearest(np.zeros((1, 3)), 1.0, 0)
    with pytest.raises(DataError, match="shape"):
        HitIndex(np.zeros((3, 2)))
