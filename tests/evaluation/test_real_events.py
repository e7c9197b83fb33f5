"""The score and the metrics on the real TrackML barrel events (ez-0.1, ez-0.2).

These events keep 10% / 20% of the particles of event 1000 in the barrel, with noise;
their ``truth.weight`` sums to 1. Skipped when ``../shared/data/trackml`` is absent.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.reference_score import reference_min_pt_weights, reference_score
from tracknet.evaluation import (
    ParticleSelection,
    compute_hit_weights,
    evaluate_event,
    evaluate_events,
    match_tracks,
    names,
    trackml_score,
)
from tracknet.events import Event

pytestmark = pytest.mark.shared_data


def perfect_submission(event: Event) -> pd.DataFrame:
    truth = event.truth
    labelled = truth["particle_id"].to_numpy() > 0
    return pd.DataFrame(
        {
            "hit_id": truth["hit_id"].to_numpy()[labelled],
            "track_id": truth["particle_id"].to_numpy()[labelled],
        }
    )


def halves_submission(event: Event) -> tuple[pd.DataFrame, dict[int, tuple[list[int], list[int]]]]:
    """Every particle split in two tracks: its first floor(n/2) hits by |tz - vz|, then the rest.

    Written as a plain loop over particles, to be obviously right.
    """
    vz_of = dict(
        zip(event.particles["particle_id"].tolist(), event.particles["vz"].tolist(), strict=True)
    )
    hits_of: dict[int, list[tuple[float, int]]] = {}
    for hit, pid, tz in zip(
        event.truth["hit_id"].tolist(),
        event.truth["particle_id"].tolist(),
        event.truth["tz"].tolist(),
        strict=True,
    ):
        if pid > 0:
            hits_of.setdefault(pid, []).append((abs(tz - vz_of[pid]), hit))
    halves = {}
    rows = []
    for k, (pid, hits) in enumerate(sorted(hits_of.items())):
        ordered = [hit for _, hit in sorted(hits)]
        first, second = ordered[: len(ordered) // 2], ordered[len(ordered) // 2 :]
        halves[pid] = (first, second)
        rows += [(hit, 2 * k + 1) for hit in first] + [(hit, 2 * k + 2) for hit in second]
    return pd.DataFrame(rows, columns=["hit_id", "track_id"]), halves


def test_perfect_submission(ez_event: Event) -> None:
    truth = ez_event.truth
    sub = perfect_submission(ez_event)
    assert truth["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert trackml_score(truth, sub) == pytest.approx(1.0, abs=1e-12)
    # The score divides by the event's total weight: scaled weights still score 1.
    assert trackml_score(truth, sub, weights=0.37 * truth["weight"].to_numpy()) == pytest.approx(
        1.0, abs=1e-12
    )
    assert trackml_score(
        truth, sub, particles=ez_event.particles, use_computed_weights=True
    ) == pytest.approx(1.0, abs=1e-12)
    assert trackml_score(truth, sub, particles=ez_event.particles, min_pt=1.0) == pytest.approx(
        1.0, abs=1e-12
    )
    m = match_tracks(truth, sub, ez_event.particles).metrics
    assert (m.efficiency, m.perfect_efficiency, m.fake_rate, m.duplicate_rate) == (
        1.0,
        1.0,
        0.0,
        0.0,
    )
    assert (
        m.n_particles == (truth[truth["particle_id"] > 0].groupby("particle_id").size() >= 3).sum()
    )


def test_halves_submission(ez_event: Event) -> None:
    truth = ez_event.truth
    sub, halves = halves_submission(ez_event)
    weight_of = dict(zip(truth["hit_id"].tolist(), truth["weight"].tolist(), strict=True))
    # A half is good only when it holds more than half of the particle: the second half
    # of a particle with an odd number of hits. Even particles are split exactly 50/50.
    expected = 0.0
    for first, second in halves.values():
        if len(second) > len(first):
            expected += sum(weight_of[h] for h in second)
    expected /= sum(weight_of.values())
    assert 0.1 < expected < 0.9
    assert trackml_score(truth, sub) == pytest.approx(expected, abs=1e-12)

    # Metrics (min_hits 3, min_track_hits 3): a particle is found when its second half is
    # longer than the first and long enough (n odd and n >= 5). Both halves are matched
    # tracks when each has >= 3 hits (n >= 6): one duplicate per such particle.
    selected = [pid for pid, (a, b) in halves.items() if len(a) + len(b) >= 3]
    found = [
        pid
        for pid in selected
        if len(halves[pid][1]) > len(halves[pid][0]) and len(halves[pid][1]) >= 3
    ]
    matched = [(pid, half) for pid in selected for half in halves[pid] if len(half) >= 3]
    duplicates = len(matched) - len({pid for pid, _ in matched})
    m = match_tracks(truth, sub, ez_event.particles).metrics
    assert (m.n_particles, m.n_found, m.n_matched, m.n_duplicate) == (
        len(selected),
        len(found),
        len(matched),
        duplicates,
    )
    assert m.efficiency == pytest.approx(len(found) / len(selected))
    assert m.duplicate_rate == pytest.approx(duplicates / len(matched))
    assert m.duplicate_rate > 0 and m.fake_rate == 0.0 and m.perfect_efficiency == 0.0


def _wrong_submissions(event: Event, seed: int) -> list[pd.DataFrame]:
    """A random submission and partly wrong ones (hits moved, tracks merged, hits dropped)."""
    rng = np.random.default_rng(seed)
    truth = event.truth
    hit_id = truth["hit_id"].to_numpy()
    pid = truth["particle_id"].to_numpy()
    n = hit_id.size
    out = [pd.DataFrame({"hit_id": hit_id, "track_id": rng.integers(0, n // 8, n)})]
    _, track = np.unique(pid, return_inverse=True)  # one track per particle, noise included
    for moved, merged, dropped in ((0.05, 0.0, 0.0), (0.25, 0.1, 0.1), (0.5, 0.3, 0.3)):
        t = track.copy()
        move = rng.random(n) < moved
        t[move] = rng.integers(0, track.max() + 1, move.sum())
        mapping = np.arange(track.max() + 1)
        merge = rng.random(mapping.size) < merged
        mapping[merge] = rng.integers(0, mapping.size, merge.sum())
        t = mapping[t]
        keep = rng.random(n) >= dropped
        out.append(
            pd.DataFrame({"hit_id": hit_id[keep], "track_id": t[keep]}).sample(
                frac=1.0, random_state=seed
            )
        )
    return out


@pytest.mark.parametrize("weights", ["truth", "min_pt", "computed"])
def test_agrees_with_reference_on_real_events(ez_event: Event, weights: str) -> None:
    truth, particles = ez_event.truth, ez_event.particles
    hit_ids = truth["hit_id"].tolist()
    pids = truth["particle_id"].tolist()
    if weights == "truth":
        w = truth["weight"].tolist()
        options: dict = {}
    elif weights == "min_pt":
        pt_of = dict(
            zip(
                particles["particle_id"].tolist(),
                np.hypot(particles["px"], particles["py"]).tolist(),
                strict=True,
            )
        )
        w = reference_min_pt_weights(pids, truth["weight"].tolist(), pt_of, 1.0)
        options = {"particles": particles, "min_pt": 1.0}
    else:
        w = compute_hit_weights(truth, particles).tolist()
        options = {"particles": particles, "use_computed_weights": True}
    scores = []
    for seed in (1, 2):
        for sub in _wrong_submissions(ez_event, seed):
            expected = reference_score(
                hit_ids,
                pids,
                w,
                dict(zip(sub["hit_id"].tolist(), sub["track_id"].tolist(), strict=True)),
            )
            got = trackml_score(truth, sub, **options)
            assert got == pytest.approx(expected, abs=1e-12)
            scores.append(got)
    assert max(scores) > 0.3 and min(scores) < 0.05  # the submissions span good and bad


def test_min_pt_zeroes_soft_particles(ez_event: Event) -> None:
    """Found only the particles below 2 GeV: with min_pt = 2 the score is 0."""
    truth, particles = ez_event.truth, ez_event.particles
    pt = pd.Series(
        np.hypot(particles["px"], particles["py"]).to_numpy(), index=particles["particle_id"]
    )
    soft = truth["particle_id"].map(pt).fillna(0.0).to_numpy() < 2.0
    labelled = (truth["particle_id"] > 0).to_numpy() & soft
    sub = pd.DataFrame(
        {"hit_id": truth["hit_id"][labelled], "track_id": truth["particle_id"][labelled]}
    )
    assert trackml_score(truth, sub, particles=particles, min_pt=2.0) == 0.0
    assert 0.0 < trackml_score(truth, sub) < 1.0


def test_evaluate_event_and_summary(ez_event: Event) -> None:
    sub = perfect_submission(ez_event)
    score, metrics, per_particle = evaluate_event(ez_event, sub, ParticleSelection(min_pt=1.0))
    assert score == pytest.approx(1.0, abs=1e-12)
    assert metrics.efficiency == 1.0 and metrics.n_particles == int(per_particle["selected"].sum())
    assert per_particle.loc[per_particle["selected"], "pt"].min() >= 1.0
    halves, _ = halves_submission(ez_event)
    summary = evaluate_events([(ez_event, sub), (ez_event, halves)])
    assert list(summary) == list(names.METRIC_NAMES)
    assert summary[names.N_EVENTS] == 2
    assert summary[names.TRACKML_SCORE] == pytest.approx(
        (1.0 + trackml_score(ez_event.truth, halves)) / 2
    )
    json.dumps(summary)
