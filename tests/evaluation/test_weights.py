"""TrackML phase-1 weights: pT factor, order factor and normalisation, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_path
from tracknet.errors import DataError
from tracknet.evaluation.weights import (
    ORDER_FACTORS,
    compute_hit_weights,
    hit_order_ranks,
    order_factor_table,
    pt_factor,
)
from tracknet.io.trackml import read_event


def one_particle(
    tz: list[float], *, nhits: int | None = None, pt: float = 10.0, vz: float = 0.0, pid: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Truth rows of one particle at the given ``tz`` and its particles row (px = pt)."""
    truth = pd.DataFrame({"hit_id": np.arange(1, len(tz) + 1), "particle_id": pid, "tz": tz})
    particles = pd.DataFrame(
        {
            "particle_id": [pid],
            "px": [pt],
            "py": [0.0],
            "vz": [vz],
            "nhits": [len(tz) if nhits is None else nhits],
        }
    )
    return truth, particles


@pytest.mark.parametrize(
    ("pt", "expected"),
    [
        (0.03, 0.0),  # below 0.05 GeV
        (0.05, 0.2),  # the first knot
        (0.2, 0.2),  # flat between 0.05 and 0.5
        (0.5, 0.2),
        (1.75, 0.2 + (1.0 - 0.2) * (1.75 - 0.5) / (3.0 - 0.5)),  # = 0.6, half way up the ramp
        (3.0, 1.0),
        (10.0, 1.0),  # flat above 3 GeV
    ],
)
def test_pt_factor(pt: float, expected: float) -> None:
    assert pt_factor(pt) == pytest.approx(expected, abs=1e-15)
    assert pt_factor(np.array([pt]))[0] == pytest.approx(expected, abs=1e-15)


def test_order_factors_n4_by_hand() -> None:
    # Proposal positions i * 3 / 8 = 0, .375, .75, 1.125, 1.5, 1.875, 2.25, 2.625, 3.
    # position 0 -> 10; 1 lies between .75 (6) and 1.125 (5): 6 - (1 - .75) / .375 = 16/3;
    # 2 lies between 1.875 (3) and 2.25 (3) -> 3; 3 -> 6. Sum 10 + 16/3 + 3 + 6 = 73/3.
    expected = np.array([30, 16, 9, 18]) / 73
    truth, particles = one_particle([40.0, 10.0, 30.0, 20.0])  # ranks 3, 0, 2, 1
    w = compute_hit_weights(truth, particles)
    np.testing.assert_allclose(w, expected[[3, 0, 2, 1]], rtol=1e-14)
    np.testing.assert_allclose(ORDER_FACTORS[4, :4], expected, rtol=1e-14)


def test_order_factors_n9_by_hand() -> None:
    # Positions i * 8 / 8 = i: the proposal values themselves, sum 49.
    expected = np.array([10, 8, 6, 5, 3, 3, 3, 5, 6]) / 49
    tz = np.arange(1.0, 10.0)[::-1]  # reversed: the last row is the first hit
    truth, particles = one_particle(list(tz))
    w = compute_hit_weights(truth, particles)
    np.testing.assert_allclose(w, expected[::-1], rtol=1e-14)


def test_order_factors_n25_use_the_n20_table_and_drop_ranks_from_20() -> None:
    # nhits = 25 is capped at 20: positions i * 19 / 8 = 2.375 i.
    raw = np.array(
        [
            10,  # k=0
            10 - 2 * 1 / 2.375,  # k=1..2 on 10 -> 8 over [0, 2.375]
            10 - 2 * 2 / 2.375,
            8 - 2 * 0.625 / 2.375,  # k=3..4 on 8 -> 6 over [2.375, 4.75]
            8 - 2 * 1.625 / 2.375,
            6 - 1 * 0.25 / 2.375,  # k=5..7 on 6 -> 5 over [4.75, 7.125]
            6 - 1 * 1.25 / 2.375,
            6 - 1 * 2.25 / 2.375,
            5 - 2 * 0.875 / 2.375,  # k=8..9 on 5 -> 3 over [7.125, 9.5]
            5 - 2 * 1.875 / 2.375,
            3,
            3,
            3,
            3,
            3,  # k=10..14 flat at 3 over [9.5, 14.25]
            3 + 2 * 0.75 / 2.375,  # k=15..16 on 3 -> 5 over [14.25, 16.625]
            3 + 2 * 1.75 / 2.375,
            5 + 1 * 0.375 / 2.375,  # k=17..18 on 5 -> 6 over [16.625, 19]
            5 + 1 * 1.375 / 2.375,
            6,  # k=19
        ]
    )
    expected = np.concatenate([raw / raw.sum(), np.zeros(5)])  # ranks 20..24 weigh 0
    truth, particles = one_particle(list(np.arange(1.0, 26.0)))
    w = compute_hit_weights(truth, particles)
    np.testing.assert_allclose(w, expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(ORDER_FACTORS[20], raw / raw.sum(), rtol=1e-13)


def test_order_table_shape_and_rows() -> None:
    table = order_factor_table()
    assert table.shape == (21, 20)
    np.testing.assert_array_equal(table[:4], 0.0)  # n < 4 weighs nothing
    np.testing.assert_allclose(table[4:].sum(axis=1), 1.0, rtol=1e-14)
    for n in range(4, 20):
        np.testing.assert_array_equal(table[n, n:], 0.0)
    assert not ORDER_FACTORS.flags.writeable


def test_ties_share_the_truncated_average_rank() -> None:
    # |tz - vz| = 10, 10, 30, 40 with vz = 5: the two first hits have average rank 1.5
    # -> rank 0 both; the others 2 and 3. Raw order factors 30, 30, 9, 18 (/73), sum 87/73.
    truth, particles = one_particle([15.0, -5.0, 35.0, -35.0], vz=5.0)
    np.testing.assert_array_equal(
        hit_order_ranks(truth["particle_id"], np.abs(truth["tz"] - 5.0)), [0, 0, 2, 3]
    )
    np.testing.assert_allclose(
        compute_hit_weights(truth, particles), np.array([30, 30, 9, 18]) / 87
    )


def test_normalisation_over_the_event_and_pt_factor() -> None:
    # Particle 1: n=4, pT 10 (factor 1); particle 2: n=4, pT 1.75 (factor 0.6).
    # Products sum to 1 + 0.6 = 1.6, so each is divided by 1.6.
    truth = pd.DataFrame(
        {
            "hit_id": range(1, 11),
            "particle_id": [1, 1, 1, 1, 2, 2, 2, 2, 0, 0],
            "tz": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 9.0, 9.0],
        }
    )
    particles = pd.DataFrame(
        {
            "particle_id": [1, 2],
            "px": [6.0, 1.05],
            "py": [8.0, 1.4],
            "vz": [0.0, 0.0],
            "nhits": [4, 4],
        }
    )  # pT = hypot(6, 8) = 10 and hypot(1.05, 1.4) = 1.75
    order = np.array([30, 16, 9, 18]) / 73
    expected = np.concatenate([order, 0.6 * order, [0.0, 0.0]]) / 1.6
    w = compute_hit_weights(truth, particles)
    np.testing.assert_allclose(w, expected, rtol=1e-14)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(
    ("case", "truth_rows", "particle_rows", "expected"),
    [
        # Noise and a particle absent from the particles table weigh 0; the rest is n=4.
        (
            "noise and unknown",
            [(0, 1.0), (5, 1.0), (7, 1.0), (7, 2.0), (7, 3.0), (7, 4.0)],
            [(7, 10.0, 4)],
            [0, 0, 30 / 73, 16 / 73, 9 / 73, 18 / 73],
        ),
        # nhits = 3 < 4: every weight is 0 (the total is 0, so all zeros).
        ("too few hits", [(7, 1.0), (7, 2.0), (7, 3.0)], [(7, 10.0, 3)], [0, 0, 0]),
        # pT = 0.03 GeV: pT factor 0, all zeros.
        ("too soft", [(7, 1.0), (7, 2.0), (7, 3.0), (7, 4.0)], [(7, 0.03, 4)], [0, 0, 0, 0]),
        # Five truth rows but nhits = 4: the fifth hit (rank 4 >= n) weighs 0.
        (
            "more rows than nhits",
            [(7, 1.0), (7, 2.0), (7, 3.0), (7, 4.0), (7, 5.0)],
            [(7, 10.0, 4)],
            [30 / 73, 16 / 73, 9 / 73, 18 / 73, 0],
        ),
        # Negative (reserved) ids weigh 0 even when listed in the particles table.
        ("negative ids", [(-1, 1.0), (-2, 2.0)], [(-1, 10.0, 4), (-2, 10.0, 4)], [0, 0]),
        ("empty", [], [(7, 10.0, 4)], []),
    ],
)
def test_weight_edge_cases(
    case: str, truth_rows: list, particle_rows: list, expected: list
) -> None:
    truth = pd.DataFrame(truth_rows, columns=["particle_id", "tz"]).astype(
        {"particle_id": "int64", "tz": "float64"}
    )
    particles = pd.DataFrame(particle_rows, columns=["particle_id", "px", "nhits"]).assign(
        py=0.0, vz=0.0
    )
    w = compute_hit_weights(truth, particles)
    assert w.dtype == np.float64
    np.testing.assert_allclose(w, expected, rtol=1e-14, atol=0)


def test_bad_inputs_raise_data_error() -> None:
    truth, particles = one_particle([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(DataError, match="tz"):
        compute_hit_weights(truth.drop(columns="tz"), particles)
    with pytest.raises(DataError, match="duplicate particle_id"):
        compute_hit_weights(truth, pd.concat([particles, particles]))
    bad = truth.assign(tz=[1.0, np.nan, 3.0, 4.0])
    with pytest.raises(DataError) as info:
        compute_hit_weights(bad, particles)
    assert info.value.column == "tz" and info.value.row == 1


@pytest.mark.shared_data
def test_sample_event_weights_match_the_published_ones() -> None:
    """sample-event1 keeps whole particles and the challenge's weights (total 0.0513).

    Where the published weight is positive, our weights are proportional to it (one
    common factor, the event normalisation; the CSV holds 6 significant digits). The
    published weights are also 0 for 41 particles that the rule as stated weighs: all of
    them secondaries whose particle_id has non-zero low 16 bits (particles created in the
    simulation of the detector), a cut that is not part of the published rule.
    """
    event = read_event(shared_path("sample-event1", "event000000001"))
    truth, particles = event.truth, event.particles
    w = compute_hit_weights(truth, particles)
    published = truth["weight"].to_numpy()
    positive = published > 0
    ratio = w[positive] / published[positive]
    np.testing.assert_allclose(ratio, np.median(ratio), rtol=5e-5)
    extra = (w > 0) & ~positive
    low_bits = truth["particle_id"].to_numpy()[extra].astype(np.uint64) & np.uint64(0xFFFF)
    assert np.all(low_bits > 0)
    assert np.all(w[published > 0] > 0)


@pytest.mark.shared_data
def test_computed_weights_on_ez_events_are_sensible(ez_event) -> None:
    truth, particles = ez_event.truth, ez_event.particles
    w = compute_hit_weights(truth, particles)
    assert w.shape == (len(truth),)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    pid = truth["particle_id"].to_numpy()
    assert np.all(w[pid == 0] == 0)
    nhits = particles.set_index("particle_id")["nhits"]
    few = np.isin(pid, nhits.index[nhits < 4])
    assert np.all(w[few] == 0)
    assert (w > 0).sum() > len(truth) // 2
