"""The straw follower of each building algorithm (``--algorithm``)."""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from ...model.seed_lstm import LoadedSeedLstm
from ..settings import check_algorithm
from .followers import StrawLineFollower, StrawTrackNetFollower
from .seed_walk import StrawSeedLstmFollower
from .settings import RESOLVED_RADIUS_SCALE, StrawBuildConfig

__all__ = ["make_straw_follower"]


def make_straw_follower(algorithm: str, loaded: Any, config: StrawBuildConfig) -> Any:
    """The straw follower of ``algorithm`` (TrackNET needs ``loaded``, a 2D model; the seed
    classifier a :class:`~tracknet.model.seed_lstm.LoadedSeedLstm`)."""
    check_algorithm(algorithm)
    if algorithm == "seed-lstm":
        if not isinstance(loaded, LoadedSeedLstm):
            raise ConfigError(
                "algorithm 'seed-lstm' needs a seed-classifier checkpoint "
                "(tracknet train experiment=straw_seed)"
            )
        return StrawSeedLstmFollower(loaded.model)
    if algorithm == "tracknet":
        if loaded is None:
            raise ConfigError("algorithm 'tracknet' needs a model checkpoint")
        data = (loaded.meta or {}).get("data") or {}
        resolved = data.get("positions", "wire") == "resolved"
        resolve = resolved if config.resolve_drift is None else config.resolve_drift
        if config.radius_scale is not None:
            scale = config.radius_scale
        else:
            # With resolution the circle fits judge the hits: wide circles are safe.
            scale = (
                RESOLVED_RADIUS_SCALE if resolve else float(loaded.meta.get("radius_scale", 1.0))
            )
        return StrawTrackNetFollower(
            loaded.model,
            loaded.normalizer,
            radius_scale=scale,
            resolve_drift=resolved,
            min_drift_mm=float(data.get("min_drift_mm", 0.0)),
        )
    return StrawLineFollower(
        window_mm=config.baseline_window_mm,
        window_per_mm=config.baseline_window_per_mm,
        fit_hits=config.baseline_fit_hits,
    )
