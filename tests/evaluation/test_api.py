"""The rest of the public API: weight options of the score, names, binning, selections."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event
from tests.evaluation.tables import PARTICLES, TRUTH, submission
from tracknet.errors import ConfigError, DataError
from tracknet.evaluation import (
    ParticleSelection,
    compute_hit_weights,
    efficiency_binned,
    evaluate_event,
    evaluate_events,
    match_tracks,
    names,
    trackml_score,
    trackml_score_events,
)

PERFECT = {10: (1, 2, 3, 4), 20: (5, 6, 7, 8), 30: (9, 10, 11), 40: (12, 13)}
DUPLICATES = {10: (1, 2, 14), 11: (3, 4, 15), 20: (5, 6, 7, 8), 30: (9, 10, 11, 12, 13)}


def test_score_min_pt_zeroes_soft_particles() -> None:
    # DUPLICATES scores 0.2 (B) + 0.3 (C) = 0.5. With min_pt = 1 GeV the weight of B
    # (0.5 GeV) is zeroed: total 0.4 + 0.3 + 0.1 = 0.8, found 0.3, score 0.3 / 0.8.
    assert trackml_score(
        TRUTH, submission(DUPLICATES), particles=PARTICLES, min_pt=1.0
    ) == pytest.approx(0.375)
    # A particle absent from the particles table has no pT: its weight is zeroed too.
    # Without D (0.1): total 0.7, found 0.3 (C).
    without_d = PARTICLES[PARTICLES["particle_id"] != 4]
    assert trackml_score(
        TRUTH, submission(DUPLICATES), particles=without_d, min_pt=1.0
    ) == pytest.approx(0.3 / 0.7)
    with pytest.raises(DataError, match="particles"):
        trackml_score(TRUTH, submission(DUPLICATES), min_pt=1.0)


def test_score_weight_sources() -> None:
    sub = submission({10: (1, 2, 3, 4)})  # only A found
    # Given weights: A's four hits weigh 1 each of a total of 16.
    assert trackml_score(TRUTH, sub, weights=np.ones(len(TRUTH))) == pytest.approx(4 / 16)
    with pytest.raises(DataError, match="16 truth rows"):
        trackml_score(TRUTH, sub, weights=np.ones(3))
    # Computed weights, on request or when the column is missing: A (2 GeV: pT factor
    # 0.2 + 0.8 * 1.5 / 2.5 = 0.68) and B (0.5 GeV: 0.2) have nhits 4, C and D have
    # nhits 4 too but 3 and 2 truth rows. A's share is 0.68 / (0.68 + 0.2 + C + D).
    computed = compute_hit_weights(TRUTH, PARTICLES)
    a_share = computed[TRUTH["particle_id"].to_numpy() == 1].sum()
    assert trackml_score(
        TRUTH, sub, particles=PARTICLES, use_computed_weights=True
    ) == pytest.approx(a_share)
    no_column = TRUTH.drop(columns="weight")
    assert trackml_score(no_column, sub, particles=PARTICLES) == pytest.approx(a_share)
    with pytest.raises(DataError, match="weight"):
        trackml_score(no_column, sub)


def test_score_events_is_the_mean() -> None:
    # 1.0 and 0.5: mean 0.75.
    pairs = [(TRUTH, submission(PERFECT)), (TRUTH, submission(DUPLICATES), PARTICLES)]
    assert trackml_score_events(pairs) == pytest.approx(0.75)
    with pytest.raises(DataError):
        trackml_score_events([])


def test_names_and_labels() -> None:
    for key in names.METRIC_NAMES:
        assert names.label(key) == names.LABELS[key]
    assert len(set(names.METRIC_NAMES)) == len(names.METRIC_NAMES)
    assert names.label("efficiency_pt1.0") == "Tracking efficiency (double majority) (pt1.0)"
    assert names.label("perfect_efficiency_x") == "Perfect-match efficiency (x)"
    assert names.label("unknown") == "unknown"


def test_efficiency_binned_by_hand() -> None:
    per_particle = pd.DataFrame(
        {
            "pt": [0.2, 0.7, 0.8, 0.9, 1.5, 5.0, np.nan, 2.5],
            "found": [True, True, False, True, True, False, True, True],
            "perfect": [False, True, False, False, True, False, True, True],
            "selected": [True, True, True, True, True, True, True, False],
        }
    )
    table = efficiency_binned(per_particle, "pt", [0.0, 0.5, 1.0, 2.0, 3.0])
    # [0, .5): 1 of 1; [.5, 1): 2 of 3; [1, 2): 1 of 1; [2, 3): empty (2.5 not selected);
    # 5.0 and NaN fall outside every bin.
    assert table["n_total"].tolist() == [1, 3, 1, 0]
    assert table["n_found"].tolist() == [1, 2, 1, 0]
    np.testing.assert_allclose(table["efficiency"][:3], [1.0, 2 / 3, 1.0])
    np.testing.assert_allclose(table["error"][:3], [0.0, math.sqrt(2 / 3 * 1 / 3 / 3), 0.0])
    assert math.isnan(table["efficiency"][3]) and math.isnan(table["error"][3])
    assert table.columns.tolist() == [
        "bin_low",
        "bin_high",
        "n_total",
        "n_found",
        "efficiency",
        "error",
    ]
    perfect = efficiency_binned(per_particle, "pt", [0.0, 1.0], numerator="perfect")
    assert perfect["n_found"].tolist() == [1]  # 0.2 no, 0.7 yes, 0.8 no, 0.9 no
    everything = efficiency_binned(per_particle, "pt", [0.0, 3.0], selected_only=False)
    assert everything["n_total"].tolist() == [6]
    with pytest.raises(ConfigError):
        efficiency_binned(per_particle, "pt", [1.0, 1.0])


def test_efficiency_binned_from_matching() -> None:
    result = match_tracks(TRUTH, submission(DUPLICATES), PARTICLES)
    # Selected A (eta 0, not found), B (eta 1.44, found), C (eta -1.44, found).
    table = efficiency_binned(result.per_particle, "eta", [-2.0, -1.0, 1.0, 2.0])
    assert table["n_total"].tolist() == [1, 1, 1]
    assert table["efficiency"].tolist() == [1.0, 0.0, 1.0]


def test_primaries_only() -> None:
    # A at vr = 0.5 mm is primary; B at vr = 5 mm and C at vz = 150 mm are not.
    particles = PARTICLES.assign(vx=[0.5, 5.0, 0.0, 0.0], vz=[0.0, 0.0, 150.0, 0.0])
    sel = ParticleSelection(primaries_only=True)
    result = match_tracks(TRUTH, submission(PERFECT), particles, sel)
    assert result.per_particle.set_index("particle_id")["selected"].to_dict() == {
        1: True,
        2: False,
        3: False,
        4: False,
    }
    assert result.metrics.n_particles == 1 and result.metrics.n_tracks == 1
    wider = ParticleSelection(
        primaries_only=True, primary_max_vr_mm=10.0, primary_max_abs_vz_mm=200.0
    )
    assert match_tracks(TRUTH, submission(PERFECT), particles, wider).metrics.n_particles == 3


def test_pt_band() -> None:
    # pT: A 2.0, B 0.5, C 1.5, D 3.0 GeV (D has 2 hits: below min_hits 3); max_pt is
    # exclusive, so a band [0.3, 1.5) keeps B only and [1.5, inf) the rest.
    def selected(sel: ParticleSelection) -> list[int]:
        per_particle = match_tracks(TRUTH, submission(PERFECT), PARTICLES, sel).per_particle
        return per_particle.loc[per_particle["selected"], "particle_id"].tolist()

    assert selected(ParticleSelection(min_pt=0.3, max_pt=1.5)) == [2]
    assert selected(ParticleSelection(min_pt=0.3, max_pt=1.6)) == [2, 3]
    assert selected(ParticleSelection(min_pt=1.5)) == [1, 3]
    assert ParticleSelection(max_pt=1.0).needs_kinematics


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_pt": -1.0},
        {"max_pt": -1.0},
        {"min_pt": 1.0, "max_pt": 1.0},
        {"min_hits": -1},
        {"min_hits": 2.5},
        {"max_abs_eta": float("nan")},
        {"primary_max_vr_mm": -1.0},
    ],
)
def test_selection_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ParticleSelection(**kwargs)


def test_min_track_hits_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        match_tracks(TRUTH, submission(PERFECT), min_track_hits=0)


def test_evaluate_event_on_a_small_event() -> None:
    event = make_small_event()  # 4 particles of 5 hits, 3 noise hits, weights sum to 1
    labelled = event.truth["particle_id"] > 0
    sub = pd.DataFrame(
        {
            "hit_id": event.truth["hit_id"][labelled],
            "track_id": event.truth["particle_id"][labelled],
        }
    )
    score, metrics, per_particle = evaluate_event(event, sub)
    assert score == pytest.approx(1.0)
    assert (metrics.n_particles, metrics.n_found, metrics.n_tracks) == (4, 4, 4)
    assert len(per_particle) == 4
    # Computed weights: every particle has pT 2 GeV (factor 0.68) and 5 hits: score 1.
    assert evaluate_event(event, sub, use_computed_weights=True).score == pytest.approx(1.0)
    # Truth without hit_id: taken from the hits.
    bare = event.with_parts(truth=event.truth.drop(columns="hit_id"))
    assert evaluate_event(bare, sub).score == pytest.approx(1.0)
    summary = evaluate_events([(event, sub), (event, sub.iloc[:0])])
    assert summary[names.TRACKML_SCORE] == pytest.approx(0.5)
    assert summary[names.EFFICIENCY] == pytest.approx(4 / 8)
    with pytest.raises(DataError, match="no truth"):
        evaluate_event(event.with_parts(truth=None), sub)
    with pytest.raises(DataError):
        evaluate_events([])
