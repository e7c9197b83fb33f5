"""The extension loop with an exact toy extender: branching, beam, holes via t2, ends."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tracknet.building.builder import ExtensionConfig, Spheres, extend_seeds
from tracknet.building.geometry import Envelope
from tracknet.building.selection import SelectionConfig, select_tracks

STEP_MM = 30.0


class LinearExtender:
    """Predicts straight on with the last step: exact for the equally spaced lines below.

    Like StepAhead TrackNET it is fed the t1 centre in place of a missing hit, so its state
    after a hole is (t1 centre, t2 hit): the test checks the loop hands the right points.
    """

    def __init__(self, r1: float = 3.0, r2: float = 5.0) -> None:
        self.r1, self.r2 = r1, r2
        self.fed: list[np.ndarray] = []

    def _spheres(self, prev: np.ndarray, last: np.ndarray) -> Spheres:
        step = last - prev
        n = len(last)
        return Spheres(last + step, np.full(n, self.r1), last + 2 * step, np.full(n, self.r2))

    def start(self, seed_positions: np.ndarray, seed_layers: np.ndarray) -> tuple[Any, Spheres]:
        state = (seed_positions[:, -2].copy(), seed_positions[:, -1].copy())
        return state, self._spheres(*state)

    def advance(self, state, parents, hit_positions, hit_layers, hole_positions, has_hole):  # type: ignore[no-untyped-def]
        prev, last = state[0][parents], state[1][parents]
        prev = np.where(has_hole[:, None], hole_positions, last)
        self.fed.append(np.where(has_hole[:, None], hole_positions, np.nan))
        new = (prev, hit_positions.copy())
        return new, self._spheres(*new)


def lines(n_tracks: int = 6, n_hits: int = 8) -> np.ndarray:
    """``(n_tracks, n_hits, 3)`` straight tracks from the origin, hits every STEP_MM."""
    angles = np.linspace(0.0, 2 * np.pi, n_tracks, endpoint=False)
    direction = np.column_stack([np.cos(angles), np.sin(angles), 0.3 * np.ones(n_tracks)])
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    steps = STEP_MM * np.arange(1, n_hits + 1)
    return direction[:, None, :] * steps[None, :, None]


def run(
    positions: np.ndarray,
    seeds: np.ndarray,
    config: ExtensionConfig,
    extender: LinearExtender | None = None,
):  # type: ignore[no-untyped-def]
    extender = extender or LinearExtender()
    keys = np.zeros(len(positions), dtype=np.int64)
    envelope = Envelope.from_positions(positions, margin_mm=5.0)
    available = np.ones(len(positions), dtype=bool)
    return extend_seeds(extender, positions, keys, seeds, available, envelope, config)


def test_whole_tracks_are_followed_to_the_edge() -> None:
    tracks = lines()
    positions = tracks.reshape(-1, 3)
    rows = np.arange(len(positions)).reshape(tracks.shape[:2])
    stats: dict[str, int] = {}
    keys = np.zeros(len(positions), dtype=np.int64)
    candidates = extend_seeds(
        LinearExtender(),
        positions,
        keys,
        rows[:, :3],
        np.ones(len(positions), bool),
        Envelope.from_positions(positions, 5.0),
        ExtensionConfig(skip_branches=False),
        stats=stats,
    )
    assert candidates.n_candidates == len(tracks)
    for c in range(candidates.n_candidates):
        n = candidates.n_hits[c]
        np.testing.assert_array_equal(candidates.paths[c, :n], rows[candidates.seed[c]])
    assert np.all(candidates.misses == 0)
    np.testing.assert_allclose(candidates.cost, 0.0, atol=1e-9)
    # The last prediction lies outside the envelope: the candidates end after 5 steps.
    assert stats["steps"] == 6 and stats["live_max"] == len(tracks)


def test_a_hole_is_skipped_with_the_t2_sphere() -> None:
    tracks = lines(n_tracks=3)
    positions = tracks.reshape(-1, 3)
    rows = np.arange(len(positions)).reshape(tracks.shape[:2])
    missing = rows[1, 4]
    available = np.ones(len(positions), dtype=bool)
    available[missing] = False  # the detector lost this hit
    extender = LinearExtender()
    keys = np.zeros(len(positions), dtype=np.int64)
    candidates = extend_seeds(
        extender,
        positions,
        keys,
        rows[:, :3],
        available,
        Envelope.from_positions(positions, 5.0),
        ExtensionConfig(max_misses=1, miss_penalty=2.0, skip_branches=False),
    )
    of_seed = np.flatnonzero(candidates.seed == 1)
    hole_track = int(of_seed[np.argmax(candidates.n_hits[of_seed])])
    n = candidates.n_hits[hole_track]
    assert candidates.paths[hole_track, :n].tolist() == [r for r in rows[1] if r != missing]
    # The candidate also ended where its next hit was missing: the track may end there.
    short = of_seed[candidates.n_hits[of_seed] == 4]
    assert len(short) == 1 and candidates.misses[short[0]] == 0
    assert candidates.paths[short[0], :4].tolist() == rows[1, :4].tolist()
    assert candidates.misses[hole_track] == 1
    assert candidates.cost[hole_track] == pytest.approx(2.0)  # the miss penalty; distances are 0
    # The model-like extender was fed the predicted t1 centre (the missing hit's place).
    fed = np.concatenate(extender.fed)
    fed = fed[~np.isnan(fed[:, 0])]
    np.testing.assert_allclose(fed, positions[missing][None, :])
    # Two holes in a row are too many: the candidate ends before them.
    available[rows[1, 5]] = False
    candidates = extend_seeds(
        LinearExtender(),
        positions,
        keys,
        rows[:, :3],
        available,
        Envelope.from_positions(positions, 5.0),
        ExtensionConfig(max_misses=1, min_hits=3, skip_branches=False),
    )
    short = int(np.flatnonzero(candidates.seed == 1)[0])
    assert candidates.paths[short, : candidates.n_hits[short]].tolist() == rows[1, :4].tolist()
    # With max_misses=0 a single hole ends the candidate too.
    available[rows[1, 5]] = True
    candidates = extend_seeds(
        LinearExtender(),
        positions,
        keys,
        rows[:, :3],
        available,
        Envelope.from_positions(positions, 5.0),
        ExtensionConfig(max_misses=0, min_hits=3, skip_branches=False),
    )
    short = int(np.flatnonzero(candidates.seed == 1)[0])
    assert candidates.n_hits[short] == 4


def test_branching_beam_and_selection_keep_the_true_hit() -> None:
    tracks = lines(n_tracks=2)
    positions = tracks.reshape(-1, 3)
    rows = np.arange(len(positions)).reshape(tracks.shape[:2])
    # A decoy 2 mm from the true 5th hit of track 0 (inside the 3 mm sphere, farther out).
    decoy = positions[rows[0, 4]] + np.array([0.0, 0.0, 2.0])
    positions = np.vstack([positions, decoy])
    decoy_row = len(positions) - 1
    wide = run(
        positions,
        rows[:, :3],
        ExtensionConfig(beam_width=3, max_branches=2, min_hits=3, skip_branches=False),
    )
    # Track 0 branched: one candidate through the true hit, one through the decoy.
    zero = np.flatnonzero(wide.seed == 0)
    holds_decoy = [(wide.paths[c] == decoy_row).any() for c in zero]
    assert len(zero) >= 2 and any(holds_decoy) and not all(holds_decoy)
    chosen = select_tracks(wide, len(positions), SelectionConfig(min_hits=3))
    best = chosen.track_of_hit[rows[0]]
    assert len(set(best.tolist())) == 1 and best[0] > 0  # the true track, whole
    assert chosen.track_of_hit[decoy_row] == 0
    # A beam of one keeps only the cheaper branch.
    narrow = run(
        positions,
        rows[:, :3],
        ExtensionConfig(beam_width=1, max_branches=2, min_hits=3, skip_branches=False),
    )
    assert (narrow.seed == 0).sum() == 1
    assert not (narrow.paths[narrow.seed == 0] == decoy_row).any()


def test_own_hits_are_never_reused() -> None:
    tracks = lines(n_tracks=2, n_hits=6)
    positions = tracks.reshape(-1, 3)
    rows = np.arange(len(positions)).reshape(tracks.shape[:2])
    # Huge spheres: the candidate's own hits are always inside, and always excluded.
    candidates = run(
        positions,
        rows[:, :3],
        ExtensionConfig(min_hits=3, max_hits=12),
        LinearExtender(r1=500.0, r2=500.0),
    )
    for c in range(candidates.n_candidates):
        path = candidates.paths[c, : candidates.n_hits[c]]
        assert len(set(path.tolist())) == len(path)
    assert candidates.n_hits.max() <= 12


def test_skip_branches_bridge_a_hole_that_holds_a_wrong_hit() -> None:
    """The true 5th hit is lost and a wrong hit sits in the (too large) t1 sphere."""
    tracks = lines(n_tracks=2)
    positions = tracks.reshape(-1, 3)
    rows = np.arange(len(positions)).reshape(tracks.shape[:2])
    decoy = positions[rows[0, 4]] + np.array([0.0, 0.0, 2.5])
    positions = np.vstack([positions, decoy])
    available = np.ones(len(positions), dtype=bool)
    available[rows[0, 4]] = False
    keys = np.zeros(len(positions), dtype=np.int64)
    envelope = Envelope.from_positions(positions, 5.0)
    expected = [r for r in rows[0] if r != rows[0, 4]]
    results = {}
    for skip in (False, True):
        candidates = extend_seeds(
            LinearExtender(),
            positions,
            keys,
            rows[:, :3],
            available,
            envelope,
            ExtensionConfig(skip_branches=skip, miss_penalty=0.5, min_hits=3),
        )
        chosen = select_tracks(candidates, len(positions), SelectionConfig(min_hits=3))
        track = chosen.track_of_hit[expected[0]]
        results[skip] = sorted(np.flatnonzero(chosen.track_of_hit == track).tolist())
    # Without skip branches the decoy is taken and the track is lost after it (the
    # straight-on prediction from the decoy misses the next hits); with them the hole
    # child (cost 0.5 + 0) beats the decoy and the track is found whole but for the hole.
    assert results[True] == sorted(int(r) for r in expected)
    assert len(positions) - 1 in results[False]
