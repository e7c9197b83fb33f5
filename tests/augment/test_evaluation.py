"""Evaluation of semi-synthetic events (table-driven) and of overlay / straw directories
through evaluate_submission."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event
from tracknet.augment.run import overlay_to_directory
from tracknet.evaluation import ParticleSelection, names
from tracknet.evaluation.files import evaluate_submission
from tracknet.evaluation.semisynthetic import (
    aggregate_semisynthetic,
    evaluate_semisynthetic,
    has_unlabelled_hits,
)
from tracknet.evaluation.straw import straw_metrics
from tracknet.io.straw import StrawDataset
from tracknet.io.trackml import iter_events, write_event

U = -1


def _tables(
    labels: list[int], tracks: dict[int, tuple[int, ...]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    truth = pd.DataFrame({"hit_id": np.arange(1, len(labels) + 1), "particle_id": labels})
    rows = [(h, t) for t, hits in tracks.items() for h in hits]
    return truth, pd.DataFrame(rows, columns=["hit_id", "track_id"]).astype("int64")


def test_semi_synthetic_table() -> None:
    # Overlaid P1 = hits 1-4, P2 = hits 5-8; real unlabelled hits 9-14.
    truth, sub = _tables([1] * 4 + [2] * 4 + [U] * 6, {
        1: (1, 2, 3, 4, 9),  # finds P1, takes one real hit (a known wrong hit)
        2: (5, 6),  # too short: ignored
        3: (10, 11, 12),  # real hits only: a real track or a fake, unknown
        4: (7, 8, 13),  # matches P2 (2/3) but holds only half of it: not found
    })  # fmt: skip
    assert has_unlabelled_hits(truth)
    result = evaluate_semisynthetic(truth, sub)
    m = result.metrics
    assert (m.n_particles, m.n_found, m.n_perfect) == (2, 1, 0)
    assert m.efficiency == 0.5 and m.perfect_efficiency == 0.0
    assert (m.n_tracks, m.n_tracks_unknown, m.n_matched, m.n_duplicate) == (3, 1, 2, 0)
    assert (
        m.n_unlabelled_hits,
        m.n_unlabelled_hits_on_tracks,
        m.n_unlabelled_hits_on_matched_tracks,
    ) == (6, 5, 2)
    assert m.unlabelled_hits_on_tracks_fraction == pytest.approx(5 / 6)
    assert m.fake_rate is None and m.n_fake is None
    as_dict = m.to_dict()
    assert as_dict[names.FAKE_RATE] is None and as_dict[names.N_FAKE] is None
    assert list(as_dict)[-len(names.SEMISYNTHETIC_NAMES) :] == list(names.SEMISYNTHETIC_NAMES)
    tracks = result.per_track.set_index("track_id")
    assert tracks["unknown"].to_dict() == {1: False, 2: False, 3: True, 4: False}
    assert tracks["n_unlabelled"].to_dict() == {1: 1, 2: 0, 3: 3, 4: 1}
    assert not tracks["fake"].any() and not tracks["considered"].any()
    as_tracking = m.tracking_metrics()
    assert math.isnan(as_tracking.fake_rate) and as_tracking.efficiency == 0.5


def test_duplicates_among_overlaid_particles_are_known() -> None:
    truth, sub = _tables([1] * 6 + [U] * 3, {1: (1, 2, 3, 4), 2: (5, 6, 7), 3: (8, 9)})
    m = evaluate_semisynthetic(truth, sub).metrics
    assert (m.n_found, m.n_matched, m.n_duplicate) == (1, 2, 1) and m.duplicate_rate == 0.5
    pooled = aggregate_semisynthetic([m, m])
    assert pooled.n_events == 2 and pooled.n_duplicate == 2 and pooled.duplicate_rate == 0.5
    none = evaluate_semisynthetic(*_tables([1] * 3, {})).metrics
    assert math.isnan(none.unlabelled_hits_on_tracks_fraction) and none.efficiency == 0.0


def _perfect(event) -> pd.DataFrame:
    pid = event.truth["particle_id"].to_numpy()
    return pd.DataFrame(
        {
            "event_id": event.event_id,
            "hit_id": event.hits["hit_id"].to_numpy(),
            "track_id": np.where(pid > 0, pid, 0),
        }
    )


def test_evaluate_submission_switches_to_semi_synthetic(tmp_path: Path) -> None:
    write_event(make_small_event(event_id=3, n_particles=6), tmp_path / "source")
    background = make_small_event(event_id=5, n_particles=4, n_noise=6).with_parts(
        truth=None, particles=None
    )
    write_event(background, tmp_path / "bg")
    overlay_to_directory(
        tmp_path / "source",
        tmp_path / "semi",
        n_events=3,
        tracks_per_event=2,
        seed=1,
        background=tmp_path / "bg",
    )
    events = list(iter_events(tmp_path / "semi"))
    subs = []
    for event in events:
        sub = _perfect(event)
        # The real hits of the background's first two "tracks" go onto a track of their own.
        real = event.truth["particle_id"].to_numpy() == U
        sub.loc[np.flatnonzero(real)[:10], "track_id"] = 99
        subs.append(sub)
    result = evaluate_submission(tmp_path / "semi", pd.concat(subs, ignore_index=True))
    s = result.summary
    assert s[names.FAKE_RATE] is None and s[names.N_FAKE] is None
    assert s[names.EFFICIENCY] == 1.0 and s[names.N_PARTICLES] == 6 and s[names.N_EVENTS] == 3
    assert s[names.N_UNLABELLED_HITS] == 3 * background.n_hits
    assert s[names.N_UNLABELLED_HITS_ON_TRACKS] == 30 and s[names.N_TRACKS_UNKNOWN] == 3
    assert s[names.TRACKML_SCORE] == pytest.approx(1.0)
    assert result.per_track["unknown"].sum() == 3 and not result.per_track["fake"].any()
    assert all(math.isnan(e.metrics.fake_rate) for e in result.events.values())
    # A labelled directory keeps the usual summary.
    labelled = evaluate_submission(
        tmp_path / "source", _perfect(make_small_event(event_id=3, n_particles=6))
    )
    assert (
        list(labelled.summary) == list(names.METRIC_NAMES)
        and labelled.summary[names.FAKE_RATE] == 0.0
    )


def test_evaluate_submission_on_a_straw_dataset(
    tmp_path: Path, straw_source: Path, straw_background: Path
) -> None:
    batch = StrawDataset.open(straw_background).read_all()
    h = batch.hits
    pid = h["particle_id"]
    perfect = pd.DataFrame(
        {"event_id": h["event_id"], "hit_id": h["hit_id"], "track_id": np.where(pid > 0, pid, 0)}
    )
    s = evaluate_submission(straw_background, perfect).summary
    for key in (names.PRECISION_ON_FOUND_TRACKS, names.FOUND_FRACTION, names.EFFICIENCY):
        assert s[key] == 1.0
    assert s[names.WRONG_HIT_FRACTION] == 0.0 and s[names.SPLIT_FRACTION] == 0.0
    # An event without labelled hits (noise only) scores 0 by the score's definition.
    named = np.unique(h["event_id"])
    with_tracks = np.unique(h["event_id"][pid > 0])
    assert s[names.TRACKML_SCORE] == pytest.approx(len(with_tracks) / len(named)) and s[
        names.N_EVENTS
    ] == len(named)
    assert s[names.N_TRACKS_TRUE] == s[names.N_PARTICLES] > 0
    # Noise and crosstalk swept into the tracks: every one of them is a wrong hit.
    swept = perfect.copy()
    # Each noise or crosstalk hit joins the track of the next hit of its event (by straw).
    same_event = np.r_[h["event_id"][1:] == h["event_id"][:-1], False]
    neighbour = np.where(same_event, np.r_[pid[1:], 0], 0)
    swept.loc[(pid <= 0) & (neighbour > 0), "track_id"] = neighbour[(pid <= 0) & (neighbour > 0)]
    n_swept = int(((pid <= 0) & (neighbour > 0)).sum())
    s = evaluate_submission(straw_background, swept).summary
    assert s[names.N_HITS_WRONG] == n_swept > 0
    assert s[names.WRONG_HIT_FRACTION] == pytest.approx(n_swept / s[names.N_HITS_ASSIGNED])
    expected = straw_metrics(
        pd.DataFrame({c: h[c] for c in ("event_id", "hit_id", "particle_id")}), swept
    )
    assert s[names.PRECISION_ON_FOUND_TRACKS] == pytest.approx(expected.precision_on_found_tracks)
    # Semi-synthetic straw events: unlabelled background, no fake rate.
    overlay_to_directory(
        straw_source,
        tmp_path / "semi",
        n_events=20,
        tracks_per_event=2,
        seed=3,
        background=straw_background,
    )
    semi = StrawDataset.open(tmp_path / "semi").read_all().hits
    sub = pd.DataFrame(
        {
            "event_id": semi["event_id"],
            "hit_id": semi["hit_id"],
            "track_id": np.where(semi["particle_id"] > 0, semi["particle_id"], 0),
        }
    )
    s = evaluate_submission(tmp_path / "semi", sub, ParticleSelection(min_hits=3)).summary
    assert s[names.FAKE_RATE] is None and s[names.N_UNLABELLED_HITS] == int(
        (semi["particle_id"] == U).sum()
    )
    assert s[names.FOUND_FRACTION] == 1.0 and s[names.N_EVENTS] == 20
