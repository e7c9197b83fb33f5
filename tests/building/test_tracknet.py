"""Building with StepAhead TrackNET: behaviour with an oracle model that knows the truth
(whole tracks, determinism, holes skipped with t2, radius caps), and loose figures of the
tiny model trained through ``train(cfg)`` once per session (``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tracknet.building import BuildConfig, build_event, build_tracks
from tracknet.building.builder import TrackNetExtender
from tracknet.building.calibration import calibrate_radius_scale, normalised_distances
from tracknet.evaluation import ParticleSelection, evaluate_event
from tracknet.events import Event
from tracknet.model.checkpoint import load_checkpoint

from .conftest import barrel_event, torch_threads, training_tracks, without_double_hits
from .oracle import oracle_model

SELECTION = ParticleSelection(min_pt=1.0, min_hits=5)


def _check_submission(event: Event, submission: pd.DataFrame) -> None:
    """Every hit of the event exactly once, ids as in the event, track ids >= 0."""
    assert list(submission.columns) == ["event_id", "hit_id", "track_id"]
    assert all(str(t) == "int64" for t in submission.dtypes)
    assert len(submission) == event.n_hits
    assert sorted(submission["hit_id"].tolist()) == sorted(event.hits["hit_id"].tolist())
    assert submission["hit_id"].is_unique  # so each hit belongs to at most one track
    assert (submission["event_id"] == event.event_id).all()
    assert (submission["track_id"] >= 0).all()


def test_an_oracle_model_builds_every_high_pt_track_deterministically(test_event: Event) -> None:
    """Through the real builder (seeding, TrackNetExtender, selection, double hits), spheres
    on the true next hits find the high-pT particles whole, the same way twice."""
    loaded = oracle_model(test_event)
    result = build_tracks(test_event, "tracknet", loaded, BuildConfig())
    again = build_event(test_event, "tracknet", oracle_model(test_event), BuildConfig())
    _check_submission(test_event, result.submission)
    pd.testing.assert_frame_equal(result.submission, again)  # deterministic
    _, metrics, _ = evaluate_event(test_event, result.submission[["hit_id", "track_id"]], SELECTION)
    assert metrics.n_particles >= 10
    assert metrics.efficiency >= 0.95 and metrics.fake_rate <= 0.05
    # Figures about the build match the submission.
    assert result.n_tracks == int(result.submission["track_id"].max())
    assert len(result.tracks) == result.n_tracks
    counts = (
        result.submission.loc[result.submission.track_id > 0, "track_id"]
        .value_counts()
        .sort_index()
    )
    assert counts.tolist() == result.tracks["n_hits"].tolist()
    assert (result.tracks["n_hits"] >= 4).all()
    assert sum(s["tracks"] for s in result.stages) == result.n_tracks


def test_the_trained_model_finds_most_high_pt_tracks(
    tiny_checkpoint: Path, test_event: Event
) -> None:
    """A loose physics floor for the tiny trained model (not the tracks of one run)."""
    loaded = load_checkpoint(tiny_checkpoint)
    with torch_threads(1):
        result = build_tracks(test_event, "tracknet", loaded, BuildConfig())
    _check_submission(test_event, result.submission)
    _, metrics, _ = evaluate_event(test_event, result.submission[["hit_id", "track_id"]], SELECTION)
    assert metrics.n_particles >= 10
    assert metrics.efficiency >= 0.6
    assert len(result.tracks) == result.n_tracks == int(result.submission["track_id"].max())


@pytest.mark.parametrize("algorithm", ["tracknet", "baseline"])
def test_a_removed_hit_is_skipped_and_the_rest_found(test_event: Event, algorithm: str) -> None:
    """Punch a hole into found tracks: each is found again, whole but for the hole (t2).

    ``tracknet`` runs an oracle model of the whole event (its t1 sphere of a holed track
    sits on the missing hit, its t2 sphere on the hit after); ``baseline`` the helix follower.
    """
    event = without_double_hits(test_event)
    hits, pid = event.hits, event.particle_ids()
    assert event.truth is not None
    loaded = oracle_model(event) if algorithm == "tracknet" else None
    full = build_event(event, algorithm, loaded)
    frame = pd.DataFrame(
        {
            "track": full.track_id.to_numpy(),
            "particle": pid,
            "hit": hits.hit_id.to_numpy(),
            "r": np.hypot(hits.x, hits.y),
        }
    )
    frame = frame[frame.track > 0]
    per_track = frame.groupby("track").agg(
        n=("particle", "size"), kinds=("particle", "nunique"), particle=("particle", "first")
    )
    long_pure = (per_track.n >= 7) & (per_track.kinds == 1) & (per_track.particle > 0)
    pure = per_track[long_pure].index[:3]
    assert len(pure) == 3, "not enough long pure tracks to punch holes into"
    for track in pure:
        mine = frame[frame.track == track].sort_values("r")
        removed = int(mine.hit.iloc[4])  # after the three seed hits, in the middle of the track
        keep = hits.hit_id.to_numpy() != removed
        holed = event.with_parts(
            hits=hits[keep].reset_index(drop=True), truth=event.truth[keep].reset_index(drop=True)
        )
        result = build_tracks(holed, algorithm, loaded)
        rebuilt = result.submission
        _check_submission(holed, rebuilt)
        expected = set(mine.hit.tolist()) - {removed}
        found = rebuilt.set_index("hit_id").loc[sorted(expected), "track_id"]
        assert found.nunique() == 1 and found.iloc[0] > 0, (track, found.tolist())
        assert set(rebuilt.hit_id[rebuilt.track_id == found.iloc[0]].tolist()) == expected
        # The hole was crossed, not the track restarted after it.
        assert result.tracks.set_index("track_id").loc[found.iloc[0], "misses"] >= 1


def test_calibrated_spheres_hold_the_requested_share(tiny_checkpoint: Path) -> None:
    """The calibration quantile holds on any model; the trained model's own calibrated
    spheres hold roughly their target share of fresh tracks' next hits (a loose floor)."""
    loaded = load_checkpoint(tiny_checkpoint)
    tracks = training_tracks([barrel_event(5, n_particles=300, seed=4)], min_pt=1.0)
    scale = calibrate_radius_scale(loaded, tracks, quantile=0.9)
    t1, t2 = normalised_distances(loaded, tracks)
    assert len(t1) == int((tracks.lengths - 1).sum()) and len(t2) == int(
        (tracks.lengths - 2).clip(0).sum()
    )
    assert np.mean(t1 <= scale) == pytest.approx(0.9, abs=0.01)
    target = loaded.meta["calibration"]["region"]["t1"]["efficiency_target"]
    assert np.mean(t1 <= 1.0) >= target - 0.1


def test_max_radius_caps_every_sphere(test_event: Event) -> None:
    loaded = oracle_model(test_event, t1_radius_mm=2.0, t2_radius_mm=3.0)
    hits = test_event.hits.sort_values("hit_id")
    seeds = hits[["x", "y", "z"]].to_numpy()[:300].reshape(100, 3, 3)
    layers = np.zeros((100, 3), dtype=np.int64)
    free = TrackNetExtender(loaded.model, loaded.normalizer, radius_scale=50.0)
    capped = TrackNetExtender(loaded.model, loaded.normalizer, radius_scale=50.0, max_radius_mm=7.5)
    _, wide = free.start(seeds, layers)
    _, narrow = capped.start(seeds, layers)
    assert wide.t1_radius.min() > 7.5 and wide.t2_radius.min() > 7.5  # the cap has work
    assert narrow.t1_radius.max() <= 7.5 and narrow.t2_radius.max() <= 7.5
    np.testing.assert_allclose(narrow.t1_center, wide.t1_center)
    np.testing.assert_allclose(narrow.t2_center, wide.t2_center)
    np.testing.assert_allclose(narrow.t1_radius, np.minimum(wide.t1_radius, 7.5))
