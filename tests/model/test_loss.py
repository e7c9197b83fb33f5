"""The sphere loss with numbers worked out by hand."""

from __future__ import annotations

import pytest
import torch

from tracknet.errors import ConfigError
from tracknet.model.loss import step_ahead_loss
from tracknet.model.step_ahead import Prediction


def _pred(c1: list, r1: list, c2: list, r2: list) -> Prediction:  # type: ignore[type-arg]
    return Prediction(torch.tensor(c1), torch.tensor(r1), torch.tensor(c2), torch.tensor(r2))


def test_hand_values() -> None:
    # t1, two real positions: |(3,4,0)| = 5 with r = 2 -> 0.9*2.5 + 0.1*4 = 2.65
    #                         |(0,0,1)| = 1 with r = 1 -> 0.9*1   + 0.1*1 = 1.0
    # one masked position with a huge distance, which must not count.
    # t2, one real position:  |(1,2,2)| = 3 with r = 3 -> 0.9*1   + 0.1*9 = 1.8
    pred = _pred(
        [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]],
        [[2.0, 1.0, 0.5]],
        [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]],
        [[3.0, 1.0, 1.0]],
    )
    t1 = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [100.0, 0.0, 0.0]]])
    t2 = torch.tensor([[[1.0, 2.0, 2.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]]])
    m1 = torch.tensor([[True, True, False]])
    m2 = torch.tensor([[True, False, False]])
    loss, parts = step_ahead_loss(pred, t1, t2, m1, m2)
    assert float(parts["loss_t1"]) == pytest.approx((2.65 + 1.0) / 2)
    assert float(parts["loss_t2"]) == pytest.approx(1.8)
    assert float(loss) == pytest.approx(1.825 + 1.8)
    weighted, parts = step_ahead_loss(pred, t1, t2, m1, m2, alpha=0.5, t2_weight=0.25)
    # alpha 0.5: t1 = (0.5*2.5 + 0.5*4 + 0.5*1 + 0.5*1)/2 = 2.125; t2 = 0.5*1 + 0.5*9 = 5
    assert float(weighted) == pytest.approx(2.125 + 0.25 * 5.0)
    assert set(parts) == {"loss", "loss_t1", "loss_t2"}


def test_gradients_are_finite_with_empty_masks_and_zero_distance() -> None:
    c = torch.zeros(2, 3, 3, requires_grad=True)
    r = torch.ones(2, 3, requires_grad=True)
    pred = Prediction(c, r, c, r)
    target = torch.zeros(2, 3, 3)
    loss, parts = step_ahead_loss(
        pred,
        target,
        target,
        torch.ones(2, 3, dtype=torch.bool),
        torch.zeros(2, 3, dtype=torch.bool),
    )
    loss.backward()
    assert float(parts["loss_t2"]) == 0.0
    assert torch.isfinite(c.grad).all() and torch.isfinite(r.grad).all()  # type: ignore[arg-type]
    # 0.9*0 + 0.1*r^2 averaged: d/dr = 0.2 r / 6 per element
    torch.testing.assert_close(r.grad, torch.full((2, 3), 0.2 / 6))


def test_bad_weights_are_config_errors() -> None:
    pred = _pred([[0.0, 0.0, 0.0]], [1.0], [[0.0, 0.0, 0.0]], [1.0])
    t = torch.zeros(1, 3)
    m = torch.ones(1, dtype=torch.bool)
    with pytest.raises(ConfigError):
        step_ahead_loss(pred, t, t, m, m, alpha=1.5)
    with pytest.raises(ConfigError):
        step_ahead_loss(pred, t, t, m, m, t2_weight=-1.0)
