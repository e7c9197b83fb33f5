"""Geometry of a planar straw-tube tracker, modelled in 2D (the Muon g-2 arrangement).

The 2D model
------------
The Muon g-2 tracker stations are stacks of modules; each module holds four layers of
32 straws (radius 2.5 mm, pitch about 6 mm): two *U* layers whose straws lean by +7.5
degrees from the vertical and two *V* layers leaning by -7.5 degrees, the two layers of
a pair staggered by half a pitch. Modules sit about 13 cm apart along the direction in
which the decay positrons travel.

TrackNET models the tracker in the horizontal mid-plane (vertical coordinate 0):

* ``x`` (mm) is the depth coordinate: the direction along which the modules follow one
  another and in which tracks travel. Every layer is a line ``x = const``.
* ``y`` (mm) is the measuring coordinate across the straws of a layer.
* A straw is the circle of radius ``straw_radius_mm`` around its centre ``(x, y)``,
  where the straw's wire crosses the mid-plane. (A straw leaning by 7.5 degrees cuts the
  plane in an ellipse 1/cos(7.5 deg) = 1.009 times wider along ``y``; that is ignored.)
* The stereo angle cannot be measured in one plane; it is kept as a label of each layer
  (``layer_views``, ``stereo_angle_deg``) and it shows in the layer's offset across the
  straws: layer ``l``'s straw ``s`` sits at
  ``y = (s - (straws_per_layer - 1) / 2 + layer_offset_pitch[l]) * pitch_mm``. The
  defaults stagger the U pair by half a pitch (0, 0.5) and place the V pair a quarter
  pitch further (0.25, 0.75), so in the mid-plane the U and V views sample ``y`` at
  different points, as the crossing stereo views do around the mid-plane.
* Layer ``l`` of module ``m`` lies at
  ``x = first_module_x_mm + m * module_spacing_mm + layer_x_mm[l]``.

Identifiers (all 0-based): ``module`` in ``[0, n_modules)``, ``layer`` in
``[0, layers_per_module)`` within its module, ``straw`` in ``[0, straws_per_layer)``
within its layer, the *global layer* ``module * layers_per_module + layer`` and the
global ``straw_id = global_layer * straws_per_layer + straw``. In an
:class:`~tracknet.events.Event` a straw hit has ``volume_id = module``,
``layer_id = layer``, ``module_id = straw`` and the extra column ``straw_id``.

Units: millimetres, degrees only where the name says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np

from tracknet.errors import ConfigError

__all__ = ["G2_GEOMETRY", "StrawGeometry"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class StrawGeometry:
    """A planar straw tracker in 2D (see the module docstring for the model).

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

    n_modules: int = 8
    layers_per_module: int = 4
    straws_per_layer: int = 32
    straw_radius_mm: float = 2.5
    pitch_mm: float = 6.06
    layer_x_mm: tuple[float, ...] = (0.0, 5.25, 16.0, 21.25)
    layer_offset_pitch: tuple[float, ...] = (0.0, 0.5, 0.25, 0.75)
    layer_views: tuple[str, ...] = ("U", "U", "V", "V")
    stereo_angle_deg: float = 7.5
    module_spacing_mm: float = 130.0
    first_module_x_mm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("layer_x_mm", "layer_offset_pitch", "layer_views"):
            value = getattr(self, name)
            if isinstance(value, (list, np.ndarray)):
                object.__setattr__(
                    self, name, tuple(value.tolist() if isinstance(value, np.ndarray) else value)
                )
        self.validate()

    # ------------------------------------------------------------------ checks

    def validate(self) -> StrawGeometry:
        """Raise :class:`ConfigError` (one line) when the geometry is not physical."""
        for name in ("n_modules", "layers_per_module", "straws_per_layer"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"StrawGeometry.{name} must be a positive integer, got {value!r}")
        for name in ("straw_radius_mm", "pitch_mm", "module_spacing_mm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"StrawGeometry.{name} must be a positive number, got {value!r}")
        if not (
            isinstance(self.first_module_x_mm, (int, float))
            and math.isfinite(self.first_module_x_mm)
        ):
            raise ConfigError(
                f"StrawGeometry.first_module_x_mm must be finite, got {self.first_module_x_mm!r}"
            )
        if not (
            isinstance(self.stereo_angle_deg, (int, float)) and 0 <= self.stereo_angle_deg < 90
        ):
            raise ConfigError(
                f"StrawGeometry.stereo_angle_deg must be in [0, 90), got {self.stereo_angle_deg!r}"
            )
        n = self.layers_per_module
        for name in ("layer_x_mm", "layer_offset_pitch", "layer_views"):
            if len(getattr(self, name)) != n:
                raise ConfigError(
                    f"StrawGeometry.{name} needs {n} values (one per layer), "
                    f"got {len(getattr(self, name))}"
                )
        if any(v not in ("U", "V") for v in self.layer_views):
            raise ConfigError(
                f"StrawGeometry.layer_views must be 'U' or 'V', got {self.layer_views!r}"
            )
        xs = np.asarray(self.layer_x_mm, dtype=np.float64)
        if not np.all(np.isfinite(xs)) or np.any(np.diff(xs) <= 0) or xs[0] != 0.0:
            raise ConfigError(
                f"StrawGeometry.layer_x_mm must start at 0 and increase, got {self.layer_x_mm!r}"
            )
        if not np.all(np.isfinite(np.asarray(self.layer_offset_pitch, dtype=np.float64))):
            raise ConfigError("StrawGeometry.layer_offset_pitch must be finite")
        if self.pitch_mm < 2 * self.straw_radius_mm:
            raise ConfigError(
                f"StrawGeometry: straws of one layer overlap (pitch {self.pitch_mm} mm < diameter "
                f"{2 * self.straw_radius_mm} mm)"
            )
        depth = xs[-1] + 2 * self.straw_radius_mm
        if self.n_modules > 1 and depth > self.module_spacing_mm:
            raise ConfigError(
                f"StrawGeometry: modules overlap (module depth {depth:.2f} mm "
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
                        f"StrawGeometry: straws of layers {i} and {j} overlap "
                        f"(centres {math.hypot(dx, dy):.3f} mm apart < diameter {r2} mm)"
                    )
        return self

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

    # ------------------------------------------------------------------ records

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready parameters (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StrawGeometry:
        """The geometry of :meth:`to_dict`'s output; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown straw geometry parameter(s) {unknown}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)


#: The default geometry: the Muon g-2 tracker station in the 2D model.
G2_GEOMETRY = StrawGeometry()
