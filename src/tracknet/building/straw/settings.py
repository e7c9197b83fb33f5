"""Settings of the straw builder (:class:`StrawBuildConfig`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ...errors import ConfigError
from ...schema import Settings, setting
from ...simulation.straw.response import DRIFT_RESOLUTION_MM
from ..selection import SelectionConfig

__all__ = ["RESOLVED_RADIUS_SCALE", "StrawBuildConfig"]

#: Default ``radius_scale`` of TrackNET's circles when hits are drift-resolved.
RESOLVED_RADIUS_SCALE = 3.0  # the steepest slope (squared) a drift circle is resolved with


@dataclass(frozen=True)
class StrawBuildConfig(Settings):
    """Every setting of the straw builder (see docs/straw-building.md; lengths in mm)."""

    label: ClassVar[str] = "straw build"

    seed_modules: int = setting(3, low=1)
    seed_max_span: int = setting(2, low=1)
    seed_max_slope: float = setting(0.45, low=0)
    beam_width: int = setting(5, low=1)
    max_branches: int = setting(4, low=1)
    max_misses: int = setting(3, low=0)
    miss_penalty: float = setting(1.2, low=0)
    skip_above: float = setting(0.5, low=0)
    drift_weight: float = setting(0.0, low=0)
    resolve_drift: bool | None = None
    resolve_min_drift_mm: float | None = setting(None, low=0)
    radius_scale: float | None = setting(None, low=0, open_low=True)
    baseline_window_mm: float = setting(4.0, low=0, open_low=True)
    baseline_window_per_mm: float = setting(0.2, low=0)
    baseline_fit_hits: int = setting(12, low=2)
    lstm_window_scale: float = setting(1.5, low=0, open_low=True)
    min_hits: int = setting(3, low=1)
    min_track_hits: int = setting(4, low=1)
    max_shared_fraction: float = 0.5
    max_mean_cost: float | None = None
    both_sides: bool = True
    max_fit_rms_mm: float | None = setting(0.3, low=0, open_low=True)
    fit_trim_mm: float = setting(1.5, low=0, open_low=True)
    fit_max_removed: int = setting(2, low=0)
    merge_rms_mm: float | None = setting(1.0, low=0, open_low=True)
    beam_fit_rms_mm: float | None = setting(0.2, low=0, open_low=True)
    attach_mm: float | None = setting(0.5, low=0, open_low=True)
    fragment_max_hits: int = setting(10, low=0)
    merge_rounds: int = setting(2, low=0)
    drift_sigma_mm: float = setting(DRIFT_RESOLUTION_MM, low=0)
    resolution_sigmas: float = setting(2.0, low=0)
    events_per_batch: int = setting(4096, low=1)
    alignment: str | None = None

    def validate(self) -> None:
        if self.min_hits < 2:
            raise ConfigError(
                f"straw build min_hits must be >= 2 (a seed holds 2 hits), got {self.min_hits}"
            )
        if self.alignment is not None and not self.alignment.strip():
            raise ConfigError("straw build alignment must be a path or null")
        self.selection()

    def at_resolution(self, floor_mm: float | None) -> float:
        """A distance cut at the drift resolution: ``floor_mm`` (its value at exact drift)
        and ``resolution_sigmas`` times ``drift_sigma_mm`` added in quadrature (None: no
        cut, infinite)."""
        if floor_mm is None:
            return math.inf
        return math.hypot(floor_mm, self.resolution_sigmas * self.drift_sigma_mm)

    def selection(self) -> SelectionConfig:
        return SelectionConfig(
            min_hits=self.min_hits,
            max_shared_fraction=self.max_shared_fraction,
            max_mean_cost=self.max_mean_cost,
        )
