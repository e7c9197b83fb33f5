"""Selection: quality order, duplicates, shared hits; equal to a plain sequential greedy pass."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracknet.building.builder import Candidates
from tracknet.building.selection import SelectionConfig, candidate_order, select_tracks
from tracknet.errors import ConfigError


def make_candidates(
    paths: list[list[int]], costs: list[float], width: int = 8, seed_size: int = 0
) -> Candidates:
    matrix = np.full((len(paths), width), -1, dtype=np.int64)
    for i, p in enumerate(paths):
        matrix[i, : len(p)] = p
    n = np.array([len(p) for p in paths], dtype=np.int64)
    return Candidates(
        paths=matrix,
        n_hits=n,
        cost=np.asarray(costs, dtype=np.float64) * np.maximum(n - seed_size, 1),
        misses=np.zeros(len(paths), dtype=np.int64),
        seed=np.arange(len(paths), dtype=np.int64),
        n_seed_hits=seed_size,
    )


def tracks_of(track_of_hit: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for hit, track in enumerate(track_of_hit.tolist()):
        if track > 0:
            out.setdefault(track, []).append(hit)
    return out


def test_table_of_conflicts() -> None:
    candidates = make_candidates(
        [
            [0, 1, 2, 3, 4],  # best: longest, cheapest
            [0, 1, 2, 3, 5],  # duplicate: shares 4 of 5 hits -> dropped
            [6, 7, 8, 4],  # shares 1 of 4 -> stripped to 3 hits -> below min_hits 4 -> dropped
            [9, 10, 11, 12],  # free
            [13, 14, 15, 16, 17],  # as long as the best but costlier: ranked second
        ],
        [0.1, 0.2, 0.1, 0.3, 0.5],
    )
    assert candidate_order(candidates).tolist() == [0, 1, 4, 2, 3]
    chosen = select_tracks(candidates, 20, SelectionConfig(min_hits=4))
    assert tracks_of(chosen.track_of_hit) == {
        1: [0, 1, 2, 3, 4],
        2: [13, 14, 15, 16, 17],
        3: [9, 10, 11, 12],
    }
    assert chosen.candidate.tolist() == [0, 4, 3] and chosen.n_hits.tolist() == [5, 5, 4]
    # With min_hits 3 the stripped candidate survives without the shared hit.
    chosen = select_tracks(candidates, 20, SelectionConfig(min_hits=3))
    assert tracks_of(chosen.track_of_hit)[3] == [6, 7, 8]
    # A hit taken by an earlier stage counts as shared.
    taken = np.zeros(20, dtype=bool)
    taken[9] = True
    chosen = select_tracks(candidates, 20, SelectionConfig(min_hits=4), taken=taken)
    assert chosen.track_of_hit[9] == 0 and chosen.n_tracks == 2
    # Quality cut on the mean cost.
    chosen = select_tracks(candidates, 20, SelectionConfig(min_hits=4, max_mean_cost=0.4))
    assert chosen.candidate.tolist() == [0, 3]


def test_no_candidates_and_config_errors() -> None:
    empty = Candidates.empty(6)
    chosen = select_tracks(empty, 5)
    assert chosen.n_tracks == 0 and chosen.track_of_hit.tolist() == [0] * 5
    with pytest.raises(ConfigError, match="min_hits"):
        SelectionConfig(min_hits=0)
    with pytest.raises(ConfigError, match="max_shared_fraction"):
        SelectionConfig(max_shared_fraction=1.0)
    with pytest.raises(ConfigError, match="max_mean_cost"):
        SelectionConfig(max_mean_cost=-1.0)


def sequential_greedy(
    candidates: Candidates, n_hits: int, config: SelectionConfig
) -> list[list[int]]:
    """Reference: one candidate at a time, in quality order (plain Python, for tests only)."""
    owner = [False] * n_hits
    accepted = []
    keep = candidates.n_hits >= config.min_hits
    for c in candidate_order(candidates):
        if not keep[c]:
            continue
        hits = [int(h) for h in candidates.paths[c, : candidates.n_hits[c]]]
        shared = sum(owner[h] for h in hits)
        if shared > config.max_shared_fraction * len(hits):
            continue
        left = [h for h in hits if not owner[h]]
        if len(left) < config.min_hits:
            continue
        for h in left:
            owner[h] = True
        accepted.append(sorted(left))
    return accepted


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.lists(st.integers(0, 24), min_size=1, max_size=7, unique=True), st.floats(0.0, 2.0)
        ),
        min_size=1,
        max_size=25,
    ),
    min_hits=st.integers(1, 4),
    fraction=st.sampled_from([0.0, 0.25, 0.5, 0.75]),
)
def test_rounds_equal_the_sequential_greedy_pass(data, min_hits, fraction) -> None:  # type: ignore[no-untyped-def]
    candidates = make_candidates([p for p, _ in data], [c for _, c in data])
    config = SelectionConfig(min_hits=min_hits, max_shared_fraction=fraction)
    chosen = select_tracks(candidates, 25, config)
    expected = sequential_greedy(candidates, 25, config)
    got = tracks_of(chosen.track_of_hit)
    assert [got[k] for k in sorted(got)] == expected
    # Each hit at most once, by construction of the output, and counts agree.
    assert chosen.n_tracks == len(expected)
