"""One isotropic coordinate scale between millimetres and the model's frame.

The model sees positions divided by a single constant ``scale_mm`` (default 1000 mm, so a
TrackML barrel of radius ~1 m maps to about unit size). The same constant multiplies
predicted centres and radii back to millimetres. Because x, y and z share one scale, a
sphere in the model frame is a sphere in millimetres: no axis is stretched, unlike a
per-axis min-max normalisation which turns every predicted sphere into an ellipsoid.

There is deliberately no shift: the origin of both frames is the nominal interaction
point, so a radius (a length) and a position convert with the same factor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["DEFAULT_SCALE_MM", "Normalizer"]

#: Default length (mm) that becomes 1 in the model frame.
DEFAULT_SCALE_MM = 1000.0

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor, float)


@dataclass(frozen=True)
class Normalizer:
    """Convert points, radii and volumes between mm and the model frame.

    ``model = mm / scale_mm`` for points and radii; volumes scale with ``scale_mm**3``.
    Works on numpy arrays, torch tensors and Python floats alike (dtype is preserved).
    """

    scale_mm: float = DEFAULT_SCALE_MM

    def __post_init__(self) -> None:
        scale = self.scale_mm
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise ConfigError(f"normalizer scale_mm must be a number, got {scale!r}")
        if not math.isfinite(scale) or scale <= 0:
            raise ConfigError(f"normalizer scale_mm must be finite and > 0, got {scale}")
        object.__setattr__(self, "scale_mm", float(scale))

    # Points and radii are both lengths: one factor for both.
    def to_model(self, points_mm: ArrayT) -> ArrayT:
        """Positions in mm -> model frame (any shape; every component divided by the scale)."""
        return points_mm / self.scale_mm

    def to_mm(self, points_model: ArrayT) -> ArrayT:
        """Positions in the model frame -> mm."""
        return points_model * self.scale_mm

    def radius_to_model(self, radius_mm: ArrayT) -> ArrayT:
        """A length (sphere radius, distance) in mm -> model frame."""
        return radius_mm / self.scale_mm

    def radius_to_mm(self, radius_model: ArrayT) -> ArrayT:
        """A length (sphere radius, distance) in the model frame -> mm."""
        return radius_model * self.scale_mm

    def volume_to_mm3(self, volume_model: ArrayT) -> ArrayT:
        """A volume in model units cubed -> mm^3."""
        return volume_model * self.scale_mm**3

    def config(self) -> dict[str, float]:
        """Primitives only, for checkpoints and configs."""
        return {"scale_mm": self.scale_mm}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Normalizer:
        unknown = set(config) - {"scale_mm"}
        if unknown:
            raise ConfigError(
                f"unknown normalizer option(s) {sorted(unknown)}; known: ['scale_mm']"
            )
        return cls(**dict(config))
