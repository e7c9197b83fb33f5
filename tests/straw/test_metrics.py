"""The straw metrics, table-driven with hand-computed values, and their pooling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tracknet.errors import DataError
from tracknet.evaluation import ParticleSelection, names, trackml_score
from tracknet.evaluation.straw import aggregate_straw, evaluate_straw, straw_metrics

NOISE, XTALK, UNLAB = 0, -2, -1


def _tables(
    labels: dict[int, int], tracks: dict[int, tuple[int, ...]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """truth from {hit_id: particle_id}, submission from {track_id: hit ids}."""
    truth = pd.DataFrame({"hit_id": list(labels), "particle_id": list(labels.values())})
    rows = [(h, t) for t, hits in tracks.items() for h in hits]
    sub = (
        pd.DataFrame(rows, columns=["hit_id", "track_id"])
        if rows
        else pd.DataFrame({"hit_id": [], "track_id": []}, dtype=np.int64)
    )
    return truth, sub


def _labels(**groups: tuple[int, ...]) -> dict[int, int]:
    ids = {"T1": 1, "T2": 2, "noise": NOISE, "xtalk": XTALK, "unlab": UNLAB}
    return {h: ids[name] for name, hits in groups.items() for h in hits}


T1_T2 = _labels(T1=(1, 2, 3, 4, 5), T2=(6, 7, 8, 9, 10), noise=(11,), xtalk=(12,))
NAN = math.nan
#      name, labels, tracks, precision, wrong, found, split, n_true, n_assigned, n_wrong
CASES = [
    ("perfect", T1_T2, {1: (1, 2, 3, 4, 5), 2: (6, 7, 8, 9, 10)}, 1.0, 0.0, 1.0, 0.0, 2, 10, 0),
    # T1 loses hit 5 to T2's track and gains the noise hit: 4/5 and 5/5 found, 2 of 11 wrong.
    (
        "lost and wrong hits",
        T1_T2,
        {1: (1, 2, 3, 4, 11), 2: (6, 7, 8, 9, 10, 5)},
        0.9,
        2 / 11,
        1.0,
        0.0,
        2,
        11,
        2,
    ),
    # A crosstalk hit on a track is wrong.
    (
        "crosstalk",
        T1_T2,
        {1: (1, 2, 3, 4, 5, 12), 2: (6, 7, 8, 9, 10)},
        1.0,
        1 / 11,
        1.0,
        0.0,
        2,
        11,
        1,
    ),
    # T1 split in two halves of 4: each matches T1, neither holds more than half of it.
    (
        "split, not found",
        _labels(T1=tuple(range(1, 9))),
        {1: (1, 2, 3, 4), 2: (5, 6, 7, 8)},
        NAN,
        0.0,
        0.0,
        1.0,
        1,
        8,
        0,
    ),
    # T1 of 9 hits: a 6-hit track finds it (6/9), a 3-hit track splits it.
    (
        "found and split",
        _labels(T1=tuple(range(1, 10))),
        {1: (1, 2, 3, 4, 5, 6), 2: (7, 8, 9)},
        6 / 9,
        0.0,
        1.0,
        1.0,
        1,
        9,
        0,
    ),
    # Exactly 50%: the majority (ties to the smaller id, T1) is not enough: no match, all wrong.
    (
        "ties at 50%",
        _labels(T1=(1, 2, 3, 4), T2=(5, 6, 7, 8)),
        {1: (1, 2, 5, 6), 2: (3, 4, 7, 8)},
        NAN,
        1.0,
        0.0,
        0.0,
        2,
        8,
        8,
    ),
    # A track of noise only; the true track is left unassigned.
    (
        "noise track",
        _labels(T1=(1, 2, 3, 4, 5), noise=(6, 7, 8)),
        {9: (6, 7, 8)},
        NAN,
        1.0,
        0.0,
        0.0,
        1,
        3,
        3,
    ),
    # A 2-hit track is ignored (min_track_hits 3): its hits are not assigned.
    ("short track ignored", T1_T2, {1: (1, 2, 3, 4, 5), 2: (6, 7)}, 1.0, 0.0, 0.5, 0.0, 2, 5, 0),
    # Unlabelled hits are neither right nor wrong.
    (
        "unlabelled left out",
        _labels(T1=(1, 2, 3, 4, 5), unlab=(6, 7)),
        {1: (1, 2, 3, 4, 5, 6)},
        1.0,
        0.0,
        1.0,
        0.0,
        1,
        5,
        0,
    ),
    ("empty submission", T1_T2, {}, NAN, 0.0, 0.0, 0.0, 2, 0, 0),
    # Only noise and crosstalk: no true track, rates over true tracks undefined.
    (
        "no true track",
        _labels(noise=(1, 2, 3), xtalk=(4,)),
        {1: (1, 2, 3, 4)},
        NAN,
        1.0,
        NAN,
        NAN,
        0,
        4,
        4,
    ),
]


@pytest.mark.parametrize(
    ("labels", "tracks", "precision", "wrong", "found", "split", "n_true", "n_assigned", "n_wrong"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_straw_metrics_table(
    labels, tracks, precision, wrong, found, split, n_true, n_assigned, n_wrong
) -> None:
    truth, sub = _tables(labels, tracks)
    m = straw_metrics(truth, sub)
    for got, expected in (
        (m.precision_on_found_tracks, precision),
        (m.wrong_hit_fraction, wrong),
        (m.found_fraction, found),
        (m.split_fraction, split),
    ):
        assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)
    assert (m.n_tracks_true, m.n_hits_assigned, m.n_hits_wrong) == (n_true, n_assigned, n_wrong)
    as_dict = m.to_dict()
    assert list(as_dict) == list(names.STRAW_NAMES)
    assert all(v is None or math.isfinite(v) for v in as_dict.values())


def test_selection_and_min_track_hits() -> None:
    truth, sub = _tables(_labels(T1=(1, 2, 3, 4, 5), T2=(6, 7)), {1: (1, 2, 3, 4, 5), 2: (6, 7)})
    assert straw_metrics(truth, sub).n_tracks_true == 1  # T2 has 2 hits < 3
    both = straw_metrics(truth, sub, selection=ParticleSelection(min_hits=2), min_track_hits=2)
    assert both.n_tracks_true == 2 and both.found_fraction == 1.0 and both.n_hits_assigned == 7


def _two_events() -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[pd.DataFrame, pd.DataFrame]]]:
    parts = [
        _tables(T1_T2, {1: (1, 2, 3, 4, 11), 2: (6, 7, 8, 9, 10, 5)}),
        _tables(
            _labels(T1=tuple(range(1, 10)), noise=(10,)), {4: (1, 2, 3, 4, 5, 6), 9: (7, 8, 9, 10)}
        ),
        _tables(_labels(T1=(1, 2, 3, 4), T2=(5, 6, 7, 8)), {1: (1, 2, 5, 6), 2: (3, 4, 7, 8)}),
    ]
    truths, subs = [], []
    for event_id, (truth, sub) in zip((10, 20, 30), parts, strict=True):
        n_labelled = (truth["particle_id"] > 0).sum()
        truths.append(
            truth.assign(
                event_id=event_id, weight=np.where(truth["particle_id"] > 0, 1.0 / n_labelled, 0.0)
            )
        )
        subs.append(sub.assign(event_id=event_id))
    return (
        pd.concat(truths, ignore_index=True),
        pd.concat(subs, ignore_index=True),
        list(zip(truths, subs, strict=True)),
    )


def test_many_events_at_once_equal_the_pooled_events() -> None:
    truth, sub, events = _two_events()
    pooled = aggregate_straw(
        straw_metrics(t.drop(columns="event_id"), s.drop(columns="event_id")) for t, s in events
    )
    at_once = straw_metrics(truth, sub)
    assert at_once == pooled
    assert at_once.n_events == 3 and at_once.n_tracks_true == 5
    result = evaluate_straw(truth, sub)
    # The score is the mean of the event scores.
    scores = [trackml_score(t, s) for t, s in events]
    assert result.summary[names.TRACKML_SCORE] == pytest.approx(np.mean(scores))
    assert result.summary[names.N_EVENTS] == 3 and result.summary[
        names.PRECISION_ON_FOUND_TRACKS
    ] == pytest.approx(at_once.precision_on_found_tracks)
    # Tables come back with event ids and the original ids.
    assert set(result.per_track["event_id"]) == {10, 20, 30}
    assert set(result.per_track.loc[result.per_track["event_id"] == 20, "track_id"]) == {4, 9}
    assert set(result.per_particle["particle_id"]) == {1, 2}
    assert set(result.per_track.loc[result.per_track["matched"], "majority_particle_id"]) <= {1, 2}
    # An event without hits scores 0 and counts in the mean.
    with_empty = evaluate_straw(truth, sub, n_events=4)
    assert with_empty.summary[names.TRACKML_SCORE] == pytest.approx(np.sum(scores) / 4)


def test_bad_tables() -> None:
    truth, sub, _ = _two_events()
    with pytest.raises(DataError, match="appears twice"):
        straw_metrics(truth, pd.concat([sub, sub.iloc[:1]]))
    with pytest.raises(DataError, match="not a hit"):
        straw_metrics(
            truth,
            pd.concat([sub, pd.DataFrame({"event_id": [10], "hit_id": [99], "track_id": [1]})]),
        )
    with pytest.raises(DataError, match="duplicate hit_id"):
        straw_metrics(pd.concat([truth, truth.iloc[:1]]), sub)
