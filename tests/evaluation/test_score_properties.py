"""Property tests of the TrackML score on random small events (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.evaluation.reference_score import reference_score
from tracknet.evaluation import trackml_score

SETTINGS = settings(max_examples=75, deadline=None)


@st.composite
def events(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random truth (noise weighs 0, weights sum to 1 when any is positive) and submission."""
    n = draw(st.integers(min_value=0, max_value=40))
    n_particles = draw(st.integers(min_value=1, max_value=8))
    particle = np.array(
        draw(st.lists(st.integers(0, n_particles), min_size=n, max_size=n)), dtype=np.int64
    )
    particle = np.where(particle > 0, particle * 1_000_003, 0)  # large, non-contiguous ids
    raw = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)), dtype=np.float64)
    weight = np.where(particle == 0, 0.0, raw)
    if weight.sum() > 0:
        weight = weight / weight.sum()
    hit_id = np.array(draw(st.permutations(list(range(1, n + 1)))), dtype=np.int64) * 3
    truth = pd.DataFrame({"hit_id": hit_id, "particle_id": particle, "weight": weight})
    submitted = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    n_tracks = draw(st.integers(min_value=1, max_value=10))
    track = np.array(
        draw(st.lists(st.integers(0, n_tracks), min_size=n, max_size=n)), dtype=np.int64
    )
    sub = pd.DataFrame({"hit_id": hit_id[submitted], "track_id": track[submitted]})
    return truth, sub.sample(frac=1.0, random_state=0)


@SETTINGS
@given(events())
def test_score_between_zero_and_one(event: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    truth, sub = event
    score = trackml_score(truth, sub)
    assert -1e-12 <= score <= 1.0 + 1e-12


@SETTINGS
@given(events(), st.data())
def test_score_invariant_under_track_relabelling(
    event: tuple[pd.DataFrame, pd.DataFrame], data: st.DataObject
) -> None:
    truth, sub = event
    old = np.unique(sub["track_id"].to_numpy())
    new = np.array(
        data.draw(
            st.lists(
                st.integers(-(10**12), 10**12), min_size=old.size, max_size=old.size, unique=True
            )
        ),
        dtype=np.int64,
    )
    relabelled = sub.assign(track_id=new[np.searchsorted(old, sub["track_id"].to_numpy())])
    relabelled = relabelled.sample(frac=1.0, random_state=1)  # and the rows reordered
    assert trackml_score(truth, relabelled) == trackml_score(truth, sub)


@SETTINGS
@given(events())
def test_perfect_submission_scores_one(event: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    truth, _ = event
    labelled = truth["particle_id"] > 0
    sub = pd.DataFrame(
        {"hit_id": truth["hit_id"][labelled], "track_id": truth["particle_id"][labelled]}
    )
    expected = 1.0 if truth["weight"].sum() > 0 else 0.0
    assert abs(trackml_score(truth, sub) - expected) <= 1e-12


@SETTINGS
@given(events())
def test_agrees_with_reference(event: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    truth, sub = event
    expected = reference_score(
        truth["hit_id"].tolist(),
        truth["particle_id"].tolist(),
        truth["weight"].tolist(),
        dict(zip(sub["hit_id"].tolist(), sub["track_id"].tolist(), strict=True)),
    )
    assert abs(trackml_score(truth, sub) - expected) <= 1e-12
