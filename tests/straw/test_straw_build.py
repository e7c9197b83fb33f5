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
    absorb_fragments,
    attach_by_fit,
    build_straw_batch,
    circle_residuals,
    circle_y_at,
    extend_straw,
    find_straw_seeds,
    merge_pieces,
    resolve_seeds,
)
from tracknet.data.straw_tracks import straw_tracks
from tracknet.evaluation.straw import evaluate_straw
from tracknet.io.straw import write_straw_dataset
from tracknet.simulation.straw import (
    Occupancy,
    StrawBatch,
    StrawConfig,
    StrawResponse,
    TrackGun,
    simulate_straw_batch,
)

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
    truth = pd.DataFrame(
        {c: batch.hits[c] for c in ("event_id", "hit_id", "particle_id", "weight")}
    )
    return evaluate_straw(truth, submission).straw.to_dict()


class TruthFollower:
    """A perfect follower for the loop's mechanics: it predicts the true crossing of the
    next layer by the particle of the candidate's last hit (radius 3 mm)."""

    def __init__(self, batch: StrawBatch) -> None:
        from tracknet.simulation.straw.tracks import TrackStates, curvature, layer_crossings

        p = batch.particles
        mom = np.hypot(p["px"], p["py"])
        states = TrackStates(
            p["vx"],
            p["vy"],
            np.arctan2(p["py"], p["px"]),
            mom,
            p["q"],
            curvature(mom, p["q"], 1.45),
        )
        track, layer, y, _ = layer_crossings(states, GEOMETRY.layer_x, np.radians(72.5))
        self.table = np.full((len(mom), GEOMETRY.n_layers), np.nan)
        self.table[track, layer] = y
        key = p["event_id"] * 1000 + p["particle_id"]
        self.particle_of_hit = np.searchsorted(
            key, batch.hits["event_id"] * 1000 + batch.hits["particle_id"]
        )

    def start(self, entries: np.ndarray) -> None:
        return None

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray, **_: Any) -> None:
        return None

    def take(self, state: Any, rows: np.ndarray) -> None:
        return None

    @staticmethod
    def concatenate(states: list[Any]) -> None:
        return None

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        **_: Any,
    ) -> Any:
        last = paths[np.arange(len(n_hits)), n_hits - 1]
        layer = np.searchsorted(GEOMETRY.layer_x, next_x - 1e-6)
        y = self.table[self.particle_of_hit[last], layer]
        return np.stack([next_x, np.nan_to_num(y, nan=1e4 - 1)], axis=1), np.full(len(n_hits), 3.0)


def _hits_of(batch: StrawBatch) -> StrawHits:
    h = batch.hits
    row = np.searchsorted(batch.events["event_id"], h["event_id"])
    layer = h["volume_id"].astype(np.int64) * GEOMETRY.layers_per_module + h["layer_id"]
    return StrawHits.make(
        row,
        h["x"],
        h["y"],
        h["drift_mm"],
        layer,
        GEOMETRY.layer_x,
        GEOMETRY.layers_per_module,
        GEOMETRY.pitch_mm,
    )


# --------------------------------------------------------------------------- training tracks


def test_training_tracks_hold_one_entry_per_layer_and_every_hit() -> None:
    batch = _single_tracks(200, 1, straight=False, ideal=False)
    tracks = straw_tracks(batch, GEOMETRY.layer_x, GEOMETRY.layers_per_module, min_hits=3)
    assert tracks.n_tracks > 150
    layer = np.searchsorted(GEOMETRY.layer_x, tracks.coords[:, 0] - 1e-6)
    first = np.repeat(layer[tracks.offsets[:-1]], tracks.lengths)
    within = np.arange(len(layer)) - np.repeat(tracks.offsets[:-1], tracks.lengths)
    assert np.array_equal(layer, first + within)  # consecutive layers, no gap, no repeat
    assert np.all(tracks.is_hit[tracks.offsets[:-1]]) and np.all(
        tracks.is_hit[tracks.offsets[1:] - 1]
    )
    # Every labelled hit of a track with >= 3 hits is an entry, at its straw centre.
    labelled = batch.hits["particle_id"] > 0
    _, counts = np.unique(batch.hits["event_id"][labelled], return_counts=True)
    assert int(tracks.is_hit.sum()) == int(counts[counts >= 3].sum())
    hit_y = set(np.round(batch.hits["y"][labelled], 6))
    assert set(np.round(tracks.coords[tracks.is_hit, 1], 6)) <= hit_y
    # Layers crossed without a hit are filled in (about one in five).
    assert 0.05 < (~tracks.is_hit).mean() < 0.4


def test_resolved_training_entries_are_the_true_crossings() -> None:
    batch = _single_tracks(200, 6, straight=True)
    tracks = straw_tracks(
        batch, GEOMETRY.layer_x, GEOMETRY.layers_per_module, min_hits=3, positions="resolved"
    )
    p = batch.particles
    row = np.searchsorted(p["event_id"], np.repeat(tracks.event_id, tracks.lengths))
    x, y = tracks.coords[:, 0], tracks.coords[:, 1]
    true_y = p["vy"][row] + (x - p["vx"][row]) * p["py"][row] / p["px"][row]
    assert np.abs(y - true_y).max() < 1e-6  # hits and the layers between them
    wire = straw_tracks(batch, GEOMETRY.layer_x, GEOMETRY.layers_per_module, min_hits=3)
    assert np.abs(wire.coords[wire.is_hit, 1] - true_y[tracks.is_hit]).max() > 1.0
    # Below min_drift_mm a hit stays at its wire.
    coarse = straw_tracks(
        batch, GEOMETRY.layer_x, GEOMETRY.layers_per_module, 3, "resolved", min_drift_mm=0.5
    )
    moved = np.abs(coarse.coords[:, 1] - wire.coords[:, 1]) > 0
    assert np.all(
        np.abs(coarse.coords[moved & tracks.is_hit, 1] - true_y[moved & tracks.is_hit]) < 1e-6
    )


def test_seed_variants_take_both_sides_of_both_drift_circles() -> None:
    batch = _single_tracks(100, 7, straight=True)
    hits = _hits_of(batch)
    config = StrawBuildConfig()
    seeds = find_straw_seeds(hits, config)
    index, ya, yb = resolve_seeds(hits, seeds, config, True)
    a, b = seeds[index, 0], seeds[index, 1]
    slope = (yb - ya) / (hits.x[b] - hits.x[a])
    sec = np.sqrt(1 + slope**2)
    assert np.allclose(np.abs(ya - hits.y[a]), hits.drift[a] * sec, atol=1e-3)
    assert np.allclose(np.abs(yb - hits.y[b]), hits.drift[b] * sec, atol=1e-3)
    assert np.all(np.bincount(index) <= 4) and np.all(np.abs(slope) <= config.seed_max_slope)
    plain, ya0, _ = resolve_seeds(hits, seeds, config, False)
    assert np.array_equal(plain, np.arange(len(seeds))) and np.array_equal(ya0, hits.y[seeds[:, 0]])


@pytest.mark.parametrize("resolve", [True, False], ids=["resolved", "wire"])
def test_the_baseline_with_and_without_drift_resolution(resolve: bool) -> None:
    batch = _single_tracks(300, 8, straight=False)
    config = StrawBuildConfig(resolve_drift=resolve)
    m = _metrics(batch, build_straw_batch(batch, GEOMETRY, "baseline", None, config))
    assert m["wrong_hit_fraction"] == 0.0
    assert m["found_fraction"] >= (0.95 if resolve else 0.85)


def test_the_cuts_grow_with_the_drift_resolution_and_keep_tracks_found() -> None:
    exact = StrawBuildConfig(drift_sigma_mm=0.0)
    assert exact.at_resolution(0.3) == 0.3
    wide = StrawBuildConfig(drift_sigma_mm=0.2)
    assert wide.at_resolution(0.3) == pytest.approx(np.hypot(0.3, wide.resolution_sigmas * 0.2))
    # Two tracks per event measured at a coarse resolution: the cuts of exact drift lose
    # tracks and split them; cuts at the resolution keep them.
    batch = simulate_straw_batch(
        StrawConfig(
            occupancy=Occupancy(distribution="fixed", mean=2.0, min_tracks=2),
            response=StrawResponse(drift_sigma_mm=0.2),
        ),
        400,
        5,
    )
    m = {
        name: _metrics(batch, build_straw_batch(batch, GEOMETRY, "baseline", None, config))
        for name, config in (("exact", exact), ("resolution", wide))
    }
    assert m["resolution"]["found_fraction"] >= 0.92
    assert m["resolution"]["found_fraction"] > m["exact"]["found_fraction"] + 0.03
    assert m["resolution"]["split_fraction"] < m["exact"]["split_fraction"]


# --------------------------------------------------------------------------- track fit and clean-up


def test_the_circle_fit_is_exact_on_circles_and_lines() -> None:
    x = np.tile(GEOMETRY.layer_x, (3, 1))
    radius = np.array([1150.0, 5000.0, np.inf])[:, None]
    y = np.where(
        np.isfinite(radius),
        40.0 + np.sqrt(np.where(np.isfinite(radius), radius, 1.0) ** 2 - (x - 300.0) ** 2),
        0.0,
    )
    y = np.where(np.isfinite(radius), y - y[:, :1], 0.1 * x)
    valid = np.ones_like(x, dtype=bool)
    valid[:, 5] = False
    res, fit = circle_residuals(x, y, valid, with_fit=True)
    assert np.abs(res).max() < 1e-3
    assert np.allclose(circle_y_at(fit, x[:, 5]), y[:, 5], atol=1e-3)
    y[0, 7] += 1.0
    assert np.argmax(np.abs(circle_residuals(x, y, valid)[0])) == 7


def test_a_circle_fit_depends_only_on_the_row_s_own_points() -> None:
    rng = np.random.default_rng(5)
    n_layers = len(GEOMETRY.layer_x)
    x = np.tile(GEOMETRY.layer_x, (4, 1))
    y = 0.2 * x + 2e-4 * x * x + rng.normal(0.0, 0.3, x.shape)
    valid = np.zeros_like(x, dtype=bool)
    valid[0, 3:9] = True  # empty columns before and after
    valid[1, :] = True
    valid[2, [4, 10, 20]] = True  # three points: an exact circle
    valid[3, [6, 7]] = True  # two points: no fit
    res = circle_residuals(x, y, valid)
    assert res.shape == (4, n_layers) and (res[~valid] == 0).all()
    for row in range(4):
        alone = circle_residuals(x[row : row + 1], y[row : row + 1], valid[row : row + 1])
        assert np.allclose(res[row], alone[0], atol=1e-9)
        on = valid[row]
        packed = circle_residuals(x[row : row + 1, on], y[row : row + 1, on], on[None, on])
        assert np.allclose(res[row, on], packed[0], atol=1e-9)
    assert np.abs(res[0]).max() > 0.01 and np.abs(res[2]).max() < 1e-6 and not res[3].any()
    assert (circle_residuals(x, y, np.zeros_like(valid)) == 0).all()


def _true_tracks(batch: StrawBatch) -> tuple[StrawHits, np.ndarray, np.ndarray]:
    """Hits, the true track ids and the true crossings (resolved y) of ideal straight tracks."""
    hits = _hits_of(batch)
    h = batch.hits
    y = h["y"] + np.sign(h["ty"] - h["y"]) * h["drift_mm"] * np.hypot(1.0, h["tpy"] / h["tpx"])
    return hits, h["particle_id"].astype(np.int64), y


def test_merge_attach_and_fragments_rebuild_broken_tracks() -> None:
    batch = _single_tracks(200, 9, straight=False)
    hits, truth, y = _true_tracks(batch)
    config = StrawBuildConfig()
    key = hits.event * 10 + truth
    long = np.bincount(key)[key] >= 12
    track = np.where(long, 100 * hits.event + truth, 0)  # ids unique in the chunk, as built
    # Split each track in two at layer 14: the pieces are merged back.
    broken = np.where(long & (hits.layer >= 14), track + 50, track)
    merged = merge_pieces(broken, y, hits, config)
    assert np.array_equal(merged, track)
    # Drop the hits of the first and last layers: they are attached again.
    cut = np.where((hits.layer >= 3) & (hits.layer <= 27), track, 0)
    attached = attach_by_fit(cut, np.where(cut > 0, y, np.nan), hits, config)
    # (A track seen again after more than max_misses empty layers keeps its far hits out.)
    assert np.all((attached == track) | (attached == 0)) and np.mean(attached == track) > 0.99
    # A short piece on another track's circle is dissolved into it.
    pieces = np.where(long & (hits.layer >= 8) & (hits.layer < 12), track + 50, track)
    absorbed = absorb_fragments(pieces, y.copy(), hits, config)
    assert np.array_equal(absorbed, track)


# --------------------------------------------------------------------------- builder


def test_seeds_pair_hits_of_one_event_and_module_only() -> None:
    batch = simulate_straw_batch(StrawConfig(), 300, 4)
    hits = _hits_of(batch)
    seeds = find_straw_seeds(hits, StrawBuildConfig())
    assert len(seeds) > 0
    a, b = seeds[:, 0], seeds[:, 1]
    assert np.all(hits.event[a] == hits.event[b])
    assert np.all(hits.layer[b] > hits.layer[a]) and np.all(hits.layer[b] - hits.layer[a] <= 2)
    assert np.all(hits.layer[a] // 4 == hits.layer[b] // 4) and np.all(
        hits.layer[a] < 4 * StrawBuildConfig().seed_modules
    )


def test_a_perfect_follower_finds_every_clean_track_with_all_its_hits() -> None:
    batch = _single_tracks(300, 2, straight=False)
    config = StrawBuildConfig()
    submission = build_straw_batch(
        batch, GEOMETRY, "baseline", None, config, follower=TruthFollower(batch)
    )
    m = _metrics(batch, submission)
    # What is left: tracks of 3 hits (shorter than min_track_hits, about 2.5 % of these
    # tracks) and the seeding's reach (no two hits close together in one of the first
    # modules, about 1 %).
    assert m["found_fraction"] >= 0.95
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
    one = simulate_straw_batch(
        StrawConfig(occupancy=Occupancy(distribution="fixed", mean=3.0)), 40, 5
    )
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
        [simulate_straw_batch(config, 60, 9)],
        out,
        kind="straw",
        parameters={"config": config.to_dict(), "first_event_id": 0},
        seed=9,
        generator="test",
    )
    return out


def test_cli_builds_a_straw_directory_with_the_baseline(straw_dir: Path, tmp_path: Path) -> None:
    from tracknet.building.commands import build
    from tracknet.evaluation.report import build_meta_path
    from tracknet.io.trackml import read_submission

    out = tmp_path / "sub.csv"
    code, text = run(
        make_app(build=build),
        "build",
        "--algorithm",
        "baseline",
        "--data-dir",
        str(straw_dir),
        "--out",
        str(out),
        "--no-progress",
    )
    assert code == 0, text
    sub = read_submission(out)
    from tracknet.io.straw import StrawDataset

    assert len(sub) == StrawDataset.open(straw_dir).read_all().n_hits  # every hit, once
    assert not sub.duplicated(["event_id", "hit_id"]).any()
    record = json.loads(build_meta_path(out).read_text())
    assert (
        record["algorithm"] == "baseline"
        and record["n_events"] == 60
        and record["detector"] == "straw"
    )


def test_cli_refuses_a_3d_checkpoint_on_straw_data(straw_dir: Path, tmp_path: Path) -> None:
    from tracknet.building.commands import build
    from tracknet.data.normalize import Normalizer
    from tracknet.model.checkpoint import save_checkpoint
    from tracknet.model.step_ahead import StepAheadTrackNet

    ckpt = save_checkpoint(
        tmp_path / "m3.ckpt",
        StepAheadTrackNet(input_dim=3, hidden_size=4),
        Normalizer(),
        {"detector": "trackml"},
    )
    outcome = run(
        make_app(build=build),
        "build",
        "--checkpoint",
        str(ckpt),
        "--data-dir",
        str(straw_dir),
        "--out",
        str(tmp_path / "s.csv"),
    )
    assert_one_line_error(outcome, "cannot build straw events")
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.slow
def test_experiment_straw_trains_a_2d_model_that_builds(straw_dir: Path, tmp_path: Path) -> None:
    from tracknet.building.directory import build_directory
    from tracknet.model.checkpoint import load_checkpoint
    from tracknet.training.config import compose_config
    from tracknet.training.train import train

    cfg = compose_config(
        [
            "experiment=straw",
            f"run.output_dir={tmp_path / 'run'}",
            f"data.cache_dir={tmp_path / 'cache'}",
            "data.straw.n_events=40",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            "trainer.num_sanity_val_steps=0",
            "model.hidden_size=8",
            "data.batch_size=16",
        ]
    )
    assert cfg.model.input_dim == 2 and list(cfg.data.dims) == [0, 1] and cfg.data.source == "straw"
    results = train(cfg)
    loaded = load_checkpoint(results["last_checkpoint"])
    assert loaded.model.input_dim == 2 and loaded.meta["detector"] == "straw"
    assert (tmp_path / "cache" / "straw").is_dir()  # simulated once, cached by its settings
    built = build_directory(
        straw_dir, tmp_path / "sub.csv", "tracknet", results["last_checkpoint"], progress=False
    )
    assert built.n_events == 60 and built.path.is_file()
