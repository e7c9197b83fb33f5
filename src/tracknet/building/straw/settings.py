"""Settings of the straw builder (:class:`StrawBuildConfig`) and its algorithms."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from ..api import ALGORITHMS
from ..selection import SelectionConfig

__all__ = ["RESOLVED_RADIUS_SCALE", "STRAW_ALGORITHMS", "StrawBuildConfig"]

STRAW_ALGORITHMS: tuple[str, ...] = ALGORITHMS  # the same two as for TrackML events
#: Default ``radius_scale`` of TrackNET's circles when hits are drift-resolved.
RESOLVED_RADIUS_SCALE = 3.0  # the steepest slope (squared) a drift circle is resolved with


def _check(
    name: str, value: Any, *, integer: bool = False, low: float = 0.0, open_low: bool = False
) -> None:
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    else:
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
        ok = ok and (value > low if open_low else value >= low)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ConfigError(
            f"straw build {name} must be {kind} {'>' if open_low else '>='} {low:g}, got {value!r}"
        )


@dataclass(frozen=True)
class StrawBuildConfig:
    """Every setting of the straw builder (module docstring; lengths in mm)."""

    seed_modules: int = 3
    seed_max_span: int = 2
    seed_max_slope: float = 0.45
    beam_width: int = 5
    max_branches: int = 4
    max_misses: int = 3
    miss_penalty: float = 1.2
    skip_above: float = 0.5
    drift_weight: float = 0.0
    resolve_drift: bool | None = None
    resolve_min_drift_mm: float | None = None
    radius_scale: float | None = None
    baseline_window_mm: float = 4.0
    baseline_window_per_mm: float = 0.2
    baseline_fit_hits: int = 12
    min_hits: int = 3
    min_track_hits: int = 4
    max_shared_fraction: float = 0.5
    max_mean_cost: float | None = None
    both_sides: bool = True
    max_fit_rms_mm: float | None = 0.3
    fit_trim_mm: float = 1.5
    fit_max_removed: int = 2
    merge_rms_mm: float | None = 1.0
    beam_fit_rms_mm: float | None = 0.2
    attach_mm: float | None = 0.5
    fragment_max_hits: int = 10
    merge_rounds: int = 2
    events_per_batch: int = 4096

    def __post_init__(self) -> None:
        for name in (
            "seed_modules",
            "seed_max_span",
            "beam_width",
            "max_branches",
            "baseline_fit_hits",
            "min_hits",
            "min_track_hits",
            "events_per_batch",
        ):
            _check(name, getattr(self, name), integer=True, low=1)
        _check("max_misses", self.max_misses, integer=True, low=0)
        for name in ("fit_max_removed", "merge_rounds", "fragment_max_hits"):
            _check(name, getattr(self, name), integer=True, low=0)
        _check("fit_trim_mm", self.fit_trim_mm, open_low=True)
        for name in ("max_fit_rms_mm", "merge_rms_mm", "beam_fit_rms_mm", "attach_mm"):
            if getattr(self, name) is not None:
                _check(name, getattr(self, name), open_low=True)
        if not isinstance(self.both_sides, bool):
            raise ConfigError(
                f"straw build both_sides must be true or false, got {self.both_sides!r}"
            )
        for name in (
            "seed_max_slope",
            "miss_penalty",
            "skip_above",
            "drift_weight",
            "baseline_window_per_mm",
        ):
            _check(name, getattr(self, name))
        _check("baseline_window_mm", self.baseline_window_mm, open_low=True)
        if self.radius_scale is not None:
            _check("radius_scale", self.radius_scale, open_low=True)
        if self.resolve_min_drift_mm is not None:
            _check("resolve_min_drift_mm", self.resolve_min_drift_mm)
        if self.resolve_drift is not None and not isinstance(self.resolve_drift, bool):
            raise ConfigError(
                f"straw build resolve_drift must be true, false or null, got {self.resolve_drift!r}"
            )
        if self.baseline_fit_hits < 2:
            raise ConfigError(
                f"straw build baseline_fit_hits must be >= 2, got {self.baseline_fit_hits}"
            )
        if self.min_hits < 2:
            raise ConfigError(
                f"straw build min_hits must be >= 2 (a seed holds 2 hits), got {self.min_hits}"
            )
        self.selection()

    def selection(self) -> SelectionConfig:
        return SelectionConfig(
            min_hits=self.min_hits,
            max_shared_fraction=self.max_shared_fraction,
            max_mean_cost=self.max_mean_cost,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, overrides: dict[str, Any] | None = None) -> StrawBuildConfig:
        """The defaults with ``overrides`` applied; unknown keys are an error."""
        overrides = dict(overrides or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown straw build option(s) {unknown}; known: {sorted(known)}")
        return cls(**overrides)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> StrawBuildConfig:
        """The defaults with the overrides of a JSON file (one object)."""
        from ..api import read_build_json

        data = read_build_json(path)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
