"""Model extensions of the training pipeline: input features, radius scales, quantile loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tracknet.data import TrackSet
from tracknet.data.filters import drop_repeated_layers
from tracknet.data.normalize import Normalizer
from tracknet.errors import ConfigError
from tracknet.model import Prediction, StepAheadTrackNet, quantile_sphere_loss
from tracknet.model.checkpoint import load_checkpoint, save_checkpoint


def _randomised(model: StepAheadTrackNet) -> StepAheadTrackNet:
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model.eval()


@pytest.mark.parametrize("features", ["position", "delta", "cylindrical"])
@pytest.mark.parametrize("input_dim", [2, 3])
def test_forward_equals_step_by_step_for_every_feature_set(features: str, input_dim: int) -> None:
    model = _randomised(
        StepAheadTrackNet(input_dim, hidden_size=8, num_layers=2, features=features)
    )
    x = torch.randn(4, 6, input_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = model(x)
        state = model.initial_hidden(4)
        assert state.shape == (2, 4, model.state_size)
        steps = []
        for t in range(6):
            pred, state = model.step(x[:, t], state if t else None)
            steps.append(pred)
    for i, name in enumerate(Prediction._fields):
        stepped = torch.stack([getattr(p, name) for p in steps], dim=1)
        torch.testing.assert_close(stepped, full[i], atol=1e-5, rtol=1e-5)
    expected_state = 8 if features == "position" else 8 + input_dim
    assert model.state_size == expected_state
    # the state is opaque but batch-indexable along dim 1, as the track builder uses it
    with torch.no_grad():
        sub, _ = model.step(x[1:3, 0], model.initial_hidden(2))
        torch.testing.assert_close(sub.t1_center, full.t1_center[1:3, 0])
    with pytest.raises(ValueError, match="state of shape"):
        model.step(x[:, 0], torch.zeros(2, 4, model.state_size + 1))


def test_new_heads_start_by_repeating_the_last_step() -> None:
    # zero-initialised multiplier/offset heads: the centre is the last step repeated
    x = torch.tensor([[[30.0, 0.0, 10.0], [70.0, 0.0, 23.0]]]) / 1000.0
    delta = StepAheadTrackNet(features="delta").eval()
    with torch.no_grad():
        pred = delta(x)
    torch.testing.assert_close(pred.t1_center[0, 1], 2 * x[0, 1] - x[0, 0])
    torch.testing.assert_close(pred.t1_center[0, 0], 2 * x[0, 0])  # from the origin
    cyl = StepAheadTrackNet(features="cylindrical").eval()
    with torch.no_grad():
        pred = cyl(x)
    # (r, phi, z) extrapolation of the straight radial track
    torch.testing.assert_close(
        pred.t1_center[0, 1], torch.tensor([0.110, 0.0, 0.036]), atol=1e-6, rtol=0
    )


def test_cylindrical_model_is_invariant_under_rotations_about_the_beam() -> None:
    model = _randomised(StepAheadTrackNet(hidden_size=8, features="cylindrical"))
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(3, 5, 3, generator=gen)
    angle = 2.1
    rot = torch.tensor(
        [
            [math.cos(angle), -math.sin(angle), 0.0],
            [math.sin(angle), math.cos(angle), 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    with torch.no_grad():
        a = model(x)
        b = model(x @ rot.T)
    torch.testing.assert_close(b.t1_center, a.t1_center @ rot.T, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b.t2_radius, a.t2_radius, atol=1e-6, rtol=1e-5)


def test_radius_scales_multiply_the_radii_and_travel_in_checkpoints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = _randomised(StepAheadTrackNet(hidden_size=6, features="cylindrical"))
    x = torch.rand(2, 4, 3)
    with torch.no_grad():
        raw = model(x)
    model.set_radius_scales(2.0, 0.5)
    with torch.no_grad():
        scaled = model(x)
    torch.testing.assert_close(scaled.t1_radius, 2.0 * raw.t1_radius)
    torch.testing.assert_close(scaled.t2_radius, 0.5 * raw.t2_radius)
    torch.testing.assert_close(scaled.t1_center, raw.t1_center)
    path = save_checkpoint(tmp_path / "m.ckpt", model, Normalizer())
    loaded = load_checkpoint(path).model
    assert loaded.config() == model.config()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).t1_radius, scaled.t1_radius)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError):
            model.set_radius_scales(bad, 1.0)
        with pytest.raises(ConfigError):
            StepAheadTrackNet(t2_radius_scale=bad)


@pytest.mark.parametrize(
    "bad",
    [
        {"features": "polar"},
        {"features": "delta", "center_mode": "absolute"},
        {"features": "cylindrical", "input_dim": 1},
    ],
)
def test_bad_feature_settings_are_config_errors(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError):
        StepAheadTrackNet(**bad)


def test_old_configs_without_the_new_keys_still_load() -> None:
    old = {
        "input_dim": 3,
        "hidden_size": 4,
        "num_layers": 1,
        "dropout": 0.0,
        "center_mode": "offset",
        "radius_eps": 1e-4,
    }
    model = StepAheadTrackNet.from_config(old)
    assert model.features == "position" and model.state_size == 4


def test_quantile_loss_hand_values_and_gradients() -> None:
    # t1: d = 5 (3-4-0) with r = 2: 5 + pinball(3) = 5 + 0.9*3 = 7.7;
    #     d = 1 with r = 3: 1 + pinball(-2) = 1 + 0.1*2 = 1.2 -> mean 4.45
    # t2: d = 3 with r = 3 -> 3 + 0 = 3; unit 1
    c = torch.zeros(1, 2, 3, requires_grad=True)
    r1 = torch.tensor([[2.0, 3.0]], requires_grad=True)
    pred = Prediction(c, r1, torch.zeros(1, 2, 3), torch.tensor([[3.0, 1.0]]))
    t1 = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])
    t2 = torch.tensor([[[1.0, 2.0, 2.0], [50.0, 0.0, 0.0]]])
    mask1 = torch.tensor([[True, True]])
    mask2 = torch.tensor([[True, False]])
    total, parts = quantile_sphere_loss(pred, t1, t2, mask1, mask2, q_t1=0.9, q_t2=0.9, unit=1.0)
    assert float(parts["loss_t1"]) == pytest.approx(4.45, abs=1e-5)
    assert float(parts["loss_t2"]) == pytest.approx(3.0, abs=1e-5)
    total.backward()
    # the radius under the miss grows (gradient -q / n), the one over it shrinks ((1 - q) / n)
    assert r1.grad[0, 0] == pytest.approx(-0.45) and r1.grad[0, 1] == pytest.approx(0.05)
    with pytest.raises(ConfigError):
        quantile_sphere_loss(pred, t1, t2, mask1, mask2, q_t1=1.0)


def test_quantile_loss_is_minimal_at_the_quantile_of_the_distance() -> None:
    # One radius shared by many predictions: the loss over a grid of radii is lowest
    # at the q-quantile of their distances (the pinball loss' minimiser).
    gen = torch.Generator().manual_seed(0)
    n = 2000
    distances = torch.rand(n, generator=gen, dtype=torch.float64) * 10.0
    targets = torch.zeros(1, n, 3, dtype=torch.float64)
    targets[..., 0] = distances
    mask = torch.ones(1, n, dtype=torch.bool)
    zeros = torch.zeros(1, n, 3, dtype=torch.float64)
    grid = torch.linspace(5.0, 10.0, 501, dtype=torch.float64)
    losses = []
    for r in grid:
        radius = r.expand(1, n)
        pred = Prediction(zeros, radius, zeros, radius)
        loss, _ = quantile_sphere_loss(
            pred, targets, targets, mask, mask, q_t1=0.9, q_t2=0.9, unit=1.0
        )
        losses.append(float(loss))
    best = float(grid[int(np.argmin(losses))])
    assert best == pytest.approx(float(torch.quantile(distances, 0.9)), abs=0.02)


def _tracks(layers: list[list[tuple[int, int]]], hit_ids: list[list[int]]) -> TrackSet:
    lengths = [len(t) for t in layers]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = [p for t in layers for p in t]
    n = len(flat)
    return TrackSet(
        offsets=offsets,
        coords=np.arange(n * 3, dtype=np.float32).reshape(n, 3),
        hit_id=np.array([h for t in hit_ids for h in t]),
        volume_id=np.array([v for v, _ in flat]),
        layer_id=np.array([layer for _, layer in flat]),
        module_id=np.zeros(n),
        particle_id=np.arange(len(layers)) + 1,
        event_id=np.zeros(len(layers)),
        pt=np.ones(len(layers)),
        eta=np.zeros(len(layers)),
        vertex=np.zeros((len(layers), 3)),
        charge=np.ones(len(layers)),
        backward_steps=np.zeros(len(layers)),
    )


def test_drop_repeated_layers_can_keep_the_lowest_hit_id() -> None:
    # track 0 crosses (8, 2) twice with hit ids 9 then 4: 'first' keeps 9, 'lowest_hit_id' keeps 4,
    # and the kept hits stay in trajectory order
    tracks = _tracks([[(8, 2), (8, 2), (8, 4)], [(8, 2), (8, 4), (8, 4)]], [[9, 4, 12], [1, 7, 3]])
    first = drop_repeated_layers(tracks)
    lowest = drop_repeated_layers(tracks, keep="lowest_hit_id")
    np.testing.assert_array_equal(first.hit_id, [9, 12, 1, 7])
    np.testing.assert_array_equal(lowest.hit_id, [4, 12, 1, 3])
    np.testing.assert_array_equal(lowest.lengths, [2, 2])
    with pytest.raises(ConfigError):
        drop_repeated_layers(tracks, keep="last")
    with pytest.raises(ConfigError):
        drop_repeated_layers(tracks, keep="lowest_hit_id", consecutive_only=True)
