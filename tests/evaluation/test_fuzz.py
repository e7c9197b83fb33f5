"""Property tests of the evaluator (hypothesis): random submissions over random small
events never crash, the score stays in [0, 1] and every rate is the ratio of its counts."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.random_events import SUBMISSION_MODES, random_event, random_submission
from tracknet.evaluation import ParticleSelection, names
from tracknet.evaluation.evaluate import evaluate_event
from tracknet.evaluation.files import evaluate_submission
from tracknet.evaluation.matching import TrackingMetrics
from tracknet.evaluation.score import trackml_score
from tracknet.evaluation.straw import evaluate_straw
from tracknet.events import CROSSTALK_PARTICLE_ID, UNLABELLED_PARTICLE_ID, Event
from tracknet.io.trackml import write_event, write_submission

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def event_shapes(draw: st.DrawFn) -> dict[str, int | bool]:
    return {
        "n_particles": draw(st.integers(0, 6)),
        "max_hits": draw(st.integers(1, 7)),
        "n_noise": draw(st.integers(0, 5)),
        "n_reserved": draw(st.integers(0, 3)),
        "zero_weights": draw(st.booleans()),
    }


selections = st.builds(
    ParticleSelection,
    min_pt=st.sampled_from([0.0, 0.5, 1.0]),
    min_hits=st.integers(0, 5),
    max_abs_eta=st.sampled_from([math.inf, 1.0]),
    primaries_only=st.booleans(),
)


def _check_rates(metrics: TrackingMetrics) -> None:
    """Each rate is its numerator count over its denominator count (documented empties)."""
    c = metrics
    assert 0 <= c.n_perfect <= c.n_found <= c.n_particles
    assert 0 <= c.n_fake <= c.n_tracks
    assert 0 <= c.n_duplicate <= c.n_matched
    if c.n_particles:
        assert c.efficiency == c.n_found / c.n_particles
        assert c.perfect_efficiency == c.n_perfect / c.n_particles
    else:
        assert math.isnan(c.efficiency) and math.isnan(c.perfect_efficiency)
    assert c.fake_rate == (c.n_fake / c.n_tracks if c.n_tracks else 0.0)
    assert c.duplicate_rate == (c.n_duplicate / c.n_matched if c.n_matched else 0.0)


def _summary_rates(summary: dict[str, float | int | None]) -> None:
    """The same for a JSON-ready summary (NaN is ``None``)."""
    n = {k: v for k, v in summary.items() if k.startswith("n_")}
    score = summary[names.TRACKML_SCORE]
    assert score is not None and 0.0 <= score <= 1.0
    particles = n[names.N_PARTICLES]
    assert isinstance(particles, int)
    if particles:
        assert summary[names.EFFICIENCY] == pytest.approx(n[names.N_FOUND] / particles)
    else:
        assert summary[names.EFFICIENCY] is None
    tracks, fake = n[names.N_TRACKS], n[names.N_FAKE]
    if fake is not None:  # unknown (None) in semi-synthetic events
        assert isinstance(tracks, int) and isinstance(fake, int) and 0 <= fake <= tracks
        assert summary[names.FAKE_RATE] == (pytest.approx(fake / tracks) if tracks else 0.0)
    else:
        assert summary[names.FAKE_RATE] is None
    duplicate, matched = n[names.N_DUPLICATE], n[names.N_MATCHED]
    assert isinstance(duplicate, int) and isinstance(matched, int) and 0 <= duplicate <= matched
    assert summary[names.DUPLICATE_RATE] == (pytest.approx(duplicate / matched) if matched else 0.0)


def _event(seed: int, shape: dict[str, int | bool], reserved: int, event_id: int = 1) -> Event:
    return random_event(
        np.random.default_rng(seed),
        event_id=event_id,
        reserved_id=reserved,
        **shape,  # type: ignore[arg-type]
    )


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=event_shapes(),
    mode=st.sampled_from(SUBMISSION_MODES),
    selection=selections,
    min_track_hits=st.integers(1, 4),
    keep=st.floats(0.0, 1.0),
)
def test_random_submissions_of_one_event(
    seed: int,
    shape: dict[str, int | bool],
    mode: str,
    selection: ParticleSelection,
    min_track_hits: int,
    keep: float,
) -> None:
    """The table API accepts a partial submission (left-out hits are on no track)."""
    event = _event(seed, shape, CROSSTALK_PARTICLE_ID)
    rng = np.random.default_rng(seed + 1)
    sub = random_submission(event, rng, mode)
    sub = sub.loc[rng.random(len(sub)) < keep] if keep < 1.0 else sub
    score, metrics, per_particle = evaluate_event(
        event, sub, selection, min_track_hits=min_track_hits
    )
    assert 0.0 <= score <= 1.0
    _check_rates(metrics)
    assert len(per_particle) == np.unique(event.particle_ids()[event.particle_ids() > 0]).size
    assert metrics.n_particles == int(per_particle["selected"].sum())
    if mode == "truth" and keep >= 1.0 and event.truth["weight"].sum() > 0:
        assert score == 1.0
    if mode in ("zero", "own") and min_track_hits > 1:
        assert metrics.n_tracks == 0 and metrics.n_found == 0


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=event_shapes(),
    mode=st.sampled_from(SUBMISSION_MODES),
    reserved=st.sampled_from([CROSSTALK_PARTICLE_ID, UNLABELLED_PARTICLE_ID]),
    min_track_hits=st.integers(1, 4),
)
def test_random_submission_files_of_a_directory(
    seed: int, shape: dict[str, int | bool], mode: str, reserved: int, min_track_hits: int
) -> None:
    """Through the files: the same numbers as the table API, and per-track duplicates that
    add up to the summary (semi-synthetic events when the reserved id is -1)."""
    events = [_event(seed + k, shape, reserved, event_id=k + 1) for k in range(2)]
    rng = np.random.default_rng(seed)
    subs = [random_submission(e, rng, mode) for e in events]
    with tempfile.TemporaryDirectory() as tmp:
        for event in events:
            write_event(event, Path(tmp) / "data")
        path = write_submission(pd.concat(subs, ignore_index=True), Path(tmp) / "sub.csv.gz")
        if not any(len(s) for s in subs):
            return  # no row names an event (covered by the bad-submission tests)
        result = evaluate_submission(Path(tmp) / "data", path, min_track_hits=min_track_hits)
    summary = result.summary
    _summary_rates(summary)
    named = [e for e, s in zip(events, subs, strict=True) if len(s)]
    assert summary[names.N_EVENTS] == len(named)
    scores = [trackml_score(e.truth, s) for e, s in zip(events, subs, strict=True) if len(s)]
    assert summary[names.TRACKML_SCORE] == pytest.approx(float(np.mean(scores)))
    semi = bool(shape["n_reserved"]) and reserved == UNLABELLED_PARTICLE_ID
    assert (summary[names.FAKE_RATE] is None) == semi
    if not semi:
        assert int(result.per_track["duplicate"].sum()) == summary[names.N_DUPLICATE]
        assert int(result.per_track["fake"].sum()) == summary[names.N_FAKE]
    assert set(result.per_track["track_id"]) <= set(pd.concat(subs)["track_id"])
    assert result.unnamed_events == tuple(e.event_id for e in events if e not in named)


def _straw_tables(events: list[Event], subs: list[pd.DataFrame]) -> tuple[pd.DataFrame, ...]:
    truth = pd.concat(
        [e.truth.assign(event_id=e.event_id) for e in events if e.truth is not None],
        ignore_index=True,
    )
    particles = pd.concat(
        [e.particles.assign(event_id=e.event_id) for e in events if e.particles is not None],
        ignore_index=True,
    )
    return truth, pd.concat(subs, ignore_index=True), particles


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=event_shapes(),
    modes=st.lists(st.sampled_from(SUBMISSION_MODES), min_size=1, max_size=4),
    selection=selections,
    min_track_hits=st.integers(1, 4),
)
def test_random_submissions_of_straw_events(
    seed: int,
    shape: dict[str, int | bool],
    modes: list[str],
    selection: ParticleSelection,
    min_track_hits: int,
) -> None:
    """Several events at once (the straw path): the pooled score is the mean of the event
    scores, every fraction lies in [0, 1] and the rates are their counts' ratios."""
    events = [_event(seed + k, shape, CROSSTALK_PARTICLE_ID, event_id=k) for k in range(len(modes))]
    rng = np.random.default_rng(seed)
    subs = [random_submission(e, rng, m) for e, m in zip(events, modes, strict=True)]
    truth, sub, particles = _straw_tables(events, subs)
    result = evaluate_straw(
        truth, sub, particles, selection, min_track_hits=min_track_hits, n_events=len(events)
    )
    summary = result.summary
    _summary_rates(summary)
    _check_rates(result.tracking)  # type: ignore[arg-type]
    expected = np.mean([trackml_score(e.truth, s) for e, s in zip(events, subs, strict=True)])
    assert summary[names.TRACKML_SCORE] == pytest.approx(float(expected))
    straw = result.straw
    assert 0 <= straw.n_found <= straw.n_tracks_true and straw.n_split <= straw.n_tracks_true
    assert 0 <= straw.n_hits_wrong <= straw.n_hits_assigned
    for value in (straw.found_fraction, straw.split_fraction, straw.precision_on_found_tracks):
        assert math.isnan(value) or 0.0 <= value <= 1.0
    assert straw.n_tracks_true == result.tracking.n_particles
