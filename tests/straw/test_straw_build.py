"""Straw tracking: training tracks, the batched straw builder, the CLI, a tiny training run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tracknet.building.straw import (
    StrawBuildConfig,
    StrawHits,
    build_straw_batch,
    extend_straw,
    find_straw_seeds,
)
from tracknet.data.straw_tracks import straw_tracks
from tracknet.evaluation.straw import evaluate_straw
from tracknet.io.straw import write_straw_dataset
from tracknet.simulation.straw import Occupancy, StrawBatch, StrawConfig, StrawResponse, TrackGun, simulate_straw_batch

from .helpers import assert_one_line_error, make_app, run

GEOMETRY = StrawConfig().geometry


def _single_tracks(n: int, seed: int, *, straight: bool, ideal: bool = True) -> StrawBatch:
    config = StrawConfig(
        gun=TrackGun(straight=straight),
        occupancy=Occupancy(distribution="fixed", mean=1.0, min_tracks=1),
        response=StrawResponse.ideal() if ideal else StrawResponse(),
    )
    return simulate_straw_batch(config, n, seed)


def _metrics(batch: StrawBatch, submission: pd.DataFrame) -> dict[str, Any]:
    truth = pd.DataFrame({c: batch.hits[c] for c in ("event_id", "hit_id", "particle_id", "weight")})
    return evaluate_straw(truth, submission).straw.to_dict()


class TruthFollower:
    """A perfect follower for the loop's mechanics: it predicts the true crossing of the
    next layer by the particle of the candidate's last hit (radius 3 mm)."""

    def __init__(self, batch: StrawBatch) -> None:
        from tracknet.simulation.straw.tracks import TrackStates, curvature, layer_crossings

        p = batch.particles
        mom = np.hypot(p["px"], p["py"])
        states = TrackStates(p["vx"], p["vy"], np.arctan2(p["py"], p["px"]), mom, p["q"], curvature(mom, p["q"], 1.45))
        track, layer, y, _ = layer_crossings(states, GEOMETRY.layer_x, np.radians(72.5))
        self.table = np.full((len(mom), GEOMETRY.n_layers), np.nan)
        self.table[track, layer] = y
        key = p["event_id"] * 1000 + p["particle_id"]
        self.particle_of_hit = np.searchsorted(key, batch.hits["event_id"] * 1000 + batch.hits["particle_id"])

    def start(self, entries: np.ndarray) -> None:
        return None

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray) -> None:
        return None

    def take(self, state: Any, rows: np.ndarray) -> None:
        return None

    @staticmethod
    def concatenate(states: list[Any]) -> None:
        return None

    def predict(self, state: Any, paths: np.ndarray, n_hits: np.ndarray, hits: StrawHits, next_x: np.ndarray) -> Any:
        last = paths[np.arange(len(n_hits)), n_hits - 1]
        layer = np.searchsorted(GEOMETRY.layer_x, next_x - 1e-6)
        y = self.table[self.particle_of_hit[last], layer]
        return np.stack([next_x, np.nan_to_num(y, nan=1e4 - 1)], axis=1), np.full(len(n_hits), 3.0)


def _hits_of(batch: StrawBatch) -> StrawHits:
    h = batch.hits
    row = np.searchsorted(batch.events["event_id"], h["event_id"])
    layer = h["volume_id"].astype(np.int64) * GEOMETRY.layers_per_module + h["layer_id"]
    return StrawHits.make(row, h["x"], h["y"], h["drift_mm"], layer, GEOMETRY.layer_x, GEOMETRY.layers_per_module, GEOMETRY.pitch_mm)


# --------------------------------------------------------------------------- training tracks


def test_training_tracks_hold_one_entry_per_layer_and_every_hit() -> None:
    batch = _single_tracks(200, 1, straight=False, ideal=False)
    tracks = straw_tracks(batch, GEOMETRY.layer_x, GEOMETRY.layers_per_module, min_hits=3)
    assert tracks.n_tracks > 150
    layer = np.searchsorted(GEOMETRY.layer_x, tracks.coords[:, 0] - 1e-6)
    first = np.repeat(layer[tracks.offsets[:-1]], tracks.lengths)
    within = np.arange(len(layer)) - np.repeat(tracks.offsets[:-1], tracks.lengths)
    assert np.array_equal(layer, first + within)  # consecutive layers, no gap, no repeat
    assert np.all(tracks.is_hit[tracks.offsets[:-1]]) and np.all(tracks.is_hit[tracks.offsets[1:] - 1])
    # Every labelled hit of a track with >= 3 hits is an entry, at its straw centre.
    labelled = batch.hits["particle_id"] > 0
    events, counts = np.unique(batch.hits["event_id"][labelled], return_counts=True)
    assert int(tracks.is_hit.sum()) == int(counts[counts >= 3].sum())
    hit_y = set(np.round(batch.hits["y"][labelled], 6))
    assert set(np.round(tracks.coords[tracks.is_hit, 1], 6)) <= hit_y
    # Layers crossed without a hit are filled in (about one in five).
    assert 0.05 < (~tracks.is_hit).mean() < 0.4


# --------------------------------------------------------------------------- builder


def test_seeds_pair_hits_of_one_event_and_module_only() -> None:
    batch = simulate_straw_batch(StrawConfig(), 300, 4)
    hits = _hits_of(batch)
    seeds = find_straw_seeds(hits, StrawBuildConfig())
    assert len(seeds) > 0
    a, b = seeds[:, 0], seeds[:, 1]
    assert np.all(hits.event[a] == hits.event[b])
    assert np.all(hits.layer[b] > hits.layer[a]) and np.all(hits.layer[b] - hits.layer[a] <= 2)
    assert np.all(hits.layer[a] // 4 == hits.layer[b] // 4) and np.all(hits.layer[a] < 8)


def test_a_perfect_follower_finds_every_clean_track_with_all_its_hits() -> None:
    batch = _single_tracks(300, 2, straight=False)
    config = StrawBuildConfig()
    submission = build_straw_batch(batch, GEOMETRY, "baseline", None, config, follower=TruthFollower(batch))
    m = _metrics(batch, submission)
    # What is left is the seeding's reach: tracks without two hits close together in
    # one of the first two modules (about 2 %).
    assert m["found_fraction"] >= 0.97
    assert m["precision_on_found_tracks"] >= 0.99
    assert m["wrong_hit_fraction"] == 0.0 and m["split_fraction"] <= 0.01


@pytest.mark.parametrize("straight", [True, False], ids=["line", "circle"])
def test_the_baseline_follows_lines_and_circles(straight: bool) -> None:
    batch = _single_tracks(300, 3, straight=straight)
    m = _metrics(batch, build_straw_batch(batch, GEOMETRY, "baseline", None, StrawBuildConfig()))
    assert m["wrong_hit_fraction"] == 0.0
    assert m["found_fraction"] >= 0.85 and m["precision_on_found_tracks"] >= 0.8


def test_every_hit_once_and_events_are_never_mixed() -> None:
    # The same event many times over: a builder that mixed events would see stacked hits.
    one = simulate_straw_batch(StrawConfig(occupancy=Occupancy(distribution="fixed", mean=3.0)), 40, 5)
    copies = StrawBatch.concat(
        [
            StrawBatch(
                {**one.events, "event_id": one.events["event_id"] + 1000 * k},
                {**one.hits, "event_id": one.hits["event_id"] + 1000 * k},
                {**one.particles, "event_id": one.particles["event_id"] + 1000 * k},
                one.meta,
            )
            for k in range(5)
        ]
    )
    config = StrawBuildConfig(events_per_batch=64)  # chunks cut through the copies
    submission = build_straw_batch(copies, GEOMETRY, "baseline", None, config)
    assert len(submission) == copies.n_hits
    assert not submission.duplicated(["event_id", "hit_id"]).any()
    assert np.array_equal(submission["hit_id"].to_numpy(), copies.hits["hit_id"])
    tracks = submission["track_id"].to_numpy().reshape(5, -1)
    assert (tracks > 0).any() and np.all(tracks == tracks[0])
    # Candidates hold hits of one event only.
    hits = _hits_of(copies)
    candidates = extend_straw(TruthFollower(copies), hits, find_straw_seeds(hits, config), config)
    paths = candidates.paths
    valid = paths >= 0
    events = np.where(valid, hits.event[np.maximum(paths, 0)], -1)
    assert np.all((events == events[:, :1]) | ~valid)


def test_straw_build_config_rejects_unknown_and_bad_settings(tmp_path: Path) -> None:
    from tracknet.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown straw build option"):
        StrawBuildConfig.from_dict({"beam": 3})
    with pytest.raises(ConfigError, match="beam_width"):
        StrawBuildConfig(beam_width=0)
    path = tmp_path / "c.json"
    path.write_text("[1]")
    with pytest.raises(ConfigError, match="JSON object"):
        StrawBuildConfig.from_json(path)


# --------------------------------------------------------------------------- CLI and training


@pytest.fixture
def straw_dir(tmp_path: Path) -> Path:
    config = StrawConfig()
    out = tmp_path / "straw"
    write_straw_dataset(
        [simulate_straw_batch(config, 60, 9)], out, kind="straw",
        parameters={"config": config.to_dict(), "first_event_id": 0}, seed=9, generator="test",
    )
    return out


def test_cli_builds_a_straw_directory_with_the_baseline(straw_dir: Path, tmp_path: Path) -> None:
    from tracknet.building.commands import build
    from tracknet.evaluation.report import build_meta_path
    from tracknet.io.trackml import read_submission

    out = tmp_path / "sub.csv"
    code, text = run(make_app(build=build), "build", "--algorithm", "baseline", "--data-dir", str(straw_dir), "--out", str(out), "--no-progress")
    assert code == 0, text
    sub = read_submission(out)
    from tracknet.io.straw import StrawDataset

    assert len(sub) == StrawDataset.open(straw_dir).read_all().n_hits  # every hit, once
    assert not sub.duplicated(["event_id", "hit_id"]).any()
    record = json.loads(build_meta_path(out).read_text())
    assert record["algorithm"] == "baseline" and record["n_events"] == 60 and record["detector"] == "straw"


def test_cli_refuses_a_3d_checkpoint_on_straw_data(straw_dir: Path, tmp_path: Path) -> None:
    from tracknet.building.commands import build
    from tracknet.data.normalize import Normalizer
    from tracknet.model.checkpoint import save_checkpoint
    from tracknet.model.step_ahead import StepAheadTrackNet

    ckpt = save_checkpoint(tmp_path / "m3.ckpt", StepAheadTrackNet(input_dim=3, hidden_size=4), Normalizer(), {"detector": "trackml"})
    outcome = run(make_app(build=build), "build", "--checkpoint", str(ckpt), "--data-dir", str(straw_dir), "--out", str(tmp_path / "s.csv"))
    assert_one_line_error(outcome, "cannot build straw events")
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.slow
def test_experiment_straw_trains_a_2d_model_that_builds(straw_dir: Path, tmp_path: Path) -> None:
    from tracknet.building.api import build_directory
    from tracknet.model.checkpoint import load_checkpoint
    from tracknet.training.config import compose_config
    from tracknet.training.train import train

    cfg = compose_config(
        [
            "experiment=straw", f"run.output_dir={tmp_path / 'run'}", f"data.cache_dir={tmp_path / 'cache'}",
            "data.straw.n_events=40", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
            "trainer.num_sanity_val_steps=0", "model.hidden_size=8", "data.batch_size=16",
        ]
    )
    assert cfg.model.input_dim == 2 and list(cfg.data.dims) == [0, 1] and cfg.data.source == "straw"
    results = train(cfg)
    loaded = load_checkpoint(results["last_checkpoint"])
    assert loaded.model.input_dim == 2 and loaded.meta["detector"] == "straw"
    assert (tmp_path / "cache" / "straw").is_dir()  # simulated once, cached by its settings
    built = build_directory(straw_dir, tmp_path / "sub.csv", "tracknet", results["last_checkpoint"], progress=False)
    assert built.n_events == 60 and built.path.is_file()
