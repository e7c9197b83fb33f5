"""The learned track-quality score: fit, file round trip, bad files, and its use in a build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.building.conftest import barrel_event
from tests.cli_helpers import assert_one_line_error, invoke
from tracknet.building import BuildConfig, build_tracks
from tracknet.building.quality import (
    FEATURES,
    QualityModel,
    fit_quality,
    load_quality,
    quality_for,
    save_quality,
)
from tracknet.errors import ConfigError


def _tracks(rng: np.random.Generator, n: int, fake: bool) -> pd.DataFrame:
    """Track tables as the builder writes them: fakes are short, costly and fit badly."""
    hits = rng.integers(4, 7, n) if fake else rng.integers(7, 14, n)
    return pd.DataFrame(
        {
            "track_id": np.arange(1, n + 1),
            "n_hits": hits,
            "n_candidate_hits": hits,
            "mean_cost": rng.uniform(0.3, 0.7, n) if fake else rng.uniform(0.0, 0.4, n),
            "misses": rng.integers(0, 2, n) if fake else np.zeros(n, dtype=int),
            "fit_rms_mm": rng.uniform(0.2, 0.5, n) if fake else rng.uniform(0.0, 0.3, n),
            "chi2_z": rng.uniform(5, 30, n) if fake else rng.uniform(0, 8, n),
            "fit_momentum_gev": rng.uniform(0.3, 20.0, n),
            "n_double_hits": np.zeros(n, dtype=int),
        }
    )


def test_the_fitted_score_tells_fakes_from_true_tracks_and_survives_a_round_trip(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(5)
    true, fake = _tracks(rng, 400, False), _tracks(rng, 60, True)
    table = pd.concat([true, fake], ignore_index=True)
    labels = np.r_[np.zeros(len(true), bool), np.ones(len(fake), bool)]
    model = fit_quality([table], [labels], "baseline")
    # Held-out tracks of the same kinds.
    p_true = model.fake_probability(_tracks(rng, 200, False))
    p_fake = model.fake_probability(_tracks(rng, 200, True))
    assert np.median(p_fake) > 0.8 and np.median(p_true) < 0.05
    assert model.meta["n_tracks"] == 460 and model.meta["n_fakes"] == 60
    loaded = quality_for(model.save(tmp_path / "q.json"), "baseline")
    assert loaded.algorithm == "baseline" and loaded.weights == model.weights
    # One file holds a score per algorithm.
    other = QualityModel("tracknet", tuple(-w for w in model.weights))
    both = load_quality(save_quality(tmp_path / "both.json", [model, other]))
    assert sorted(both) == ["baseline", "tracknet"]
    assert both["tracknet"].weights == other.weights
    np.testing.assert_allclose(loaded.fake_probability(table), model.fake_probability(table))


def test_fitting_needs_both_kinds_of_track() -> None:
    rng = np.random.default_rng(1)
    table = _tracks(rng, 20, False)
    with pytest.raises(ConfigError, match="both fake and true"):
        fit_quality([table], [np.zeros(20, bool)], "baseline")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json", "not a readable JSON file"),
        ('{"format": "other"}', "not a track-quality file"),
        ('{"format": "tracknet-track-quality", "version": 9}', "version 9"),
        (
            '{"format": "tracknet-track-quality", "version": 2, "features": ["x"]}',
            "features",
        ),
        (
            json.dumps(
                {
                    "format": "tracknet-track-quality",
                    "version": 2,
                    "features": list(FEATURES),
                    "scores": {"baseline": {"weights": [0.0] * len(FEATURES)}},
                }
            ),
            "finite numbers",
        ),
    ],
)
def test_a_bad_quality_file_is_one_line(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "q.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        load_quality(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_quality(tmp_path / "missing.json")


def _constant(tmp_path: Path, bias: float, algorithm: str = "baseline") -> str:
    weights = (bias, *([0.0] * len(FEATURES)))
    return str(QualityModel(algorithm, weights).save(tmp_path / f"q{bias}.json"))


def test_a_build_drops_the_tracks_the_score_calls_fakes(tmp_path: Path) -> None:
    event = barrel_event(1, n_particles=150, seed=3)
    plain = build_tracks(event, "baseline", None, BuildConfig())
    assert plain.n_tracks > 10
    keep_all = BuildConfig(quality_model=_constant(tmp_path, -50.0))
    kept = build_tracks(event, "baseline", None, keep_all)
    pd.testing.assert_frame_equal(kept.submission, plain.submission)
    assert (kept.tracks["fake_probability"] < 1e-6).all()
    drop_all = BuildConfig(quality_model=_constant(tmp_path, 50.0))
    dropped = build_tracks(event, "baseline", None, drop_all)
    assert (dropped.submission["track_id"] == 0).all() and dropped.n_tracks == 0
    # A score fitted on the other algorithm's tracks is refused.
    other = BuildConfig(quality_model=_constant(tmp_path, 0.0, "tracknet"))
    with pytest.raises(ConfigError, match="no score for 'baseline' tracks"):
        build_tracks(event, "baseline", None, other)


def test_quality_command_fits_on_labelled_events_and_refuses_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    assert invoke(
        "simulate", "trackml", "--out", str(data), "--events", "2", "--particles", "4000",
        "--seed", "5", "--no-progress",
    ).code == 0  # fmt: skip
    out = tmp_path / "q.json"
    result = invoke(
        "quality", "--data-dir", str(data), "--out", str(out), "--algorithm", "baseline",
        "--json", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["n_events"] == 2 and summary["baseline"]["n_tracks"] > 100
    assert 0 < summary["baseline"]["n_fakes"] < summary["baseline"]["n_tracks"]
    model = quality_for(out, "baseline")
    assert model.meta["n_events"] == 2
    # The file drives a build.
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"quality_model": str(out)}))
    built = invoke(
        "build", "--data-dir", str(data), "--out", str(tmp_path / "s.csv"),
        "--algorithm", "baseline", "--config", str(config), "--no-progress",
    )  # fmt: skip
    assert built.code == 0, built.err
    # Bad input: one line, nothing written.
    assert_one_line_error(
        invoke("quality", "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "x.json"),
               "--algorithm", "baseline"),
        "nope",
    )  # fmt: skip
    assert_one_line_error(
        invoke("quality", "--data-dir", str(data), "--out", str(tmp_path / "x.json")),
        "--checkpoint",
    )
    assert not (tmp_path / "x.json").exists()


def _by_length(tmp_path: Path, longest: int) -> str:
    """A score that calls every candidate or track of more than ``longest`` hits a fake."""
    assert FEATURES[0] == "candidate_hits"
    weights = (-10.0 * (longest + 0.5), 10.0, *([0.0] * (len(FEATURES) - 1)))
    return str(QualityModel("baseline", weights).save(tmp_path / "length.json"))


def test_a_score_on_candidates_leaves_their_hits_to_the_other_candidates(tmp_path: Path) -> None:
    event = barrel_event(1, n_particles=150, seed=3)
    plain = build_tracks(event, "baseline", None, BuildConfig())
    assert plain.tracks["n_candidate_hits"].max() > 8
    score = _by_length(tmp_path, 8)
    on_candidates = build_tracks(event, "baseline", None, BuildConfig(quality_model=score))
    on_tracks = build_tracks(
        event, "baseline", None, BuildConfig(quality_model=score, quality_on="tracks")
    )
    for built in (on_candidates, on_tracks):
        assert built.tracks["n_candidate_hits"].max() <= 8
        assert (built.tracks["fake_probability"] <= BuildConfig().max_fake_probability).all()
    # Dropped at the end, the long tracks take their hits with them; refused as candidates,
    # they leave them to the shorter candidates of the same particles.
    assert on_tracks.n_tracks < plain.n_tracks - 3
    assert on_candidates.n_tracks >= plain.n_tracks - 1
    assigned = (on_candidates.submission["track_id"] > 0).sum()
    assert assigned > 0.9 * (plain.submission["track_id"] > 0).sum()
    assert assigned > 1.5 * (on_tracks.submission["track_id"] > 0).sum()


def test_candidates_are_labelled_by_the_truth_given(tmp_path: Path) -> None:
    event = barrel_event(1, n_particles=150, seed=3)
    particle = event.truth["particle_id"].to_numpy()
    clean = build_tracks(event, "baseline", None, BuildConfig(), candidate_truth=particle)
    assert clean.candidates is not None and len(clean.candidates) >= clean.n_tracks
    assert clean.candidates["fake"].mean() < 0.1
    assert (clean.candidates["n_candidate_hits"] >= BuildConfig().min_hits).all()
    shuffled = np.random.default_rng(0).permutation(particle)
    mixed = build_tracks(event, "baseline", None, BuildConfig(), candidate_truth=shuffled)
    assert mixed.candidates is not None and mixed.candidates["fake"].mean() > 0.9
    assert build_tracks(event, "baseline", None, BuildConfig()).candidates is None


def test_a_bad_quality_on_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="quality_on"):
        BuildConfig.from_dict({"quality_on": "hits"})
    weights = (0.0, *([0.0] * len(FEATURES)))
    on_tracks = QualityModel("baseline", weights, {"quality_on": "tracks"})
    path = str(on_tracks.save(tmp_path / "tracks.json"))
    event = barrel_event(1, n_particles=40, seed=3)
    with pytest.raises(ConfigError, match="fitted on tracks"):
        build_tracks(event, "baseline", None, BuildConfig(quality_model=path))
