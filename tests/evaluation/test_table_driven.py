"""Table-driven tests: hand-made submissions with the score and rates worked out by hand.

The event is :data:`tests.evaluation.tables.TRUTH` (see its docstring): particles
A=1 (hits 1-4, 0.1 each), B=2 (5-8, 0.05 each), C=3 (9-11, 0.1 each), D=4 (12-13,
0.05 each; only 2 hits, never selected), noise hits 14-16; weights sum to 1.
Tracks are written ``{track_id: hits}``. "long" means at least ``min_track_hits`` hits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.tables import PARTICLES, TRUTH, submission, truth_table
from tracknet.errors import DataError
from tracknet.evaluation import (
    ParticleSelection,
    TrackingMetrics,
    aggregate,
    match_tracks,
    names,
    trackml_score,
)


@dataclass(frozen=True)
class Case:
    """One hand-worked submission: its tracks and every expected figure."""

    name: str
    tracks: dict[int, tuple[int, ...]]
    score: float
    efficiency: float
    perfect_efficiency: float
    fake_rate: float
    duplicate_rate: float
    # n_particles, n_found, n_perfect, n_tracks, n_fake, n_matched, n_duplicate
    counts: tuple[int, int, int, int, int, int, int]
    selection: ParticleSelection = field(default_factory=ParticleSelection)
    min_track_hits: int = 3


PERFECT = {10: (1, 2, 3, 4), 20: (5, 6, 7, 8), 30: (9, 10, 11), 40: (12, 13)}
DUPLICATES = {10: (1, 2, 14), 11: (3, 4, 15), 20: (5, 6, 7, 8), 30: (9, 10, 11, 12, 13)}

CASES = [
    # Every particle in its own track. Score (0.4 + 0.2 + 0.3 + 0.1) / 1 = 1.
    # Track 40 (D) has 2 hits < 3: ignored by the metrics. Selected A, B, C all found
    # and perfect: 3/3; considered tracks 10, 20, 30: no fake, no duplicate.
    Case("perfect", PERFECT, 1.0, 3 / 3, 3 / 3, 0 / 3, 0 / 3, (3, 3, 3, 3, 0, 3, 0)),
    # Nothing submitted: score 0, efficiency 0/3; no track, so fake and duplicate 0.0.
    Case("empty", {}, 0.0, 0 / 3, 0 / 3, 0.0, 0.0, (3, 0, 0, 0, 0, 0, 0)),
    # Tracks 10 and 20 hold 2 hits of A and 2 of B: a tie, majority A (smaller id) with
    # exactly 50% of the track: not good, not matched (fake). Track 30 is C: 0.3.
    # Efficiency 1/3 (C), perfect 1/3, fakes 2 of 3 tracks, duplicates 0 of 1.
    Case(
        "exactly 50%",
        {10: (1, 2, 5, 6), 20: (3, 4, 7, 8), 30: (9, 10, 11)},
        0.3,
        1 / 3,
        1 / 3,
        2 / 3,
        0 / 1,
        (3, 1, 1, 3, 2, 1, 0),
    ),
    # Track 10 = A, B, noise, one hit each: the tie goes to the smallest id, noise (0):
    # a fake. Track 20 = A A A B B: A holds 3/5 of the track and 3/4 of A: good, 0.3.
    # Track 30 = C C C D D: C holds 3/5 and 3/3 of C: good, 0.3 (not perfect).
    # Score 0.6; efficiency 2/3 (A, C); perfect 0/3; fake 1/3; duplicates 0/2.
    Case(
        "majority ties",
        {10: (1, 5, 14), 20: (2, 3, 4, 6, 7), 30: (9, 10, 11, 12, 13)},
        0.6,
        2 / 3,
        0 / 3,
        1 / 3,
        0 / 2,
        (3, 2, 0, 3, 1, 2, 0),
    ),
    # B B D D: tie between B and D goes to B, at exactly 50%: not good, a fake.
    Case(
        "tie of two particles",
        {40: (7, 8, 12, 13)},
        0.0,
        0 / 3,
        0 / 3,
        1 / 1,
        0.0,
        (3, 0, 0, 1, 1, 0, 0),
    ),
    # 10 = A A A (3/4 of A): good 0.3. 11 = A and 20 = B B: short tracks, ignored by the
    # metrics (and not good: 1/4 and 2/4 of the particle). 21 = B B noise: matched
    # (2/3 of the track) but only 50% of B: not found. 30 = C C noise: 2/3 of C, good 0.2.
    # 31 = C D D: D holds 2/3 of the track and 2/2 of D: good 0.1; matched but D is not
    # selected, so not considered. Score 0.3 + 0.2 + 0.1 = 0.6. Efficiency 2/3 (A, C),
    # perfect 0/3, considered tracks 10, 21, 30: no fake, no duplicate (A, B, C distinct).
    Case(
        "split",
        {10: (1, 2, 3), 11: (4,), 20: (5, 6), 21: (7, 8, 15), 30: (9, 10, 14), 31: (11, 12, 13)},
        0.6,
        2 / 3,
        0 / 3,
        0 / 3,
        0 / 3,
        (3, 2, 0, 3, 0, 3, 0),
    ),
    # 10 = A A noise and 11 = A A noise: both matched to A, neither holds more than half
    # of A (not good, A not found). 20 = B perfect: 0.2. 30 = C C C D D: good 0.3.
    # Score 0.5. Efficiency 2/3 (B, C), perfect 1/3 (B). Four matched tracks of selected
    # particles, three distinct particles: 1 duplicate, rate 1/4. No fake.
    Case("duplicates", DUPLICATES, 0.5, 2 / 3, 1 / 3, 0 / 4, 1 / 4, (3, 2, 1, 4, 0, 4, 1)),
    # The same with min_pt = 1 GeV: B (0.5 GeV) is not selected, so track 20 (matched to
    # B) is not considered. Selected A, C: efficiency 1/2 (C), perfect 0/2. Considered
    # tracks 10, 11, 30: no fake; matched selected 3, distinct 2: duplicates 1/3.
    # The score does not depend on the selection: still 0.5.
    Case(
        "duplicates, pT >= 1",
        DUPLICATES,
        0.5,
        1 / 2,
        0 / 2,
        0 / 3,
        1 / 3,
        (2, 1, 0, 3, 0, 3, 1),
        selection=ParticleSelection(min_pt=1.0),
    ),
    # |eta| <= 1: pz/pt = 0 (A), 2 (B, eta 1.44), -2 (C, eta -1.44): only A selected.
    Case(
        "perfect, |eta| <= 1",
        PERFECT,
        1.0,
        1 / 1,
        1 / 1,
        0 / 1,
        0 / 1,
        (1, 1, 1, 1, 0, 1, 0),
        selection=ParticleSelection(max_abs_eta=1.0),
    ),
    # min_track_hits = 4: only tracks 10 (A) and 20 (B) are long; C is not found.
    Case(
        "perfect, min_track_hits 4",
        PERFECT,
        1.0,
        2 / 3,
        2 / 3,
        0 / 2,
        0 / 2,
        (3, 2, 2, 2, 0, 2, 0),
        min_track_hits=4,
    ),
    # min_track_hits = 5: no track is long enough; nothing found, no track considered.
    Case(
        "perfect, min_track_hits 5",
        PERFECT,
        1.0,
        0 / 3,
        0 / 3,
        0.0,
        0.0,
        (3, 0, 0, 0, 0, 0, 0),
        min_track_hits=5,
    ),
    # Track ids 0 and -5 are tracks for the score (A: 0.4, C: 0.3, plus B: 0.2 = 0.9)
    # but "no track" for the metrics: only B is found, 1/3; one considered track.
    Case(
        "track id 0",
        {0: (1, 2, 3, 4), -5: (9, 10, 11), 20: (5, 6, 7, 8)},
        0.9,
        1 / 3,
        1 / 3,
        0 / 1,
        0 / 1,
        (3, 1, 1, 1, 0, 1, 0),
    ),
    # min_hits = 2 also selects D (2 hits), found by track 40 if min_track_hits = 2.
    Case(
        "perfect, two-hit particles",
        PERFECT,
        1.0,
        4 / 4,
        4 / 4,
        0 / 4,
        0 / 4,
        (4, 4, 4, 4, 0, 4, 0),
        selection=ParticleSelection(min_hits=2),
        min_track_hits=2,
    ),
]


def _check(case: Case, truth: pd.DataFrame, particles: pd.DataFrame | None) -> None:
    sub = submission(case.tracks)
    assert trackml_score(truth, sub) == pytest.approx(case.score, abs=1e-12)
    result = match_tracks(truth, sub, particles, case.selection, min_track_hits=case.min_track_hits)
    m = result.metrics
    expected = {
        "efficiency": case.efficiency,
        "perfect_efficiency": case.perfect_efficiency,
        "fake_rate": case.fake_rate,
        "duplicate_rate": case.duplicate_rate,
    }
    got = {key: getattr(m, key) for key in expected}
    assert got == pytest.approx(expected, abs=1e-12, nan_ok=True)
    counts = (
        m.n_particles,
        m.n_found,
        m.n_perfect,
        m.n_tracks,
        m.n_fake,
        m.n_matched,
        m.n_duplicate,
    )
    assert counts == case.counts


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    _check(case, TRUTH, PARTICLES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_independent_of_row_order(case: Case) -> None:
    """Shuffling the truth and particle rows changes nothing."""
    rng = np.random.default_rng(5)
    _check(
        case, TRUTH.sample(frac=1.0, random_state=rng), PARTICLES.sample(frac=1.0, random_state=rng)
    )


def test_all_noise_event() -> None:
    # Four noise hits of weight 0: the total weight is 0, so the score is 0.0. No particle
    # to find: efficiencies NaN. The one long track (noise majority) is a fake: 1/1.
    truth = truth_table([(h, 0, 0.0) for h in (1, 2, 3, 4)])
    sub = submission({1: (1, 2, 3)})
    assert trackml_score(truth, sub) == 0.0
    m = match_tracks(truth, sub).metrics
    assert math.isnan(m.efficiency) and math.isnan(m.perfect_efficiency)
    assert (m.fake_rate, m.duplicate_rate, m.n_particles, m.n_tracks, m.n_fake) == (
        1.0,
        0.0,
        0,
        1,
        1,
    )
    as_dict = m.to_dict()
    assert as_dict[names.EFFICIENCY] is None
    json.dumps(as_dict)


def test_reserved_negative_ids_are_not_particles() -> None:
    # Particle 5: hits 1-3 (1/3 each). Unlabelled (-1): hits 4-7, weight 0.
    # Track 1 = particle 5: good, score 1/1. Track 2 = four unlabelled hits: majority -1
    # (not a real particle): unmatched, a fake; -1 is not a particle to find.
    # Efficiency 1/1, fake 1/2.
    truth = truth_table([(h, 5, 1 / 3) for h in (1, 2, 3)] + [(h, -1, 0.0) for h in (4, 5, 6, 7)])
    sub = submission({1: (1, 2, 3), 2: (4, 5, 6, 7)})
    assert trackml_score(truth, sub) == pytest.approx(1.0, abs=1e-12)
    result = match_tracks(truth, sub)
    assert result.per_particle["particle_id"].tolist() == [5]
    assert (result.metrics.efficiency, result.metrics.fake_rate) == (1.0, 0.5)
    track = result.per_track.set_index("track_id").loc[2]
    assert track["majority_particle_id"] == -1 and not track["matched"] and track["fake"]


def test_per_track_and_per_particle_tables() -> None:
    result = match_tracks(TRUTH, submission(DUPLICATES), PARTICLES)
    tracks = result.per_track.set_index("track_id")
    assert tracks["majority_particle_id"].to_dict() == {10: 1, 11: 1, 20: 2, 30: 3}
    assert tracks["n_majority"].to_dict() == {10: 2, 11: 2, 20: 4, 30: 3}
    assert tracks["double_majority"].to_dict() == {10: False, 11: False, 20: True, 30: True}
    assert tracks["perfect"].to_dict() == {10: False, 11: False, 20: True, 30: False}
    parts = result.per_particle.set_index("particle_id")
    assert list(result.per_particle.columns[:6]) == [
        "particle_id",
        "pt",
        "eta",
        "vr",
        "vz",
        "nhits",
    ]
    assert parts["nhits"].to_dict() == {1: 4, 2: 4, 3: 3, 4: 2}
    assert parts["selected"].to_dict() == {1: True, 2: True, 3: True, 4: False}
    assert parts["found"].to_dict() == {1: False, 2: True, 3: True, 4: False}
    assert parts["n_matched_tracks"].to_dict() == {1: 2, 2: 1, 3: 1, 4: 0}
    np.testing.assert_allclose(parts["pt"], [2.0, 0.5, 1.5, 3.0])
    np.testing.assert_allclose(parts["eta"], np.arcsinh([0.0, 2.0, -2.0, 0.5 / 3.0]))


def test_tie_majority_is_the_smallest_id() -> None:
    tracks = match_tracks(TRUTH, submission({40: (7, 8, 12, 13), 50: (14, 9, 1)})).per_track
    assert tracks.set_index("track_id")["majority_particle_id"].to_dict() == {40: 2, 50: 0}


@pytest.mark.parametrize("scorer", ["score", "match"])
def test_submission_hit_not_in_truth(scorer: str) -> None:
    sub = pd.DataFrame({"hit_id": [1, 2, 99, 98], "track_id": [1, 1, 1, 1]})
    with pytest.raises(DataError) as info:
        trackml_score(TRUTH, sub) if scorer == "score" else match_tracks(TRUTH, sub)
    assert info.value.column == "hit_id" and info.value.row == 2
    assert "99" in str(info.value)


@pytest.mark.parametrize("scorer", ["score", "match"])
def test_duplicate_submission_hit(scorer: str) -> None:
    sub = pd.DataFrame({"hit_id": [1, 2, 3, 2], "track_id": [1, 1, 2, 2]})
    with pytest.raises(DataError) as info:
        trackml_score(TRUTH, sub) if scorer == "score" else match_tracks(TRUTH, sub)
    assert info.value.column == "hit_id" and info.value.row == 3


def test_missing_columns_and_bad_values() -> None:
    with pytest.raises(DataError, match="track_id"):
        trackml_score(TRUTH, pd.DataFrame({"hit_id": [1]}))
    with pytest.raises(DataError, match="whole numbers"):
        trackml_score(TRUTH, pd.DataFrame({"hit_id": [1.5], "track_id": [1]}))
    with pytest.raises(DataError) as info:
        trackml_score(TRUTH.assign(weight=-TRUTH["weight"]), submission(PERFECT))
    assert info.value.column == "weight"
    # Whole-number floats are accepted.
    sub = submission(PERFECT).astype({"hit_id": "float64"})
    assert trackml_score(TRUTH, sub) == pytest.approx(1.0)


def test_kinematic_cut_without_particles_table() -> None:
    with pytest.raises(DataError, match="particles"):
        match_tracks(TRUTH, submission(PERFECT), None, ParticleSelection(min_pt=1.0))


def test_aggregate_pools_counts() -> None:
    # perfect: 3 found of 3, 3 tracks; duplicates: 2 of 3, 4 tracks, 1 duplicate of 4.
    # Pooled: efficiency (3 + 2) / (3 + 3) = 5/6, perfect (3 + 1) / 6, fake 0 / 7,
    # duplicates (0 + 1) / (3 + 4) = 1/7.
    one = match_tracks(TRUTH, submission(PERFECT), PARTICLES).metrics
    two = match_tracks(TRUTH, submission(DUPLICATES), PARTICLES).metrics
    pooled = aggregate([one, two])
    assert pooled == TrackingMetrics(
        efficiency=5 / 6,
        perfect_efficiency=4 / 6,
        fake_rate=0 / 7,
        duplicate_rate=1 / 7,
        n_particles=6,
        n_found=5,
        n_perfect=4,
        n_tracks=7,
        n_fake=0,
        n_matched=7,
        n_duplicate=1,
        n_events=2,
    )
    as_dict = pooled.to_dict()
    assert list(as_dict) == [n for n in names.METRIC_NAMES if n != names.TRACKML_SCORE]
    assert json.loads(json.dumps(as_dict))[names.N_EVENTS] == 2
