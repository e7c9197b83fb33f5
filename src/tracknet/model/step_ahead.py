"""StepAhead TrackNET: a GRU that predicts a search sphere for the next two hits.

After each hit of a track (model frame of a :class:`~tracknet.data.normalize.Normalizer`)
it predicts a sphere for hit ``t + 1`` (t1) and one for hit ``t + 2`` (t2). ``forward``
runs a padded batch, ``step`` advances one hit with an explicit state (building, ONNX).
Layers, feature sets, state and radius calibration: docs/model.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .features import (
    CYLINDRICAL_FEATURE_SCALES,
    CYLINDRICAL_OFFSET_SCALES,
    DELTA_FEATURE_SCALE,
    FEATURE_SETS,
    STRAW_MAX_SLOPE,
    FeatureSet,
)

__all__ = [
    "CENTER_MODES",
    "CYLINDRICAL_FEATURE_SCALES",
    "CYLINDRICAL_OFFSET_SCALES",
    "DELTA_FEATURE_SCALE",
    "FEATURES",
    "INITIAL_RADIUS",
    "STRAW_MAX_SLOPE",
    "Prediction",
    "StepAheadTrackNet",
]

CENTER_MODES: tuple[str, ...] = ("offset", "absolute")
#: The ``features`` names (:data:`~tracknet.model.features.FEATURE_SETS`).
FEATURES: tuple[str, ...] = tuple(FEATURE_SETS)
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
    "features",
    "t1_radius_scale",
    "t2_radius_scale",
    "t1_max_radius",
    "t2_max_radius",
    "radius_regions",
)
_REGION_KEYS: tuple[str, ...] = (
    "r_edges",
    "z_edges",
    "t1_scales",
    "t1_caps",
    "t2_scales",
    "t2_caps",
)


class StepAheadTrackNet(nn.Module):
    """GRU (batch_first) + four linear heads: t1/t2 centre (-> D) and t1/t2 radius (-> 1).

    ``input_dim`` is 3 for (x, y, z) and 2 for straw events; ``dropout`` acts between GRU
    layers (only with ``num_layers > 1``) and in training mode only. ``features`` and the
    radius scales are described in docs/model.md.
    """

    # The region tables as non-persistent buffers, registered by set_radius_regions.
    _region_r_edges: torch.Tensor
    _region_z_edges: torch.Tensor
    _region_t1_scales: torch.Tensor
    _region_t1_caps: torch.Tensor
    _region_t2_scales: torch.Tensor
    _region_t2_caps: torch.Tensor

    def __init__(
        self,
        input_dim: int = 3,
        hidden_size: int = 32,
        num_layers: int = 2,
        dropout: float = 0.0,
        center_mode: str = "offset",
        radius_eps: float = 1e-4,
        features: str = "position",
        t1_radius_scale: float = 1.0,
        t2_radius_scale: float = 1.0,
        t1_max_radius: float | None = math.inf,
        t2_max_radius: float | None = math.inf,
        radius_regions: Mapping[str, Any] | None = None,
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
                f"StepAheadTrackNet center_mode must be one of {list(CENTER_MODES)}, "
                f"got {center_mode!r}"
            )
        if (
            isinstance(radius_eps, bool)
            or not isinstance(radius_eps, (int, float))
            or not radius_eps > 0
        ):
            raise ConfigError(f"StepAheadTrackNet radius_eps must be > 0, got {radius_eps!r}")
        if features not in FEATURES:
            raise ConfigError(
                f"StepAheadTrackNet features must be one of {list(FEATURES)}, got {features!r}"
            )
        FEATURE_SETS[features].check(input_dim, center_mode)
        for name, scale in (
            ("t1_radius_scale", t1_radius_scale),
            ("t2_radius_scale", t2_radius_scale),
        ):
            if (
                isinstance(scale, bool)
                or not isinstance(scale, (int, float))
                or not math.isfinite(scale)
                or scale <= 0
            ):
                raise ConfigError(
                    f"StepAheadTrackNet {name} must be a finite number > 0, got {scale!r}"
                )
        t1_max_radius = math.inf if t1_max_radius is None else t1_max_radius
        t2_max_radius = math.inf if t2_max_radius is None else t2_max_radius
        for name, cap in (("t1_max_radius", t1_max_radius), ("t2_max_radius", t2_max_radius)):
            if (
                isinstance(cap, bool)
                or not isinstance(cap, (int, float))
                or math.isnan(cap)
                or cap <= 0
            ):
                raise ConfigError(
                    f"StepAheadTrackNet {name} must be a number > 0 (inf: no cap), got {cap!r}"
                )
        self.input_dim = input_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.center_mode = center_mode
        self.radius_eps = float(radius_eps)
        self.features = features
        self.t1_radius_scale = float(t1_radius_scale)
        self.t2_radius_scale = float(t2_radius_scale)
        self.t1_max_radius = float(t1_max_radius)
        self.t2_max_radius = float(t2_max_radius)
        self.radius_regions: dict[str, list[float]] | None = None
        self.set_radius_regions(radius_regions)
        #: The feature set (no parameters, no persistent buffers: not in the state_dict).
        self.feature_set: FeatureSet = FEATURE_SETS[features](input_dim, center_mode)
        gru_input, head_out = self.feature_set.sizes()
        self.gru = nn.GRU(
            input_size=gru_input,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=self.dropout if num_layers > 1 else 0.0,
        )
        self.t1_center_head = nn.Linear(hidden_size, head_out)
        self.t1_radius_head = nn.Linear(hidden_size, 1)
        self.t2_center_head = nn.Linear(hidden_size, head_out)
        self.t2_radius_head = nn.Linear(hidden_size, 1)
        initial_bias = math.log(math.expm1(INITIAL_RADIUS))  # softplus^-1
        for head in (self.t1_radius_head, self.t2_radius_head):
            nn.init.constant_(head.bias, initial_bias)
        if self.feature_set.uses_previous:
            # Start as "repeat the last step": multipliers and offsets 0.
            for head in (self.t1_center_head, self.t2_center_head):
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    # ------------------------------------------------------------------ state
    @property
    def state_size(self) -> int:
        """Size of the last dimension of the recurrent state (docs/model.md)."""
        return self.hidden_size + (self.input_dim if self.feature_set.uses_previous else 0)

    def _split_state(
        self, state: torch.Tensor | None, batch: int, like: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(gru_hidden or None, previous hit (B, D))`` from a state tensor."""
        if state is None:
            return None, torch.zeros(batch, self.input_dim, dtype=like.dtype, device=like.device)
        expected = (self.num_layers, batch, self.state_size)
        if tuple(state.shape) != expected:
            raise ValueError(f"expected a state of shape {expected}, got {tuple(state.shape)}")
        if not self.feature_set.uses_previous:
            return state, like.new_zeros(0)
        return state[..., : self.hidden_size].contiguous(), state[0, :, self.hidden_size :]

    def _join_state(self, hidden: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        if not self.feature_set.uses_previous:
            return hidden
        # No in-place writes: the step function must trace (ONNX) as it runs.
        extra = torch.cat(
            [x_t.unsqueeze(0), x_t.new_zeros(self.num_layers - 1, x_t.shape[0], self.input_dim)],
            dim=0,
        )
        return torch.cat([hidden, extra.to(hidden.dtype)], dim=-1)

    # ------------------------------------------------------------------ heads
    def _heads(self, hidden: torch.Tensor, x: torch.Tensor, prev: torch.Tensor) -> Prediction:
        """Spheres from GRU outputs ``hidden`` (..., H) at inputs ``x`` (..., D) after ``prev``."""
        c1 = self.feature_set.centre(self.t1_center_head(hidden), x, prev)
        c2 = self.feature_set.centre(self.t2_center_head(hidden), x, prev)
        r1 = (
            F.softplus(self.t1_radius_head(hidden)).squeeze(-1) + self.radius_eps
        ) * self.t1_radius_scale
        r2 = (
            F.softplus(self.t2_radius_head(hidden)).squeeze(-1) + self.radius_eps
        ) * self.t2_radius_scale
        if math.isfinite(self.t1_max_radius):
            r1 = torch.clamp(r1, max=self.t1_max_radius)
        if math.isfinite(self.t2_max_radius):
            r2 = torch.clamp(r2, max=self.t2_max_radius)
        if self.radius_regions is not None:
            r1 = self._apply_regions(c1, r1, self._region_t1_scales, self._region_t1_caps)
            r2 = self._apply_regions(c2, r2, self._region_t2_scales, self._region_t2_caps)
        return Prediction(c1, r1, c2, r2)

    def _apply_regions(
        self, centre: torch.Tensor, radius: torch.Tensor, scales: torch.Tensor, caps: torch.Tensor
    ) -> torch.Tensor:
        """``min(radius * scale[region], cap[region])`` with the region of each centre."""
        rho = torch.sqrt(centre[..., 0] * centre[..., 0] + centre[..., 1] * centre[..., 1])
        # Region index = number of interior edges at or below the value (exports to ONNX).
        index = (rho.unsqueeze(-1) >= self._region_r_edges).sum(-1)
        if self._region_z_edges.numel():
            n_z = self._region_z_edges.numel() + 1
            index_z = (centre[..., 2].abs().unsqueeze(-1) >= self._region_z_edges).sum(-1)
            index = index * n_z + index_z
        return torch.minimum(radius * scales[index], caps[index])

    def set_radius_regions(self, regions: Mapping[str, Any] | None) -> None:
        """Set (or with None remove) the region calibration tables (docs/model.md)."""
        if regions is None:
            self.radius_regions = None
            return
        unknown = set(regions) - set(_REGION_KEYS)
        missing = set(_REGION_KEYS) - set(regions)
        if unknown or missing:
            raise ConfigError(
                f"StepAheadTrackNet radius_regions needs exactly the keys {list(_REGION_KEYS)}"
            )
        try:
            table = {k: [float(v) for v in regions[k]] for k in _REGION_KEYS}
        except (TypeError, ValueError):
            raise ConfigError(
                "StepAheadTrackNet radius_regions values must be lists of numbers"
            ) from None
        n_regions = (len(table["r_edges"]) + 1) * (len(table["z_edges"]) + 1)
        for name in ("r_edges", "z_edges"):
            edges = table[name]
            if any(not math.isfinite(e) or e < 0 for e in edges) or edges != sorted(edges):
                raise ConfigError(
                    f"StepAheadTrackNet radius_regions {name} must be increasing numbers >= 0"
                )
        if table["z_edges"] and self.input_dim < 3:
            raise ConfigError("StepAheadTrackNet radius_regions z_edges need input_dim 3")
        for name in ("t1_scales", "t1_caps", "t2_scales", "t2_caps"):
            values = table[name]
            if len(values) != n_regions:
                raise ConfigError(
                    f"StepAheadTrackNet radius_regions {name} needs {n_regions} values, "
                    f"got {len(values)}"
                )
            if any(
                math.isnan(v) or v <= 0 or (name.endswith("scales") and not math.isfinite(v))
                for v in values
            ):
                raise ConfigError(f"StepAheadTrackNet radius_regions {name} must be numbers > 0")
        self.radius_regions = table
        for name in _REGION_KEYS:
            self.register_buffer(
                f"_region_{name}", torch.tensor(table[name], dtype=torch.float32), persistent=False
            )

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
        prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)
        out, _ = self.gru(self.feature_set.inputs(x, prev))
        return self._heads(out, x, prev)

    def step(
        self, x_t: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[Prediction, torch.Tensor]:
        """Advance one hit: ``x_t`` ``(B, D)``, state ``(num_layers, B, state_size)`` or None.

        ``None`` (or :meth:`initial_hidden`, all zeros) is the state before the first hit.
        Returns the spheres after this hit (``(B, D)`` centres, ``(B,)`` radii) and the new
        state. Running it over a sequence equals :meth:`forward` on that sequence.
        """
        if x_t.dim() != 2 or x_t.shape[-1] != self.input_dim:
            raise ValueError(
                f"expected input of shape (B, {self.input_dim}), got {tuple(x_t.shape)}"
            )
        gru_hidden, prev = self._split_state(hidden, x_t.shape[0], x_t)
        out, new_hidden = self.gru(self.feature_set.inputs(x_t, prev).unsqueeze(1), gru_hidden)
        return self._heads(out.squeeze(1), x_t, prev), self._join_state(new_hidden, x_t)

    def initial_hidden(
        self, batch_size: int, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Zeros ``(num_layers, batch_size, state_size)``: the state before the first hit."""
        return torch.zeros(self.num_layers, batch_size, self.state_size, device=device)

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
            "features": self.features,
            "t1_radius_scale": self.t1_radius_scale,
            "t2_radius_scale": self.t2_radius_scale,
            "t1_max_radius": self.t1_max_radius,
            "t2_max_radius": self.t2_max_radius,
        } | (
            {}
            if self.radius_regions is None
            else {"radius_regions": {k: list(v) for k, v in self.radius_regions.items()}}
        )

    def set_radius_scales(
        self,
        t1: float,
        t2: float,
        t1_max: float | None = math.inf,
        t2_max: float | None = math.inf,
    ) -> None:
        """Set the calibration of the t1 and t2 radii: scale factors and caps (model units,
        inf: none)."""
        for name, value in (("t1", t1), ("t2", t2)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} radius scale must be a finite number > 0, got {value!r}")
        caps = [math.inf if c is None else c for c in (t1_max, t2_max)]
        for name, cap in zip(("t1", "t2"), caps, strict=True):
            if not (isinstance(cap, (int, float)) and not math.isnan(cap) and cap > 0):
                raise ConfigError(
                    f"{name} radius cap must be a number > 0 (inf: none), got {cap!r}"
                )
        self.t1_radius_scale = float(t1)
        self.t2_radius_scale = float(t2)
        self.t1_max_radius = float(caps[0])
        self.t2_max_radius = float(caps[1])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StepAheadTrackNet:
        """A fresh (untrained) model from :meth:`config`'s dict; unknown keys are an error."""
        unknown = set(config) - set(_CONFIG_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown StepAheadTrackNet option(s) {sorted(unknown)}; "
                f"known: {list(_CONFIG_KEYS)}"
            )
        return cls(**dict(config))
