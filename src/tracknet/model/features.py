"""Input feature sets of StepAhead TrackNET, one small strategy each, keyed by name.

A feature set turns a hit and the previous one into the GRU's input and a centre
head's output into a sphere centre; :class:`~tracknet.model.step_ahead.StepAheadTrackNet`
picks one from :data:`FEATURE_SETS` by its ``features`` setting. Each set's inputs and
centres: docs/model.md.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ..errors import ConfigError

__all__ = [
    "CYLINDRICAL_FEATURE_SCALES",
    "CYLINDRICAL_OFFSET_SCALES",
    "DELTA_FEATURE_SCALE",
    "FEATURE_SETS",
    "STRAW_MAX_SLOPE",
    "CylindricalFeatures",
    "DeltaFeatures",
    "FeatureSet",
    "PositionFeatures",
    "StrawFeatures",
]

#: ``"delta"`` features: the step ``x_t - x_{t-1}`` (model units) is multiplied by this.
DELTA_FEATURE_SCALE = 10.0
#: ``"cylindrical"`` features, in order ``r, z, step_r, step_phi, step_z`` (model units
#: and radians): factors that bring each to order one for a TrackML-sized detector at
#: a normaliser scale of 1000 mm (steps of ~0.1 in r and z, ~0.03 rad in phi).
CYLINDRICAL_FEATURE_SCALES: tuple[float, ...] = (1.0, 1.0, 5.0, 30.0, 5.0)
#: ``"cylindrical"`` centres: the offset head's outputs (r, phi, z) are multiplied by
#: these (model units, radians) so that its initial weights give steps of that order.
CYLINDRICAL_OFFSET_SCALES: tuple[float, ...] = (0.1, 0.03, 0.1)
#: ``"straw"`` features: the step slope fed to the GRU is clipped to this.
STRAW_MAX_SLOPE = 3.0


def _atan2(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``atan2`` with ``atan2(0, 0) = 0`` in every backend (ONNX computes it through y / x)."""
    return torch.atan2(y, torch.where((x == 0) & (y == 0), torch.ones_like(x), x))


class FeatureSet(nn.Module):
    """One feature set: the GRU input of a hit and the centre built from a head's output.

    It holds no parameters and no persistent buffers, so the model's ``state_dict`` does
    not depend on it. ``uses_previous``: the previous hit is part of the recurrent state
    and the centre heads start at zero ("repeat the last step").
    """

    name: ClassVar[str]
    uses_previous: ClassVar[bool] = True

    def __init__(self, input_dim: int, center_mode: str) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.center_mode = center_mode

    @classmethod
    def check(cls, input_dim: int, center_mode: str) -> None:
        """Raise a one-line :class:`ConfigError` for settings this set cannot honour."""
        if center_mode != "offset":
            raise ConfigError(
                f"StepAheadTrackNet features {cls.name!r} predict centres from the last step; "
                "center_mode must be 'offset'"
            )

    def sizes(self) -> tuple[int, int]:
        """``(GRU input size, centre head output size)``."""
        raise NotImplementedError

    def inputs(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """The GRU input (..., gru input size) of hits ``x`` after ``prev`` (..., D)."""
        raise NotImplementedError

    def centre(self, out: torch.Tensor, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """The sphere centre (..., D) from a centre head's output ``out``."""
        raise NotImplementedError


class PositionFeatures(FeatureSet):
    """``"position"``: the GRU reads the hit; centres are ``x + head`` (or ``head``)."""

    name = "position"
    uses_previous = False

    @classmethod
    def check(cls, input_dim: int, center_mode: str) -> None:
        return None

    def sizes(self) -> tuple[int, int]:
        return self.input_dim, self.input_dim

    def inputs(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return x

    def centre(self, out: torch.Tensor, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return out + x if self.center_mode == "offset" else out


class DeltaFeatures(FeatureSet):
    """``"delta"``: the hit and the scaled step; centres extrapolate the last step."""

    name = "delta"

    def sizes(self) -> tuple[int, int]:
        return 2 * self.input_dim, 2 * self.input_dim

    def inputs(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, (x - prev) * DELTA_FEATURE_SCALE], dim=-1)

    def centre(self, out: torch.Tensor, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        d = self.input_dim
        return x + (1.0 + out[..., :d]) * (x - prev) + out[..., d:] * (1.0 / DELTA_FEATURE_SCALE)


class StrawFeatures(FeatureSet):
    """``"straw"`` (x, y): the hit, the scaled step and its slope; centres follow the slope."""

    name = "straw"

    @classmethod
    def check(cls, input_dim: int, center_mode: str) -> None:
        super().check(input_dim, center_mode)
        if input_dim != 2:
            raise ConfigError(
                f"StepAheadTrackNet features 'straw' need input_dim 2 (x, y), got {input_dim}"
            )

    def sizes(self) -> tuple[int, int]:
        return 5, 4  # x, y, step x, step y, slope -> step (m, o_x), o_b, o_y

    @staticmethod
    def slope(step: torch.Tensor) -> torch.Tensor:
        """``dy / dx`` of a step, clipped; 0 where ``dx <= 0``."""
        dx = step[..., 0]
        ok = dx > 1e-9
        slope = step[..., 1] / torch.where(ok, dx, torch.ones_like(dx))
        return torch.where(
            ok, slope.clamp(-STRAW_MAX_SLOPE, STRAW_MAX_SLOPE), torch.zeros_like(slope)
        )

    def inputs(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        step = x - prev
        return torch.cat([x, step * DELTA_FEATURE_SCALE, self.slope(step).unsqueeze(-1)], dim=-1)

    def centre(self, out: torch.Tensor, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        step = x - prev
        a = (1.0 + out[..., 0]) * step[..., 0] + out[..., 1] * (1.0 / DELTA_FEATURE_SCALE)
        b = self.slope(step) + out[..., 2]
        y = x[..., 1] + b * a + out[..., 3] * (1.0 / DELTA_FEATURE_SCALE)
        return torch.stack([x[..., 0] + a, y], dim=-1)


class CylindricalFeatures(FeatureSet):
    """``"cylindrical"`` (x, y[, z]): rotation-invariant ``r, z`` and the step in
    ``(r, phi, z)``; centres are built in cylindrical coordinates."""

    name = "cylindrical"
    # Non-persistent buffers, registered in __init__ (typed here for nn.Module.__getattr__).
    _feature_scale: torch.Tensor
    _offset_scale: torch.Tensor

    def __init__(self, input_dim: int, center_mode: str) -> None:
        super().__init__(input_dim, center_mode)
        feature_scales = CYLINDRICAL_FEATURE_SCALES
        offset_scales = CYLINDRICAL_OFFSET_SCALES
        if input_dim == 2:  # no z: r, step r, step phi
            feature_scales = (feature_scales[0], feature_scales[2], feature_scales[3])
            offset_scales = offset_scales[:2]
        self.register_buffer(
            "_feature_scale", torch.tensor(feature_scales, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "_offset_scale", torch.tensor(offset_scales, dtype=torch.float32), persistent=False
        )

    @classmethod
    def check(cls, input_dim: int, center_mode: str) -> None:
        super().check(input_dim, center_mode)
        if input_dim not in (2, 3):
            raise ConfigError(
                "StepAheadTrackNet features 'cylindrical' need input_dim 2 (x, y) or 3 (x, y, z), "
                f"got {input_dim}"
            )

    def sizes(self) -> tuple[int, int]:
        return 2 * self.input_dim - 1, 2 * self.input_dim  # r, (z), step r, step phi, (step z)

    def step(
        self, x: torch.Tensor, prev: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(r, phi)`` of ``x`` and the step ``(dr, dphi[, dz])`` from ``prev`` (..., D)."""
        r = torch.sqrt(x[..., 0] * x[..., 0] + x[..., 1] * x[..., 1])
        r_prev = torch.sqrt(prev[..., 0] * prev[..., 0] + prev[..., 1] * prev[..., 1])
        # Turning angle between the previous and the current hit, wrap-free; 0 from the origin.
        dphi = _atan2(
            prev[..., 0] * x[..., 1] - prev[..., 1] * x[..., 0],
            prev[..., 0] * x[..., 0] + prev[..., 1] * x[..., 1],
        )
        parts = [r - r_prev, dphi]
        if self.input_dim == 3:
            parts.append(x[..., 2] - prev[..., 2])
        return r, _atan2(x[..., 1], x[..., 0]), torch.stack(parts, dim=-1)

    def inputs(self, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        r, _, step = self.step(x, prev)
        columns = [r.unsqueeze(-1)]
        if self.input_dim == 3:
            columns.append(x[..., 2:3])
        columns.append(step)
        return torch.cat(columns, dim=-1) * self._feature_scale

    def centre(self, out: torch.Tensor, x: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        d = self.input_dim
        r, phi, step = self.step(x, prev)
        nxt = (1.0 + out[..., :d]) * step + out[..., d:] * self._offset_scale
        r_next = r + nxt[..., 0]
        phi_next = phi + nxt[..., 1]
        columns = [r_next * torch.cos(phi_next), r_next * torch.sin(phi_next)]
        if d == 3:
            columns.append(x[..., 2] + nxt[..., 2])
        return torch.stack(columns, dim=-1)


#: Every feature set by its ``features`` name (the order of the error message's list).
FEATURE_SETS: dict[str, type[FeatureSet]] = {
    c.name: c for c in (PositionFeatures, DeltaFeatures, CylindricalFeatures, StrawFeatures)
}
