"""StepAhead TrackNET: a GRU that predicts a search sphere for the next two hits.

The network reads a track's hits one by one (positions in the model frame of a
:class:`~tracknet.data.normalize.Normalizer`: mm divided by one isotropic scale) and,
after each hit ``t``, predicts

* a sphere (centre, radius) that should contain hit ``t + 1`` (``t1``), and
* a sphere that should contain hit ``t + 2`` (``t2``), used to bridge a missing hit.

Centres are predicted as **offsets from the current hit** by default
(``center_mode="offset"``: ``centre = x_t + Linear(h_t)``), so the heads learn the local
step rather than absolute positions; ``center_mode="absolute"`` predicts
``centre = Linear(h_t)``. Radii are ``softplus(Linear(h_t)) + radius_eps`` (strictly
positive, model units; multiply by the normalizer's scale for mm). The radius heads
start at about ``INITIAL_RADIUS`` (0.1 model units = 100 mm at the default scale).

Two entry points share the weights:

* :meth:`StepAheadTrackNet.forward` runs the GRU over a padded batch ``(B, T, D)``.
  The GRU is causal, so outputs at real steps never see padding; padded steps produce
  values that the loss masks out. No ``pack_padded_sequence``: the path exports to ONNX.
* :meth:`StepAheadTrackNet.step` advances one hit with an explicit hidden state
  ``(num_layers, B, H)``, for track building and ONNX export.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError

__all__ = ["CENTER_MODES", "INITIAL_RADIUS", "Prediction", "StepAheadTrackNet"]

CENTER_MODES: tuple[str, ...] = ("offset", "absolute")
#: Radius (model units) that the radius heads predict before training.
INITIAL_RADIUS = 0.1


class Prediction(NamedTuple):
    """Spheres for the next hit (t1) and the hit after next (t2), in the model frame.

    Centres have shape ``(..., D)``, radii ``(...)``: ``(B, T, D)``/``(B, T)`` from
    :meth:`StepAheadTrackNet.forward`, ``(B, D)``/``(B,)`` from :meth:`StepAheadTrackNet.step`.
    """

    t1_center: torch.Tensor
    t1_radius: torch.Tensor
    t2_center: torch.Tensor
    t2_radius: torch.Tensor


_CONFIG_KEYS: tuple[str, ...] = (
    "input_dim",
    "hidden_size",
    "num_layers",
    "dropout",
    "center_mode",
    "radius_eps",
)


class StepAheadTrackNet(nn.Module):
    """GRU (batch_first) + four linear heads: t1/t2 centre (-> D) and t1/t2 radius (-> 1).

    ``input_dim`` is 3 for (x, y, z) and 2 for straw events; ``dropout`` acts between GRU
    layers (only with ``num_layers > 1``) and in training mode only.
    """

    def __init__(
        self,
        input_dim: int = 3,
        hidden_size: int = 32,
        num_layers: int = 2,
        dropout: float = 0.0,
        center_mode: str = "offset",
        radius_eps: float = 1e-4,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("input_dim", input_dim, 1),
            ("hidden_size", hidden_size, 1),
            ("num_layers", num_layers, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"StepAheadTrackNet {name} must be an integer >= {low}, got {value!r}"
                )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0.0 <= dropout < 1.0
        ):
            raise ConfigError(f"StepAheadTrackNet dropout must be in [0, 1), got {dropout!r}")
        if center_mode not in CENTER_MODES:
            raise ConfigError(
                f"StepAheadTrackNet center_mode must be one of {list(CENTER_MODES)}, got {center_mode!r}"
            )
        if (
            isinstance(radius_eps, bool)
            or not isinstance(radius_eps, (int, float))
            or not radius_eps > 0
        ):
            raise ConfigError(f"StepAheadTrackNet radius_eps must be > 0, got {radius_eps!r}")
        self.input_dim = input_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.center_mode = center_mode
        self.radius_eps = float(radius_eps)

        self.gru = nn.GRU(
            input_size=input_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=self.dropout if num_layers > 1 else 0.0,
        )
        self.t1_center_head = nn.Linear(hidden_size, input_dim)
        self.t1_radius_head = nn.Linear(hidden_size, 1)
        self.t2_center_head = nn.Linear(hidden_size, input_dim)
        self.t2_radius_head = nn.Linear(hidden_size, 1)
        initial_bias = math.log(math.expm1(INITIAL_RADIUS))  # softplus^-1
        for head in (self.t1_radius_head, self.t2_radius_head):
            nn.init.constant_(head.bias, initial_bias)

    # ------------------------------------------------------------------ heads
    def _heads(self, hidden: torch.Tensor, x: torch.Tensor) -> Prediction:
        """Spheres from GRU outputs ``hidden`` (..., H) at inputs ``x`` (..., D)."""
        c1 = self.t1_center_head(hidden)
        c2 = self.t2_center_head(hidden)
        if self.center_mode == "offset":
            c1 = c1 + x
            c2 = c2 + x
        r1 = F.softplus(self.t1_radius_head(hidden)).squeeze(-1) + self.radius_eps
        r2 = F.softplus(self.t2_radius_head(hidden)).squeeze(-1) + self.radius_eps
        return Prediction(c1, r1, c2, r2)

    # ------------------------------------------------------------------ entry points
    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Prediction:
        """Spheres after every hit of a padded batch ``x`` ``(B, T, D)``.

        ``lengths`` ``(B,)`` is accepted for symmetry with the data pipeline and checked
        for shape only: the GRU is causal, so predictions at real steps do not depend on
        padding, and the loss masks the padded steps.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(
                f"expected input of shape (B, T, {self.input_dim}), got {tuple(x.shape)}"
            )
        if lengths is not None and lengths.shape != x.shape[:1]:
            raise ValueError(f"lengths must have shape ({x.shape[0]},), got {tuple(lengths.shape)}")
        out, _ = self.gru(x)
        return self._heads(out, x)

    def step(
        self, x_t: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[Prediction, torch.Tensor]:
        """Advance one hit: ``x_t`` ``(B, D)``, ``hidden`` ``(num_layers, B, H)`` or None (zeros).

        Returns the spheres after this hit (``(B, D)`` centres, ``(B,)`` radii) and the new
        hidden state. Running it over a sequence equals :meth:`forward` on that sequence.
        """
        if x_t.dim() != 2 or x_t.shape[-1] != self.input_dim:
            raise ValueError(
                f"expected input of shape (B, {self.input_dim}), got {tuple(x_t.shape)}"
            )
        out, new_hidden = self.gru(x_t.unsqueeze(1), hidden)
        return self._heads(out.squeeze(1), x_t), new_hidden

    def initial_hidden(
        self, batch_size: int, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Zeros ``(num_layers, batch_size, hidden_size)``: the state before the first hit."""
        return torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)

    # ------------------------------------------------------------------ config
    def config(self) -> dict[str, Any]:
        """The constructor arguments as primitives (for ``torch.load(weights_only=True)``)."""
        return {
            "input_dim": self.input_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "center_mode": self.center_mode,
            "radius_eps": self.radius_eps,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StepAheadTrackNet:
        """A fresh (untrained) model from :meth:`config`'s dict; unknown keys are an error."""
        unknown = set(config) - set(_CONFIG_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown StepAheadTrackNet option(s) {sorted(unknown)}; known: {list(_CONFIG_KEYS)}"
            )
        return cls(**dict(config))
