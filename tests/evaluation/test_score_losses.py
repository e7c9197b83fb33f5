"""Where the TrackML score's weight goes: each part on a hand-made event, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import make_small_event, truth_submission
from tracknet.evaluation.score import trackml_score
from tracknet.evaluation.score_losses import SCORE_LOSS_KEYS, score_losses
from tracknet.io.trackml import write_event

# Particle: (pT GeV, vertex r mm, hits); the hits get ids in this order, noise last.
PARTICLES = {
    11: (2.0, 0.0, 5),  # primary, found; one of its hits on C's track
    12: (0.3, 0.0, 4),  # primary, found with 3 hits; the fourth on no track
    13: (0.7, 50.0, 4),  # secondary, split in two halves: not found
    14: (0.8, 0.0, 4),  # primary, on no track
}


def _event() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # Noise: one hit on track 2, five on no track (so that track 0 holds no majority).
    owner = np.concatenate([np.full(n, p) for p, (_, _, n) in PARTICLES.items()] + [[0] * 6])
    hit_id = np.arange(1, len(owner) + 1)
    weight = np.where(owner > 0, 1.0 + 0.1 * hit_id, 0.0)
    truth = pd.DataFrame({"hit_id": hit_id, "particle_id": owner, "weight": weight})
    particles = pd.DataFrame(
        {
            "particle_id": list(PARTICLES),
            "px": [pt for pt, _, _ in PARTICLES.values()],
            "py": 0.0,
            "pz": 1.0,
            "vx": [vr for _, vr, _ in PARTICLES.values()],
            "vy": 0.0,
            "vz": 0.0,
        }
    )
    track = np.zeros(len(owner), dtype=np.int64)
    rows = {p: np.flatnonzero(owner == p) for p in PARTICLES}
    track[rows[11][:4]] = 1
    track[rows[12][:3]] = 2
    track[np.flatnonzero(owner == 0)[0]] = 2  # a noise hit: track 2 is 3 of 4 particle 12
    track[rows[13][:2]] = 3
    track[rows[11][4]] = 3  # track 3: two hits of 13 and one of 11, 13 holds no majority
    track[rows[13][2:]] = 4
    submission = pd.DataFrame({"hit_id": hit_id, "track_id": track})
    return truth, particles, submission


def test_each_part_holds_the_weight_of_its_hits() -> None:
    truth, particles, submission = _event()
    parts = score_losses(truth, submission, particles)
    assert list(parts) == list(SCORE_LOSS_KEYS)
    assert sum(parts.values()) == pytest.approx(1.0)
    assert parts["scored"] == pytest.approx(trackml_score(truth, submission))
    w = truth.set_index("hit_id")["weight"]
    total = w.sum()
    owner = truth["particle_id"].to_numpy()
    rows = {p: truth["hit_id"].to_numpy()[owner == p] for p in PARTICLES}
    expected = {
        "scored": w[rows[11][:4]].sum() + w[rows[12][:3]].sum(),
        "found_hits_on_no_track": w[rows[12][3]],
        "found_hits_on_other_tracks": w[rows[11][4]],
        "unfound_secondaries_pt_0.5_to_1": w[rows[13]].sum(),
        "unfound_primaries_pt_0.5_to_1": w[rows[14]].sum(),
    }
    for key in SCORE_LOSS_KEYS:
        assert parts[key] == pytest.approx(expected.get(key, 0.0) / total), key


def test_scored_is_the_score_when_the_unassigned_hits_hold_a_particle() -> None:
    truth, particles, submission = _event()
    noise = np.flatnonzero(truth["particle_id"].to_numpy() == 0)[1:]
    truth, submission = truth.drop(index=noise), submission.drop(index=noise)
    # Track 0 now holds particle 14 (4 of its 5 hits), so the score finds 14 there.
    parts = score_losses(truth, submission, particles)
    assert parts["scored"] == pytest.approx(trackml_score(truth, submission))
    assert parts["unfound_primaries_pt_0.5_to_1"] == 0.0
    assert sum(parts.values()) == pytest.approx(1.0)


def test_a_particle_missing_from_the_particles_table_is_named() -> None:
    truth, particles, submission = _event()
    with pytest.raises(Exception, match="particle 14"):
        score_losses(truth, submission, particles[particles["particle_id"] != 14])


def test_the_cli_adds_the_parts_to_the_summary(tmp_path: Path) -> None:
    event = make_small_event(event_id=3, n_particles=6, n_noise=4)
    write_event(event, tmp_path / "data")
    sub = truth_submission(event)
    path = tmp_path / "sub.csv"
    sub.to_csv(path, index=False)
    args = ("evaluate", "--data-dir", str(tmp_path / "data"), "--submission", str(path))
    result = invoke(*args, "--score-losses", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    parts = {k: v for k, v in summary.items() if k.startswith("score_weight_")}
    assert len(parts) == len(SCORE_LOSS_KEYS)
    assert sum(parts.values()) == pytest.approx(1.0)
    assert parts["score_weight_scored"] == pytest.approx(summary["trackml_score"])
    plain = json.loads(invoke(*args, "--json").out)
    assert not any(k.startswith("score_weight_") for k in plain)
    straw = tmp_path / "straw"
    made = invoke("simulate", "straw", "--out", str(straw), "--events", "3", "--no-progress")
    assert made.code == 0, made.err
    assert_one_line_error(
        invoke("evaluate", "--data-dir", str(straw), "--submission", str(path), "--score-losses"),
        "--score-losses",
    )
