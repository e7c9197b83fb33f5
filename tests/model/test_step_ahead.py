"""The StepAhead TrackNET module: shapes, forward == step-by-step, configs and checkpoints."""

from __future__ import annotations

import io

import pytest
import torch

from tracknet.errors import ConfigError
from tracknet.model.step_ahead import INITIAL_RADIUS, Prediction, StepAheadTrackNet


@pytest.mark.parametrize("center_mode", ["offset", "absolute"])
@pytest.mark.parametrize(("input_dim", "num_layers"), [(3, 2), (2, 1), (3, 3)])
def test_forward_equals_step_by_step(input_dim: int, num_layers: int, center_mode: str) -> None:
    torch.manual_seed(0)
    model = StepAheadTrackNet(
        input_dim, hidden_size=16, num_layers=num_layers, dropout=0.2, center_mode=center_mode
    )
    model.eval()  # dropout off: both paths must be the same function
    x = torch.randn(4, 7, input_dim)
    with torch.no_grad():
        full = model(x, torch.tensor([7, 5, 3, 1]))
        hidden = None
        steps = []
        for t in range(x.shape[1]):
            pred, hidden = model.step(x[:, t], hidden)
            steps.append(pred)
    for name in Prediction._fields:
        stepped = torch.stack([getattr(p, name) for p in steps], dim=1)
        assert stepped.shape == getattr(full, name).shape
        torch.testing.assert_close(stepped, getattr(full, name), atol=1e-5, rtol=1e-5)
    assert hidden is not None and hidden.shape == (num_layers, 4, 16)


def test_shapes_positivity_and_initial_radius() -> None:
    model = StepAheadTrackNet(hidden_size=8)
    x = torch.randn(3, 5, 3)
    with torch.no_grad():
        pred = model(x)
    assert pred.t1_center.shape == (3, 5, 3) and pred.t2_center.shape == (3, 5, 3)
    assert pred.t1_radius.shape == (3, 5) and pred.t2_radius.shape == (3, 5)
    assert torch.all(pred.t1_radius > 0) and torch.all(pred.t2_radius > 0)
    # radius heads start near INITIAL_RADIUS (the weights add a small spread)
    assert abs(float(pred.t1_radius.median()) - INITIAL_RADIUS) < 0.1
    # padding does not change predictions at earlier steps (causal GRU)
    padded = torch.cat([x, torch.zeros(3, 4, 3)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded).t1_center[:, :5], pred.t1_center)
    with pytest.raises(ValueError):
        model(torch.randn(3, 5, 2))
    with pytest.raises(ValueError):
        model.step(torch.randn(3, 5, 3))


def test_offset_mode_centres_are_relative_to_the_current_hit() -> None:
    model = StepAheadTrackNet(hidden_size=4, num_layers=1)
    with torch.no_grad():
        for head in (model.t1_center_head, model.t2_center_head):
            head.weight.zero_()
            head.bias.zero_()
    x = torch.randn(2, 3, 3)
    pred = model(x)
    torch.testing.assert_close(pred.t1_center, x)
    torch.testing.assert_close(pred.t2_center, x)


def test_config_roundtrip_and_weights_only_checkpoint() -> None:
    model = StepAheadTrackNet(
        input_dim=2, hidden_size=12, num_layers=3, dropout=0.1, center_mode="absolute"
    )
    config = model.config()
    assert all(isinstance(v, (int, float, str)) for v in config.values())
    buffer = io.BytesIO()
    torch.save({"config": config, "state_dict": model.state_dict()}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    clone = StepAheadTrackNet.from_config(loaded["config"])
    clone.load_state_dict(loaded["state_dict"])
    model.eval()
    clone.eval()
    x = torch.randn(2, 4, 2)
    torch.testing.assert_close(clone(x).t2_radius, model(x).t2_radius)
    assert clone.config() == config


@pytest.mark.parametrize(
    "bad",
    [
        {"input_dim": 0},
        {"hidden_size": 2.5},
        {"num_layers": True},
        {"dropout": 1.0},
        {"center_mode": "relative"},
        {"radius_eps": 0.0},
    ],
)
def test_bad_config_is_a_config_error(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError):
        StepAheadTrackNet(**bad)


def test_from_config_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="unknown StepAheadTrackNet option"):
        StepAheadTrackNet.from_config({"hidden": 3})
