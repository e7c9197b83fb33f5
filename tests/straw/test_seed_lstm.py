"""The straw seed classifier: its walk (with the truth as an oracle chooser), its training
sequences, its checkpoints, and a short recipe run that builds through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.cli_helpers import invoke
from tracknet.building.straw import StrawBuildConfig, build_straw_batch
from tracknet.building.straw.seed_walk import (
    SLOT_FEATURES,
    STEP_FEATURES,
    StrawSeedLstmFollower,
    _TruthChooser,
    seed_sequences,
    walk_seeds,
)
from tracknet.building.straw.seeding import resolve_seeds
from tracknet.errors import CheckpointError, ConfigError
from tracknet.evaluation.straw import evaluate_straw
from tracknet.model.checkpoint import load_checkpoint
from tracknet.model.seed_lstm import SeedLstm, load_seed_lstm, save_seed_lstm
from tracknet.simulation.straw import StrawConfig, simulate_straw_batch
from tracknet.training.seed_lstm import batch_hits


@pytest.fixture(scope="module")
def two_track_events() -> Any:
    config = StrawConfig().with_overrides(
        {"occupancy": {"distribution": "fixed", "mean": 2.0, "min_tracks": 0}}
    )
    return simulate_straw_batch(config, 300, 11), config.geometry


class _Oracle:
    """A follower whose choices are the truth's: what the walk finds when every choice is
    right (the ceiling of any trained classifier)."""

    resolve_drift = True
    min_drift_mm = StrawSeedLstmFollower.min_drift_mm

    def __init__(self, particle: np.ndarray) -> None:
        self.particle = particle

    def candidates(self, hits: Any, seeds: np.ndarray, config: StrawBuildConfig) -> Any:
        drift = np.where(hits.drift >= self.min_drift_mm, hits.drift, 0.0)
        seed_of, _, _ = resolve_seeds(hits, seeds, config, True, drift)
        pa, pb = self.particle[seeds[seed_of, 0]], self.particle[seeds[seed_of, 1]]
        target = np.where((pa == pb) & (pa > 0), pa, np.iinfo(np.int64).min)
        return walk_seeds(_TruthChooser(self.particle, target, 4), hits, seeds, config, 4)


def _metrics(batch: Any, submission: Any) -> Any:
    import pandas as pd

    h = batch.hits
    truth = pd.DataFrame({c: h[c] for c in ("event_id", "hit_id", "particle_id", "weight")})
    return evaluate_straw(
        truth, submission, pd.DataFrame(batch.particles), n_events=len(batch)
    ).straw


def test_the_walk_with_right_choices_finds_the_tracks(two_track_events: Any) -> None:
    batch, geometry = two_track_events
    _, particle = batch_hits(batch, geometry)
    sub = build_straw_batch(
        batch, geometry, "seed-lstm", None, StrawBuildConfig(), follower=_Oracle(particle)
    )
    m = _metrics(batch, sub)
    baseline = _metrics(batch, build_straw_batch(batch, geometry, "baseline"))
    # Loose floors: the candidates around the extrapolation hold the tracks' hits; what
    # the seeds miss (tracks without a seed in the first modules) the baseline misses too.
    assert m.found_fraction >= 0.9
    assert m.found_fraction >= baseline.found_fraction - 0.01
    assert m.precision_on_found_tracks >= 0.95
    assert m.wrong_hit_fraction <= 0.01


def test_an_untrained_classifier_builds_without_error_and_takes_little(
    two_track_events: Any,
) -> None:
    batch, geometry = two_track_events
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = SeedLstm(4, SLOT_FEATURES, STEP_FEATURES)
    follower = StrawSeedLstmFollower(model)
    sub = build_straw_batch(
        batch, geometry, "seed-lstm", None, StrawBuildConfig(), follower=follower
    )
    assert len(sub) == len(batch.hits["hit_id"])
    assert set(sub.columns) == {"event_id", "hit_id", "track_id"}


def test_a_step_gives_the_logits_of_the_whole_sequence_and_scores_each_slot_as_one_layer() -> None:
    torch.manual_seed(3)
    model = SeedLstm(4, SLOT_FEATURES, STEP_FEATURES, 16).eval()
    x = torch.randn(6, 5, model.input_dim)
    x[..., 0 : 4 * SLOT_FEATURES : SLOT_FEATURES] = (torch.rand(6, 5, 4) > 0.3).float()
    with torch.no_grad():
        whole = model(x)
        state = None
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)
            assert torch.allclose(logits, whole[:, t], atol=1e-5)
        # The slot scorer is one network on [LSTM state, slot features].
        out, _ = model.lstm(x)
        slots = x[..., : 4 * SLOT_FEATURES].reshape(6, 5, 4, SLOT_FEATURES)
        joined = torch.cat([out.unsqueeze(-2).expand(6, 5, 4, out.shape[-1]), slots], dim=-1)
        expected = model.slot(joined).squeeze(-1)
        filled = slots[..., 0] > 0.5
        assert torch.allclose(whole[..., :4][filled], expected[filled], atol=1e-5)
        assert (whole[..., :4][~filled] <= -1e3).all()


def test_training_sequences_label_only_the_seeds_own_particle(two_track_events: Any) -> None:
    batch, geometry = two_track_events
    hits, particle = batch_hits(batch, geometry)
    # The hits of every second particle lose their labels (as the background of a
    # semi-synthetic event): they may be candidates, never a target.
    hidden = (particle > 0) & (particle % 2 == 0)
    particle = np.where(hidden, -1, particle)
    seq = seed_sequences(
        hits, particle, StrawBuildConfig(), 4, max_seeds=2000, rng=np.random.default_rng(1)
    )
    assert len(seq) == 2000
    # No seed of two unlabelled hits is among them (it may be an unlabelled track).
    everything = seed_sequences(
        hits, particle, StrawBuildConfig(), 4, max_seeds=None, rng=np.random.default_rng(1)
    )
    labelled_only = seed_sequences(
        hits,
        np.where(particle == -1, 0, particle),
        StrawBuildConfig(),
        4,
        max_seeds=None,
        rng=np.random.default_rng(1),
    )
    assert len(everything) < len(labelled_only)
    assert seq.features.shape[2] == 4 * SLOT_FEATURES + STEP_FEATURES
    valid = seq.labels != -100
    # A seed of no single labelled particle is labelled "none" at every layer.
    assert np.all(seq.labels[~seq.true_seed][valid[~seq.true_seed]] == 4)
    # True seeds take a hit at most layers, and only from filled slots.
    taken = seq.labels[seq.true_seed] < 4
    assert taken.sum() > 0.5 * valid[seq.true_seed].sum() * 0.5
    rows, steps = np.nonzero((seq.labels < 4) & valid)
    assert np.all(seq.features[rows, steps, seq.labels[rows, steps] * SLOT_FEATURES] == 1.0)
    # Same generator seed, same sequences.
    again = seed_sequences(
        hits, particle, StrawBuildConfig(), 4, max_seeds=2000, rng=np.random.default_rng(1)
    )
    assert np.array_equal(again.features, seq.features)
    assert np.array_equal(again.labels, seq.labels)


def test_seed_checkpoints_round_trip_and_are_refused_where_they_do_not_fit(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    model = SeedLstm(3, SLOT_FEATURES, STEP_FEATURES, hidden_size=8)
    path = save_seed_lstm(tmp_path / "seed.ckpt", model, {"experiment": "straw_seed"})
    loaded = load_seed_lstm(path)
    assert loaded.model.config() == model.config()
    assert loaded.meta == {"experiment": "straw_seed"}
    x = torch.randn(5, 7, model.input_dim)
    assert torch.equal(loaded.model(x), model.eval()(x))
    with pytest.raises(CheckpointError, match="--algorithm seed-lstm"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not a seed-classifier checkpoint"):
        load_seed_lstm(tiny_checkpoint)
    (tmp_path / "cut.ckpt").write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"cut\.ckpt"):
        load_seed_lstm(tmp_path / "cut.ckpt")
    other = SeedLstm(3, SLOT_FEATURES + 1, STEP_FEATURES)
    with pytest.raises(ConfigError, match="train it again"):
        StrawSeedLstmFollower(other)


@pytest.mark.slow
def test_the_recipe_trains_a_classifier_that_builds_straw_events(tmp_path: Path) -> None:
    from tracknet.training.config import compose_config
    from tracknet.training.train import train

    results = train(
        compose_config(
            [
                "experiment=straw_seed",
                "data.straw.n_events=1500",
                "data.straw.max_seeds=20000",
                f"data.cache_dir={tmp_path / 'cache'}",
                f"run.output_dir={tmp_path / 'run'}",
                "trainer.max_epochs=3",
                "trainer.enable_progress_bar=false",
            ]
        )
    )
    assert results["model_kind"] == "seed_lstm"
    checkpoint = Path(results["last_checkpoint"])
    assert load_seed_lstm(checkpoint).meta["experiment"] == "straw_seed"
    data = tmp_path / "events"
    assert invoke("simulate", "straw", "--out", str(data), "--events", "300", "--seed", "5",
                  "--no-progress").code == 0  # fmt: skip
    sub = tmp_path / "sub.csv"
    assert invoke("build", "--data-dir", str(data), "--algorithm", "seed-lstm", "--checkpoint",
                  str(checkpoint), "--out", str(sub), "--no-progress").code == 0  # fmt: skip
    result = invoke("evaluate", "--data-dir", str(data), "--submission", str(sub), "--json")
    assert result.code == 0
    figures = json.loads(result.out.strip().splitlines()[-1])
    # A loose floor for a short run: most tracks found, few wrong hits.
    assert figures["found_fraction"] >= 0.6
    assert figures["wrong_hit_fraction"] <= 0.05
