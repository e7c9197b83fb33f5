"""Simulated straw events: reproducibility, labels, detector effects, the event model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.straw.helpers import circle_dca
from tracknet.errors import ConfigError
from tracknet.events import (
    CROSSTALK_PARTICLE_ID,
    HITS_SCHEMA,
    NOISE_PARTICLE_ID,
    PARTICLES_SCHEMA,
    TRUTH_SCHEMA,
)
from tracknet.simulation.straw import (
    BLOCK_EVENTS,
    Occupancy,
    StrawBatch,
    StrawConfig,
    StrawResponse,
    TrackGun,
    simulate_straw_batch,
    simulate_straw_event,
    simulate_straw_events,
)

CONFIG = StrawConfig()


def _same(a: StrawBatch, b: StrawBatch) -> bool:
    return all(
        getattr(a, t)[c].dtype == getattr(b, t)[c].dtype
        and getattr(a, t)[c].tobytes() == getattr(b, t)[c].tobytes()
        for t in ("events", "hits", "particles")
        for c in getattr(a, t)
    )


@pytest.fixture(scope="module")
def batch() -> StrawBatch:
    return simulate_straw_batch(
        StrawConfig(response=StrawResponse(crosstalk=0.05, noise_rate=0.003)), 600, seed=7
    )


def test_same_seed_same_bytes_and_event_independent_of_run() -> None:
    a = simulate_straw_batch(CONFIG, 300, seed=3)
    b = simulate_straw_batch(CONFIG, 300, seed=3)
    assert _same(a, b)
    assert not _same(a, simulate_straw_batch(CONFIG, 300, seed=4))
    # Event k is the same for n = 10 and n = 1000, and whatever the first event id.
    small = simulate_straw_batch(CONFIG, 10, seed=3)
    large = simulate_straw_batch(CONFIG, 1000, seed=3)
    assert _same(small, large.slice(0, 10))
    offset = simulate_straw_batch(CONFIG, 20, seed=3, first_event_id=BLOCK_EVENTS - 5)
    assert _same(offset, large.slice(BLOCK_EVENTS - 5, BLOCK_EVENTS + 15))
    one = simulate_straw_event(CONFIG, 700, seed=3)
    assert one.hits.equals(large.event(700).hits) and one.truth.equals(large.event(700).truth)


def test_switching_an_effect_keeps_the_tracks() -> None:
    # Without the one-hit-per-straw rule (a lost hit could hand its straw to another track).
    ideal = simulate_straw_batch(
        StrawConfig(response=StrawResponse(1.0, 0.0, 0.0, 0.0, False)), 200, seed=9
    )
    lossy = simulate_straw_batch(
        StrawConfig(response=StrawResponse(0.9, 0.0, 0.0, 0.0, False)), 200, seed=9
    )
    for name in ("vx", "vy", "px", "py", "q"):
        assert np.array_equal(ideal.particles[name], lossy.particles[name])

    def key(b: StrawBatch) -> set[tuple[int, int, int]]:
        h = b.hits
        return set(
            zip(
                h["event_id"].tolist(),
                h["straw_id"].tolist(),
                h["particle_id"].tolist(),
                strict=True,
            )
        )

    kept, full = key(lossy), key(ideal)
    assert kept <= full
    assert abs(len(kept) / len(full) - 0.9) < 0.02


def test_every_labelled_hit_lies_on_its_track(batch: StrawBatch) -> None:
    geometry = CONFIG.geometry
    hits, parts = batch.hits, batch.particles
    lab = hits["particle_id"] > 0
    # Look up each hit's particle by (event_id, particle_id).
    key_p = parts["event_id"] * 100_000 + parts["particle_id"]
    row = np.searchsorted(key_p, hits["event_id"][lab] * 100_000 + hits["particle_id"][lab])
    assert np.array_equal(key_p[row], hits["event_id"][lab] * 100_000 + hits["particle_id"][lab])
    sx, sy = hits["x"][lab], hits["y"][lab]
    assert np.allclose(sx, geometry.straw_x[hits["straw_id"][lab]]) and np.allclose(
        sy, geometry.straw_y[hits["straw_id"][lab]]
    )
    dca = circle_dca(
        parts["vx"][row],
        parts["vy"][row],
        parts["px"][row],
        parts["py"][row],
        parts["q"][row],
        1.45,
        sx,
        sy,
    )
    assert np.all(dca < geometry.straw_radius_mm)
    # The measured drift is the closest approach smeared by the resolution (clipped to the
    # straw: only the hits well inside it are free of the clip).
    sigma = CONFIG.response.drift_sigma_mm
    miss = hits["drift_mm"][lab] - dca
    inside = (dca > 4 * sigma) & (dca < geometry.straw_radius_mm - 4 * sigma)
    assert sigma > 0 and inside.sum() > 500
    assert abs(miss[inside].std() / sigma - 1) < 0.1 and abs(miss[inside].mean()) < 0.2 * sigma
    # The true point is on the trajectory, drift_mm from the wire.
    assert np.allclose(np.hypot(hits["tx"][lab] - sx, hits["ty"][lab] - sy), dca, atol=1e-7)
    on = circle_dca(
        parts["vx"][row],
        parts["vy"][row],
        parts["px"][row],
        parts["py"][row],
        parts["q"][row],
        1.45,
        hits["tx"][lab],
        hits["ty"][lab],
    )
    assert np.allclose(on, 0.0, atol=1e-7)
    # Ids and coordinates follow the documented convention.
    module, layer, straw = geometry.decompose(hits["straw_id"])
    assert np.array_equal(hits["volume_id"], module) and np.array_equal(hits["layer_id"], layer)
    assert np.array_equal(hits["module_id"], straw) and np.all(hits["z"] == 0)


def test_straight_tracks_are_lines() -> None:
    b = simulate_straw_batch(
        StrawConfig(gun=TrackGun(straight=True), response=StrawResponse.ideal()), 100, seed=1
    )
    h, p = b.hits, b.particles
    row = np.searchsorted(
        p["event_id"] * 1000 + p["particle_id"], h["event_id"] * 1000 + h["particle_id"]
    )
    dca = circle_dca(
        p["vx"][row], p["vy"][row], p["px"][row], p["py"][row], p["q"][row], 0.0, h["x"], h["y"]
    )
    assert np.allclose(dca, h["drift_mm"], atol=1e-9)
    assert np.allclose(np.hypot(h["tpx"], h["tpy"]), np.hypot(p["px"][row], p["py"][row]))
    assert np.allclose(np.arctan2(h["tpy"], h["tpx"]), np.arctan2(p["py"][row], p["px"][row]))


def test_crosstalk_hits_neighbour_a_track_hit(batch: StrawBatch) -> None:
    g = CONFIG.geometry
    h = batch.hits
    xt = np.flatnonzero(h["particle_id"] == CROSSTALK_PARTICLE_ID)
    assert len(xt) > 50
    track_keys = set(
        zip(
            h["event_id"][h["particle_id"] > 0].tolist(),
            h["straw_id"][h["particle_id"] > 0].tolist(),
            strict=True,
        )
    )
    drift_of = dict(
        zip(
            zip(h["event_id"].tolist(), h["straw_id"].tolist(), strict=True),
            h["drift_mm"].tolist(),
            strict=True,
        )
    )
    for i in xt:
        e, s = int(h["event_id"][i]), int(h["straw_id"][i])
        neighbours = [
            n for n in (s - 1, s + 1) if n // g.straws_per_layer == s // g.straws_per_layer
        ]
        sources = [n for n in neighbours if (e, n) in track_keys]
        assert sources, (e, s)
        assert any(math.isclose(drift_of[(e, n)], h["drift_mm"][i]) for n in sources)
    # Crosstalk and noise truth: straw centre, no momentum, no weight.
    other = h["particle_id"] <= 0
    assert (
        np.all(h["tx"][other] == h["x"][other])
        and np.all(h["tpx"][other] == 0)
        and np.all(h["weight"][other] == 0)
    )


def test_crosstalk_rate() -> None:
    p = 0.05
    b = simulate_straw_batch(
        StrawConfig(response=StrawResponse(efficiency=1.0, noise_rate=0.0, crosstalk=p)),
        1500,
        seed=2,
    )
    h = b.hits
    g = CONFIG.geometry
    track = h["particle_id"] > 0
    within = h["straw_id"][track] % g.straws_per_layer
    opportunities = int(
        2 * track.sum() - (within == 0).sum() - (within == g.straws_per_layer - 1).sum()
    )
    n_xt = int((h["particle_id"] == CROSSTALK_PARTICLE_ID).sum())
    # Crosstalk onto a straw that a track fired is dropped (one hit per straw), so the
    # count lies a little below p * opportunities.
    assert 0.8 * p * opportunities < n_xt <= p * opportunities + 5 * math.sqrt(p * opportunities)


@pytest.mark.parametrize("rate", [0.001, 0.02])
def test_noise_counts_follow_the_rate(rate: float) -> None:
    n_events = 2000
    config = StrawConfig(
        occupancy=Occupancy(mean=0.0), response=StrawResponse(noise_rate=rate, crosstalk=0.0)
    )
    b = simulate_straw_batch(config, n_events, seed=5)
    n_straws = CONFIG.geometry.n_straws
    assert np.all(b.hits["particle_id"] == NOISE_PARTICLE_ID)
    counts = b.hit_counts()
    expected = rate * n_straws
    assert abs(counts.mean() - expected) < 5 * math.sqrt(expected * (1 - rate) / n_events)
    assert abs(counts.var() / (expected * (1 - rate)) - 1) < 0.15
    # Uniform over straws: every module gets its share.
    per_module = np.bincount(b.hits["volume_id"], minlength=8)
    assert np.all(np.abs(per_module - per_module.mean()) < 5 * math.sqrt(per_module.mean()))
    drift = b.hits["drift_mm"]
    assert drift.min() >= 0 and drift.max() < 2.5 and abs(drift.mean() - 1.25) < 0.1


def test_one_hit_per_straw_and_event_model(batch: StrawBatch) -> None:
    h = batch.hits
    keys = h["event_id"] * 10_000 + h["straw_id"]
    assert len(np.unique(keys)) == len(keys)
    events = list(batch.slice(0, 30).iter_events())
    for event in events:
        assert list(event.hits.columns) == [*HITS_SCHEMA, "straw_id", "drift_mm"]
        assert dict(event.hits.dtypes) == {
            **HITS_SCHEMA,
            "straw_id": np.dtype("int32"),
            "drift_mm": np.dtype("float64"),
        }
        assert list(event.truth.columns) == list(TRUTH_SCHEMA) and list(
            event.particles.columns
        ) == list(PARTICLES_SCHEMA)
        assert np.array_equal(event.hits["hit_id"], np.arange(1, event.n_hits + 1))
        assert np.all(np.diff(event.hits["straw_id"]) > 0)
        pid = event.truth["particle_id"].to_numpy()
        if (pid > 0).any():
            assert math.isclose(event.truth["weight"].sum(), 1.0)
        counts = pd.Series(pid[pid > 0]).value_counts()
        nhits = event.particles.set_index("particle_id")["nhits"]
        assert all(nhits[k] == v for k, v in counts.items())
        assert set(nhits.index) == set(range(1, event.meta["n_tracks"] + 1))
        assert event.meta["detector"] == "straw" and event.meta["time_in_fill_us"] is None
    again = StrawBatch.from_events(events)
    assert _same(again, batch.slice(0, 30))


def test_without_single_hit_rule_tracks_may_share_a_straw() -> None:
    config = StrawConfig(
        occupancy=Occupancy(distribution="fixed", mean=6, max_tracks=6),
        response=StrawResponse(
            efficiency=1.0, noise_rate=0.0, crosstalk=0.0, single_hit_per_straw=False
        ),
    )
    h = simulate_straw_batch(config, 300, seed=1).hits
    keys = h["event_id"] * 10_000 + h["straw_id"]
    assert len(np.unique(keys)) < len(keys)


def test_time_in_fill_events() -> None:
    config = StrawConfig(
        occupancy=Occupancy(mean=4.0, max_tracks=40, time_in_fill_us=0.0, time_in_fill_max_us=200.0)
    )
    b = simulate_straw_batch(config, 4000, seed=8)
    t, n = b.events["time_in_fill_us"], b.events["n_tracks"]
    early, late = n[t < 50].mean(), n[t > 150].mean()
    assert early > 2.5 * late
    event = b.event(0)
    assert event.meta["time_in_fill_us"] == pytest.approx(t[0])


def test_iterators_and_errors() -> None:
    events = list(simulate_straw_events(CONFIG, 5, seed=1, first_event_id=3))
    assert [e.event_id for e in events] == [3, 4, 5, 6, 7]
    assert len(simulate_straw_batch(CONFIG, 0, seed=1)) == 0
    for bad in ({"n_events": -1, "seed": 1}, {"n_events": 2, "seed": -1}):
        with pytest.raises(ConfigError):
            simulate_straw_batch(CONFIG, **bad)
