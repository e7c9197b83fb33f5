"""Geometry of a planar straw-tube tracker, modelled in 2D (the Muon g-2 arrangement).

:class:`StrawGeometry`: modules of U/V layers of straws in the horizontal mid-plane;
``x`` (mm) is the depth along which tracks travel, ``y`` (mm) the measuring coordinate,
a straw the circle of ``straw_radius_mm`` about its centre. Identifiers are 0-based
(module, layer, straw, global layer, ``straw_id``). Degrees only where the name says so.

See ``docs/simulation.md`` (Geometry: the 2D model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from tracknet.errors import ConfigError
from tracknet.schema import Settings, setting

__all__ = ["G2_GEOMETRY", "StrawGeometry"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _views(views: Any) -> str | None:
    return None if all(v in ("U", "V") for v in views) else "must be 'U' or 'V' per layer"


def _below_90(angle: Any) -> str | None:
    return None if angle < 90 else "must be < 90"


@dataclass(frozen=True)
class StrawGeometry(Settings):
    """A planar straw tracker in 2D (see ``docs/simulation.md`` for the model).

    Attributes:
        n_modules: modules, one after the other along ``x``.
        layers_per_module: straw layers per module.
        straws_per_layer: straws per layer.
        straw_radius_mm: inner radius of a straw (the drift cell).
        pitch_mm: distance between neighbouring straw centres of one layer.
        layer_x_mm: ``x`` of each layer relative to its module's first layer.
        layer_offset_pitch: offset of each layer across the straws, in pitches.
        layer_views: ``"U"`` or ``"V"`` per layer (the stereo view it belongs to).
        stereo_angle_deg: lean of the U straws from the vertical (V: the opposite).
        module_spacing_mm: distance between the first layers of neighbouring modules.
        first_module_x_mm: ``x`` of the first layer of module 0.
    """

    label: ClassVar[str] = "straw geometry"

    n_modules: int = setting(8, low=1, high=1_000)
    layers_per_module: int = setting(4, low=1, high=64)
    straws_per_layer: int = setting(32, low=1, high=100_000)
    straw_radius_mm: float = setting(2.5, low=0.0, open_low=True)
    pitch_mm: float = setting(6.06, low=0.0, open_low=True)
    layer_x_mm: tuple[float, ...] = (0.0, 5.25, 16.0, 21.25)
    layer_offset_pitch: tuple[float, ...] = (0.0, 0.5, 0.25, 0.75)
    layer_views: tuple[str, ...] = setting(("U", "U", "V", "V"), check=_views)
    stereo_angle_deg: float = setting(7.5, low=0.0, check=_below_90)
    module_spacing_mm: float = setting(130.0, low=0.0, open_low=True)
    first_module_x_mm: float = 0.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` (one line) when the geometry is not physical."""
        n = self.layers_per_module
        for name in ("layer_x_mm", "layer_offset_pitch", "layer_views"):
            if len(getattr(self, name)) != n:
                raise self.fail(name, f"needs {n} values (one per layer)", getattr(self, name))
        xs = np.asarray(self.layer_x_mm, dtype=np.float64)
        if np.any(np.diff(xs) <= 0) or xs[0] != 0.0:
            raise self.fail("layer_x_mm", "must start at 0 and increase", self.layer_x_mm)
        if self.pitch_mm < 2 * self.straw_radius_mm:
            raise ConfigError(
                f"{self.label}: straws of one layer overlap (pitch {self.pitch_mm} mm < diameter "
                f"{2 * self.straw_radius_mm} mm)"
            )
        depth = xs[-1] + 2 * self.straw_radius_mm
        if self.n_modules > 1 and depth > self.module_spacing_mm:
            raise ConfigError(
                f"{self.label}: modules overlap (module depth {depth:.2f} mm "
                f"> spacing {self.module_spacing_mm} mm)"
            )
        # Straws of two layers closer than a diameter in x must not overlap either.
        r2 = 2 * self.straw_radius_mm
        for i in range(n):
            for j in range(i + 1, n):
                dx = xs[j] - xs[i]
                if dx >= r2:
                    continue
                shift = (self.layer_offset_pitch[j] - self.layer_offset_pitch[i]) % 1.0
                dy = min(shift, 1.0 - shift) * self.pitch_mm
                if math.hypot(dx, dy) < r2 - 1e-9:
                    raise ConfigError(
                        f"{self.label}: straws of layers {i} and {j} overlap "
                        f"(centres {math.hypot(dx, dy):.3f} mm apart < diameter {r2} mm)"
                    )

    # ------------------------------------------------------------------ sizes and ids

    @property
    def n_layers(self) -> int:
        """Layers of the whole tracker (global layers)."""
        return self.n_modules * self.layers_per_module

    @property
    def n_straws(self) -> int:
        """Straws of the whole tracker."""
        return self.n_layers * self.straws_per_layer

    def straw_id(self, module: np.ndarray, layer: np.ndarray, straw: np.ndarray) -> np.ndarray:
        """Global straw ids of ``(module, layer, straw)`` (broadcast, int64)."""
        module = np.asarray(module, dtype=np.int64)
        layer = np.asarray(layer, dtype=np.int64)
        straw = np.asarray(straw, dtype=np.int64)
        straw_id: np.ndarray = (
            module * self.layers_per_module + layer
        ) * self.straws_per_layer + straw
        return straw_id

    def decompose(self, straw_id: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(module, layer, straw)`` of global straw ids (int64 arrays)."""
        straw_id = np.asarray(straw_id, dtype=np.int64)
        global_layer, straw = np.divmod(straw_id, self.straws_per_layer)
        module, layer = np.divmod(global_layer, self.layers_per_module)
        return module, layer, straw

    # ------------------------------------------------------------------ positions

    @cached_property
    def layer_x(self) -> np.ndarray:
        """``x`` (mm) of every global layer, shape ``(n_layers,)``."""
        module = np.repeat(np.arange(self.n_modules), self.layers_per_module)
        within = np.tile(np.asarray(self.layer_x_mm, dtype=np.float64), self.n_modules)
        return _readonly(self.first_module_x_mm + module * self.module_spacing_mm + within)

    @cached_property
    def layer_y0(self) -> np.ndarray:
        """``y`` (mm) of straw 0 of every global layer, shape ``(n_layers,)``."""
        offset = np.tile(np.asarray(self.layer_offset_pitch, dtype=np.float64), self.n_modules)
        return _readonly((offset - 0.5 * (self.straws_per_layer - 1)) * self.pitch_mm)

    @cached_property
    def straw_x(self) -> np.ndarray:
        """``x`` (mm) of every straw centre, indexed by ``straw_id``."""
        return _readonly(np.repeat(self.layer_x, self.straws_per_layer))

    @cached_property
    def straw_y(self) -> np.ndarray:
        """``y`` (mm) of every straw centre, indexed by ``straw_id``."""
        straw = np.tile(np.arange(self.straws_per_layer, dtype=np.float64), self.n_layers)
        return _readonly(np.repeat(self.layer_y0, self.straws_per_layer) + straw * self.pitch_mm)

    @property
    def x_range(self) -> tuple[float, float]:
        """Extent of the straws along ``x`` (mm), walls included."""
        return (
            float(self.layer_x[0] - self.straw_radius_mm),
            float(self.layer_x[-1] + self.straw_radius_mm),
        )

    @property
    def y_range(self) -> tuple[float, float]:
        """Extent of the straws along ``y`` (mm), walls included."""
        return (
            float(self.layer_y0.min() - self.straw_radius_mm),
            float(
                self.layer_y0.max()
                + (self.straws_per_layer - 1) * self.pitch_mm
                + self.straw_radius_mm
            ),
        )

    def layer_stereo_deg(self) -> np.ndarray:
        """Stereo angle of every layer of a module (+angle for U, -angle for V)."""
        return np.array(
            [
                self.stereo_angle_deg if v == "U" else -self.stereo_angle_deg
                for v in self.layer_views
            ]
        )


#: The default geometry: the Muon g-2 tracker station in the 2D model.
G2_GEOMETRY = StrawGeometry()
