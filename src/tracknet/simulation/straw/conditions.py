"""Conditions of a built straw detector: how it differs from the nominal geometry and field.

:class:`DetectorConditions` (misalignments of straws and modules, a field that differs
from the nominal one and varies along the tracker) is fixed by its own seed: every event
of a run sees the same detector. :meth:`DetectorConditions.build` draws it as
:class:`BuiltDetector` arrays, which the straw crossings use; the hits keep the nominal
straw positions, as a reconstruction that knows only the design would see them.
:data:`REAL_DETECTOR` (with :data:`REAL_RESPONSE`) is the stand-in for the experiment.

See ``docs/simulation.md`` (Detector conditions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from tracknet.schema import Settings, setting
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.response import StrawResponse

__all__ = [
    "CONDITIONS_TAG",
    "DETECTORS",
    "REAL_DETECTOR",
    "REAL_RESPONSE",
    "BuiltDetector",
    "DetectorConditions",
]

#: Separates the detector's random stream from the events' streams of the same seed.
CONDITIONS_TAG = 0x434F4E44  # "COND"


class BuiltDetector(NamedTuple):
    """One built detector: each straw's offset along ``y`` from its nominal centre (mm,
    by ``straw_id``) and each module's field relative to the nominal field."""

    straw_dy: np.ndarray
    field_factor: np.ndarray


@dataclass(frozen=True)
class DetectorConditions(Settings):
    """How the built detector differs from the design (every effect off by default).

    Attributes:
        seed: the draw of the misalignments (a detector, not an event, property).
        straw_sigma_mm: spread of each straw's offset along ``y``.
        module_sigma_mm: spread of each module's offset along ``y`` (all its straws move).
        field_scale: field at the first module relative to the nominal field.
        field_gradient_per_m: relative change of the field per metre along ``x``
            (constant within a module, changing from one module to the next).
    """

    label: ClassVar[str] = "detector conditions"

    seed: int = setting(0, low=0)
    straw_sigma_mm: float = setting(0.0, low=0.0, high=10.0)
    module_sigma_mm: float = setting(0.0, low=0.0, high=10.0)
    field_scale: float = setting(1.0, low=0.0, open_low=True, high=10.0)
    field_gradient_per_m: float = setting(0.0, low=-0.5, high=0.5)

    @property
    def nominal(self) -> bool:
        """True when the detector is the design itself."""
        return (
            self.straw_sigma_mm == 0.0
            and self.module_sigma_mm == 0.0
            and self.field_scale == 1.0
            and self.field_gradient_per_m == 0.0
        )

    def build(self, geometry: StrawGeometry) -> BuiltDetector:
        """The detector these conditions give for ``geometry`` (the same for every call)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), CONDITIONS_TAG]))
        module_dy = self.module_sigma_mm * rng.standard_normal(geometry.n_modules)
        straw_dy = self.straw_sigma_mm * rng.standard_normal(geometry.n_straws)
        module, _, _ = geometry.decompose(np.arange(geometry.n_straws))
        first_x = geometry.layer_x[:: geometry.layers_per_module]
        field = self.field_scale * (
            1.0 + self.field_gradient_per_m * (first_x - first_x[0]) / 1000.0
        )
        return BuiltDetector(module_dy[module] + straw_dy, field)


#: The stand-in for the experiment's detector: straws and modules misaligned by a few
#: hundred micrometres, the field 1 % below nominal at the first module and falling by
#: 4 % per metre along the tracker.
REAL_DETECTOR = DetectorConditions(
    seed=20_260_101,
    straw_sigma_mm=0.2,
    module_sigma_mm=0.3,
    field_scale=0.99,
    field_gradient_per_m=-0.04,
)
#: Its response: a little less efficient, noisier and with more crosstalk than the
#: simulation's default.
REAL_RESPONSE = StrawResponse(efficiency=0.97, noise_rate=0.002, crosstalk=0.015)
#: The detectors ``tracknet simulate straw --detector`` names: conditions and response.
DETECTORS: dict[str, tuple[DetectorConditions, StrawResponse]] = {
    "nominal": (DetectorConditions(), StrawResponse()),
    "real": (REAL_DETECTOR, REAL_RESPONSE),
}
