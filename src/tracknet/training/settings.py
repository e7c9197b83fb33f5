"""Plain, checked settings objects built from the composed configuration.

The Hydra schema (:mod:`tracknet.training.config`) guarantees keys and types; the
dataclasses here check the values (ranges, choices) and are what the training code
uses, so a bad value fails before any work starts, with one line naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..data.cache import PrepSettings
from ..data.filters import REPEATED_LAYER_KEEP, TrackFilter
from ..errors import ConfigError
from ..model.loss import LOSS_KINDS

__all__ = [
    "DATA_SOURCES",
    "OPTIMIZERS",
    "SCHEDULERS",
    "CalibrationSettings",
    "DataSettings",
    "LossSettings",
    "TrainingSettings",
    "simulation_config",
]

SCHEDULERS: tuple[str, ...] = ("onecycle", "cosine", "constant")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw")
DATA_SOURCES: tuple[str, ...] = ("trackml", "simulated", "straw")


def _positive_int(key: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
    return value


def _fraction(key: str, value: Any, *, open_low: bool = True, open_high: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > 0 if open_low else value >= 0) and (value < 1 if open_high else value <= 1)
    if not ok:
        low = "(0" if open_low else "[0"
        high = "1)" if open_high else "1]"
        raise ConfigError(f"{key} must be in {low}, {high}, got {value!r}")
    return float(value)


def simulation_config(simulation: Mapping[str, Any]) -> Any:
    """The checked :class:`tracknet.simulation.SimulationConfig` of ``data.simulation.config``."""
    from ..simulation import SimulationConfig

    values = dict(simulation.get("config") or {})
    if isinstance(values.get("volumes"), list):
        values["volumes"] = tuple(values["volumes"])
    try:
        return SimulationConfig(**values).validate()
    except TypeError as exc:
        raise ConfigError(f"data.simulation.config: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"data.simulation.config: {exc}") from None


@dataclass(frozen=True)
class DataSettings:
    """The ``data`` section, checked."""

    source: str
    dir: str | None
    cache_dir: str | None
    max_events: int | None
    val_fraction: float
    min_val_events: int
    split_seed: int
    prep: PrepSettings
    track_filter: TrackFilter
    dims: tuple[int, ...]
    scale_mm: float
    batch_size: int
    val_batch_size: int
    bucket_batches: int
    num_workers: int
    simulation: dict[str, Any] = field(default_factory=dict)
    straw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> DataSettings:
        source = data["source"]
        if source not in DATA_SOURCES:
            raise ConfigError(f"data.source must be one of {list(DATA_SOURCES)}, got {source!r}")
        if source == "trackml" and not data.get("dir"):
            raise ConfigError(
                "data.dir is not set: give data.dir=DIR (a directory of TrackML events with truth), "
                "or experiment=simulated to train on simulated events"
            )
        max_events = data.get("max_events")
        if max_events is not None:
            _positive_int("data.max_events", max_events)
        dims = tuple(int(d) for d in data["dims"])
        if not dims or len(set(dims)) != len(dims) or any(d not in (0, 1, 2) for d in dims):
            raise ConfigError(f"data.dims must be distinct indices among 0, 1, 2, got {list(dims)}")
        scale = data["scale_mm"]
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ConfigError(f"data.scale_mm must be a finite number > 0, got {scale!r}")
        keep = data.get("repeated_layer_keep", "first")
        if keep not in REPEATED_LAYER_KEEP:
            raise ConfigError(
                f"data.repeated_layer_keep must be one of {list(REPEATED_LAYER_KEEP)}, got {keep!r}"
            )
        try:
            track_filter = TrackFilter.from_config(dict(data["filter"]))
        except ConfigError as exc:
            raise ConfigError(f"data.filter: {exc}") from None
        simulation = dict(data.get("simulation") or {})
        if source == "simulated" and not data.get("dir"):
            _positive_int("data.simulation.n_events", simulation.get("n_events"))
            _positive_int("data.simulation.seed", simulation.get("seed"), low=0)
            _positive_int("data.simulation.first_event_id", simulation.get("first_event_id"), low=0)
            simulation_config(simulation)  # fail now, not after the run started
        straw = dict(data.get("straw") or {})
        if source == "straw" and not data.get("dir"):
            from .straw_data import check_straw_settings

            check_straw_settings(straw)
        return cls(
            source=source,
            dir=data.get("dir"),
            cache_dir=data.get("cache_dir"),
            max_events=max_events,
            val_fraction=_fraction("data.val_fraction", data["val_fraction"], open_low=False),
            min_val_events=_positive_int("data.min_val_events", data["min_val_events"], low=0),
            split_seed=int(data["split_seed"]),
            prep=PrepSettings(
                apply_blacklists=bool(data["apply_blacklists"]),
                drop_repeated_layers=bool(data["drop_repeated_layers"]),
                repeated_layer_keep=keep,
            ),
            track_filter=track_filter,
            dims=dims,
            scale_mm=float(scale),
            batch_size=_positive_int("data.batch_size", data["batch_size"]),
            val_batch_size=_positive_int("data.val_batch_size", data["val_batch_size"]),
            bucket_batches=_positive_int("data.bucket_batches", data["bucket_batches"]),
            num_workers=_positive_int("data.num_workers", data["num_workers"], low=0),
            simulation=simulation,
            straw=straw,
        )

    def describe(self) -> dict[str, Any]:
        """Primitives describing the data preparation (checkpoint meta)."""
        return {
            "source": self.source,
            "dir": self.dir,
            "dims": list(self.dims),
            "filter": self.track_filter.config(),
            **self.prep.config(),
        }


@dataclass(frozen=True)
class LossSettings:
    kind: str = "quantile"
    alpha: float = 0.9
    q_t1: float = 0.98
    q_t2: float = 0.97
    t2_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in LOSS_KINDS:
            raise ConfigError(
                f"training.loss.kind must be one of {list(LOSS_KINDS)}, got {self.kind!r}"
            )
        _fraction("training.loss.alpha", self.alpha, open_low=False, open_high=False)
        _fraction("training.loss.q_t1", self.q_t1)
        _fraction("training.loss.q_t2", self.q_t2)
        if not (math.isfinite(self.t2_weight) and self.t2_weight >= 0):
            raise ConfigError(f"training.loss.t2_weight must be >= 0, got {self.t2_weight!r}")


@dataclass(frozen=True)
class CalibrationSettings:
    enabled: bool = True
    t1_efficiency: float = 0.98
    t2_efficiency: float = 0.965
    t1_max_radius_mm: float | None = None
    t2_max_radius_mm: float | None = None

    def __post_init__(self) -> None:
        _fraction("training.calibration.t1_efficiency", self.t1_efficiency)
        _fraction("training.calibration.t2_efficiency", self.t2_efficiency)
        for name in ("t1_max_radius_mm", "t2_max_radius_mm"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(
                    f"training.calibration.{name} must be null or a number > 0, got {value!r}"
                )

    def caps_mm(self) -> tuple[float, float]:
        """The radius caps in mm (``inf`` where none)."""
        return tuple(  # type: ignore[return-value]
            math.inf if v is None else float(v)
            for v in (self.t1_max_radius_mm, self.t2_max_radius_mm)
        )


@dataclass(frozen=True)
class TrainingSettings:
    """The ``training`` section, checked (everything the LightningModule needs)."""

    optimizer: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 0.0
    scheduler: str = "onecycle"
    warmup_fraction: float = 0.1
    loss: LossSettings = field(default_factory=LossSettings)
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    density_map: str | None = None
    track_viz: bool = True
    track_viz_plotlyjs: str = "inline"
    record_seen_tracks: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"training.optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(
                f"training.scheduler must be one of {list(SCHEDULERS)}, got {self.scheduler!r}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"training.lr must be > 0, got {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"training.weight_decay must be >= 0, got {self.weight_decay!r}")
        _fraction("training.warmup_fraction", self.warmup_fraction, open_low=False)
        if self.track_viz_plotlyjs not in ("inline", "cdn"):
            raise ConfigError(
                f"training.track_viz_plotlyjs must be 'inline' or 'cdn', got {self.track_viz_plotlyjs!r}"
            )

    @classmethod
    def from_config(cls, training: Mapping[str, Any]) -> TrainingSettings:
        """From the ``training`` section (keys not used by the module are ignored)."""
        values = {
            k: training[k]
            for k in (
                "optimizer",
                "lr",
                "weight_decay",
                "scheduler",
                "warmup_fraction",
                "density_map",
                "track_viz",
                "track_viz_plotlyjs",
                "record_seen_tracks",
            )
            if k in training
        }
        values["loss"] = LossSettings(**dict(training.get("loss") or {}))
        values["calibration"] = CalibrationSettings(**dict(training.get("calibration") or {}))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Primitives only (LightningModule hyperparameters)."""
        return asdict(self)
