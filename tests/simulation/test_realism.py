from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_path
from tracknet.events import Event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event
from tracknet.simulation.realism import (
    TARGET_MAX_REL_DIFF,
    TARGET_MAX_TV,
    compare_events,
    event_figures,
    hits_per_particle,
    layer_shares,
    noise_fraction,
    total_variation,
)


def shares(values: dict[tuple[int, int], float]) -> pd.Series:
    return pd.Series(
        values, index=pd.MultiIndex.from_tuples(list(values), names=["volume_id", "layer_id"])
    )


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [
        ({(8, 2): 0.5, (8, 4): 0.5}, {(8, 2): 0.5, (8, 4): 0.5}, 0.0),
        ({(8, 2): 0.5, (8, 4): 0.5}, {(8, 2): 1.0}, 0.5),
        ({(8, 2): 1.0}, {(13, 2): 1.0}, 1.0),
        ({(8, 2): 0.2, (8, 4): 0.8}, {(8, 2): 0.3, (8, 4): 0.6, (9, 2): 0.1}, 0.2),
    ],
)
def test_total_variation_table(p: dict, q: dict, expected: float) -> None:
    assert total_variation(shares(p), shares(q)) == pytest.approx(expected)
    assert total_variation(shares(q), shares(p)) == pytest.approx(expected)


def test_layer_shares_sum_to_one() -> None:
    hits = pd.DataFrame({"volume_id": [8, 8, 8, 13], "layer_id": [2, 2, 4, 2]})
    result = layer_shares(hits)
    assert result.sum() == pytest.approx(1.0)
    assert result.loc[(8, 2)] == pytest.approx(0.5)


def test_noise_fraction_from_truth_or_particles() -> None:
    hits = pd.DataFrame({"hit_id": [1, 2, 3, 4], "volume_id": 8, "layer_id": 2})
    truth = pd.DataFrame({"hit_id": [1, 2, 3, 4], "particle_id": [0, 5, 5, 0]})
    particles = pd.DataFrame(
        {"particle_id": [5, 6], "px": [1.0, 0.5], "py": [0.0, 0.0], "nhits": [3, 0]}
    )
    assert noise_fraction(Event(1, hits, truth=truth)) == pytest.approx(0.5)
    assert noise_fraction(Event(1, hits, particles=particles)) == pytest.approx(0.25)
    assert noise_fraction(Event(1, hits)) is None
    assert hits_per_particle(particles) == {
        "mean_all": 1.5,
        "mean_with_hits": 3.0,
        "share_without_hits": 0.5,
    }


def test_compare_events_structure() -> None:
    config = SimulationConfig(n_particles=400)
    simulated = [simulate_event(config, k, event_rng(1, k)) for k in range(2)]
    unlabelled = simulate_event(config, 9, event_rng(2, 9))
    real = unlabelled.with_parts(truth=None)
    result = compare_events(simulated, [real])
    assert result["simulated"]["n_events"] == 2
    entry = result["real"][0]
    assert 0.0 <= entry["tv_layer_shares"] < 0.2
    assert entry["noise_fraction"] == pytest.approx(event_figures(unlabelled)["noise_fraction"])
    assert isinstance(entry["targets_met"], bool)
    with pytest.raises(ValueError):
        compare_events([], [real])


@pytest.mark.shared_data
def test_default_events_match_the_real_full_events(full_event: Event) -> None:
    from tracknet.io.trackml import read_event

    real = [
        read_event(
            shared_path("unlabeled", f"event00000{k}-hits.csv").with_name(f"event00000{k}"),
            ("hits", "particles"),
        )
        for k in (1001, 1003)
    ]
    result = compare_events([full_event], real)
    for entry in result["real"]:
        assert entry["tv_layer_shares"] <= TARGET_MAX_TV
        assert abs(entry["hits_rel_diff"]) <= TARGET_MAX_REL_DIFF
        assert abs(entry["noise_rel_diff"]) <= TARGET_MAX_REL_DIFF
        assert entry["targets_met"]
    sim = result["simulated"]["hits_per_particle"]["mean_all"]
    real_mean = np.mean([e["hits_per_particle"]["mean_all"] for e in result["real"]])
    assert sim == pytest.approx(real_mean, rel=0.15)
