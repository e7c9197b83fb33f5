"""The StepAhead TrackNET losses: small spheres that still contain the true hit.

``kind="tracknet"`` (:func:`step_ahead_loss`), the loss of the TrackNET papers. For one
prediction (centre ``c``, radius ``r``) and the true hit ``y``, all in the model frame
(mm / scale)::

    term = alpha * |c - y| / r + (1 - alpha) * r**2

The first part pulls the centre onto the hit and lets the radius grow with the
remaining distance; the second keeps spheres small. Per prediction its minimum lies at
``r**3 = alpha |c - y| / (2 (1 - alpha))``: the radius grows with the cube root of the
miss distance, and the balance depends on the unit of length, so ``alpha`` must be
tuned to the normaliser's scale (tight spheres at 1000 mm per unit need ``alpha`` far
below the papers' 0.9).

``kind="quantile"`` (:func:`quantile_sphere_loss`), scale-free::

    term = d / unit + pinball_q(d.detach() - r) / unit,   d = |c - y|
    pinball_q(u) = max(q u, (q - 1) u)

The first part pulls the centre onto the hit (a robust L1-type term); the second makes
the radius the conditional ``q``-quantile of the miss distance, so that a share ``q``
of true hits falls inside the spheres wherever the model is sure or unsure. The
distance is detached in the radius term, so the radius never pushes the centre.

Each of ``t1`` (next hit) and ``t2`` (hit after next) is the mean of its term over the
positions where its mask is true (0 when there are none); the total is
``t1 + t2_weight * t2``.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .step_ahead import Prediction

__all__ = [
    "LOSS_KINDS",
    "LOSS_PART_NAMES",
    "quantile_loss_terms",
    "quantile_sphere_loss",
    "sphere_loss_terms",
    "step_ahead_loss",
]

#: The loss functions by name (the ``kind`` of a training configuration).
LOSS_KINDS: tuple[str, ...] = ("tracknet", "quantile")

#: Keys of the parts dict returned by :func:`step_ahead_loss`.
LOSS_PART_NAMES: tuple[str, ...] = ("loss", "loss_t1", "loss_t2")


def sphere_loss_terms(
    center: torch.Tensor, radius: torch.Tensor, target: torch.Tensor, alpha: float
) -> torch.Tensor:
    """``alpha * |center - target| / radius + (1 - alpha) * radius**2`` per position."""
    distance: torch.Tensor = torch.linalg.vector_norm(center - target, dim=-1)
    return alpha * distance / radius + (1.0 - alpha) * radius * radius


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # torch.where (not multiplication) so that a non-finite value at a padded step cannot leak.
    total = torch.where(
        mask, values, torch.zeros((), dtype=values.dtype, device=values.device)
    ).sum()
    return total / mask.sum().clamp(min=1).to(values.dtype)


def step_ahead_loss(
    pred: Prediction,
    targets_t1: torch.Tensor,
    targets_t2: torch.Tensor,
    mask_t1: torch.Tensor,
    mask_t2: torch.Tensor,
    alpha: float = 0.9,
    t2_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss and its parts (``loss``, ``loss_t1``, ``loss_t2``; detached) for a batch.

    Shapes: centres and targets ``(..., D)``, radii and masks ``(...)`` (e.g. ``(B, T)``).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"loss alpha must be in [0, 1], got {alpha}")
    if t2_weight < 0:
        raise ConfigError(f"loss t2_weight must be >= 0, got {t2_weight}")
    mask_t1 = mask_t1.to(torch.bool)
    mask_t2 = mask_t2.to(torch.bool)
    loss_t1 = _masked_mean(
        sphere_loss_terms(pred.t1_center, pred.t1_radius, targets_t1, alpha), mask_t1
    )
    loss_t2 = _masked_mean(
        sphere_loss_terms(pred.t2_center, pred.t2_radius, targets_t2, alpha), mask_t2
    )
    total = loss_t1 + t2_weight * loss_t2
    parts = {"loss": total.detach(), "loss_t1": loss_t1.detach(), "loss_t2": loss_t2.detach()}
    return total, parts


def quantile_loss_terms(
    center: torch.Tensor, radius: torch.Tensor, target: torch.Tensor, q: float, unit: float
) -> torch.Tensor:
    """``(d + pinball_q(d.detach() - radius)) / unit`` per position, ``d = |center - target|``."""
    # The tiny constant keeps the gradient of the norm finite at d = 0.
    distance = torch.sqrt(((center - target) ** 2).sum(dim=-1) + (1e-6 * unit) ** 2)
    residual = distance.detach() - radius
    pinball = torch.maximum(q * residual, (q - 1.0) * residual)
    return (distance + pinball) / unit


def quantile_sphere_loss(
    pred: Prediction,
    targets_t1: torch.Tensor,
    targets_t2: torch.Tensor,
    mask_t1: torch.Tensor,
    mask_t2: torch.Tensor,
    q_t1: float = 0.98,
    q_t2: float = 0.97,
    t2_weight: float = 1.0,
    unit: float = 1e-3,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The ``quantile`` loss (module docstring): total and parts, like :func:`step_ahead_loss`.

    ``unit`` is the length (model units) that counts as 1 in the loss, 1 mm at the default
    scale; it sets the size of the numbers, not the optimum.
    """
    for name, q in (("q_t1", q_t1), ("q_t2", q_t2)):
        if not 0.0 < q < 1.0:
            raise ConfigError(f"loss {name} must be in (0, 1), got {q}")
    if t2_weight < 0:
        raise ConfigError(f"loss t2_weight must be >= 0, got {t2_weight}")
    if not unit > 0:
        raise ConfigError(f"loss unit must be > 0, got {unit}")
    loss_t1 = _masked_mean(
        quantile_loss_terms(pred.t1_center, pred.t1_radius, targets_t1, q_t1, unit),
        mask_t1.to(torch.bool),
    )
    loss_t2 = _masked_mean(
        quantile_loss_terms(pred.t2_center, pred.t2_radius, targets_t2, q_t2, unit),
        mask_t2.to(torch.bool),
    )
    total = loss_t1 + t2_weight * loss_t2
    parts = {"loss": total.detach(), "loss_t1": loss_t1.detach(), "loss_t2": loss_t2.detach()}
    return total, parts
