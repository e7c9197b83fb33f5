"""The training configuration: a typed schema, composition with Hydra, one-line errors.

The YAML files under ``tracknet/configs/`` (shipped inside the package) hold the values;
:class:`TrackNetConfig` (registered in Hydra's ConfigStore as ``tracknet_schema``, the
first entry of ``config.yaml``'s defaults list) holds the keys and their types. Every
group file merges into the schema, so a key that does not exist or a value of the wrong
type fails at composition, and :func:`compose_config` turns any Hydra / OmegaConf error
into a one-line :class:`~tracknet.errors.ConfigError`.

Groups: ``data`` (trackml, simulated, straw), ``model`` (step_ahead), ``trainer`` (cpu, ddp),
``training`` (default), ``experiment`` (named recipes: simulated, trackml, straw; a new recipe
is one more ``@package _global_`` file in ``configs/experiment/`` that sets
``experiment: <name>``). A 2D detector sets ``data.dims=[0,1]`` and
``model.input_dim=2``.

Composition uses Hydra's compose API (``initialize_config_module`` + ``compose``), so it
works the same from the command line, from tests and from other Python code; nothing
changes the working directory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError

__all__ = [
    "CONFIG_MODULE",
    "CONFIG_NAME",
    "SCHEMA_NAME",
    "CalibrationConfig",
    "DataConfig",
    "FilterConfig",
    "LossConfig",
    "ModelConfig",
    "RegionCalibrationConfig",
    "RunConfig",
    "SimulationSettings",
    "StrawDataSettings",
    "TrackNetConfig",
    "TrainerConfig",
    "TrainingConfig",
    "compose_config",
    "config_groups",
    "register_schema",
    "to_container",
]

#: Python package holding the YAML files.
CONFIG_MODULE = "tracknet.configs"
#: The primary config file (without ``.yaml``).
CONFIG_NAME = "config"
#: Name of the schema in Hydra's ConfigStore (first entry of the defaults list).
SCHEMA_NAME = "tracknet_schema"


@dataclass
class FilterConfig:
    """:class:`tracknet.data.TrackFilter` settings (units: GeV, mm)."""

    min_hits: int = 3
    min_pt: float | None = None
    max_abs_eta: float | None = None
    first_layers: list[list[int]] | None = None
    primaries_only: bool = False
    max_vertex_r_mm: float = 1.0
    consistent_only: bool = True


@dataclass
class SimulationSettings:
    """Simulated data: events, seed and :class:`tracknet.simulation.SimulationConfig` fields."""

    n_events: int = 100
    seed: int = 0
    first_event_id: int = 1
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class StrawDataSettings:
    """Simulated straw events (``data.source: straw`` without ``data.dir``): events, seed
    and :class:`tracknet.simulation.straw.StrawConfig` sections (geometry, gun, occupancy,
    response)."""

    n_events: int = 20000
    seed: int = 0
    first_event_id: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    #: Track entries: "wire" (straw centres) or "resolved" (drift-resolved crossings).
    positions: str = "wire"
    #: Drift distances (mm) below this are not resolved (the wire position is used).
    min_drift_mm: float = 0.0


@dataclass
class DataConfig:
    source: str = "trackml"
    dir: str | None = None
    cache_dir: str | None = None
    max_events: int | None = None
    val_fraction: float = 0.1
    min_val_events: int = 1
    split_seed: int = 0
    apply_blacklists: bool = True
    drop_repeated_layers: bool = True
    repeated_layer_keep: str = "first"
    filter: FilterConfig = field(default_factory=FilterConfig)
    dims: list[int] = field(default_factory=lambda: [0, 1, 2])
    scale_mm: float = 1000.0
    batch_size: int = 256
    val_batch_size: int = 2048
    bucket_batches: int = 64
    num_workers: int = 0
    simulation: SimulationSettings = field(default_factory=SimulationSettings)
    straw: StrawDataSettings = field(default_factory=StrawDataSettings)


@dataclass
class ModelConfig:
    """:class:`tracknet.model.StepAheadTrackNet` settings."""

    input_dim: int = 3
    hidden_size: int = 32
    num_layers: int = 2
    dropout: float = 0.0
    features: str = "cylindrical"
    center_mode: str = "offset"
    radius_eps: float = 1e-4


@dataclass
class TrainerConfig:
    """Lightning Trainer settings (``num_threads``: ``torch.set_num_threads``)."""

    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    max_epochs: int = 10
    max_time: str | None = None
    precision: str = "32-true"
    gradient_clip_val: float | None = 1.0
    log_every_n_steps: int = 50
    check_val_every_n_epoch: int = 1
    limit_train_batches: float | None = None
    limit_val_batches: float | None = None
    num_sanity_val_steps: int = 2
    enable_progress_bar: bool = True
    deterministic: bool = False
    num_threads: int | None = None


@dataclass
class LossConfig:
    kind: str = "quantile"
    alpha: float = 0.9
    q_t1: float = 0.98
    q_t2: float = 0.97
    t2_weight: float = 1.0


@dataclass
class CalibrationConfig:
    enabled: bool = True
    t1_efficiency: float = 0.98
    t2_efficiency: float = 0.965
    t1_max_radius_mm: float | None = None
    t2_max_radius_mm: float | None = None


@dataclass
class RegionCalibrationConfig:
    """:mod:`tracknet.training.region_calibration` settings (mm)."""

    enabled: bool = False
    t1_efficiency: float = 0.98
    t2_efficiency: float = 0.97
    r_edges_mm: list[float] = field(
        default_factory=lambda: [50.0, 90.0, 140.0, 200.0, 240.0, 300.0, 420.0, 560.0, 740.0, 900.0]
    )
    z_edges_mm: list[float] = field(default_factory=list)
    caps_mm: list[float] = field(
        default_factory=lambda: [
            2.0,
            3.0,
            4.0,
            6.0,
            8.0,
            11.0,
            15.0,
            20.0,
            28.0,
            40.0,
            60.0,
            100.0,
            math.inf,
        ]
    )
    max_tracks: int = 10000
    cost_source: str = "validation"
    cost_events: int = 4
    cost_seed: int = 1
    cost_simulation: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingConfig:
    optimizer: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 0.0
    scheduler: str = "onecycle"
    warmup_fraction: float = 0.1
    loss: LossConfig = field(default_factory=LossConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    region_calibration: RegionCalibrationConfig = field(default_factory=RegionCalibrationConfig)
    resume_from: str | None = None
    save_top_k: int = 3
    density_map: str | None = None
    track_viz: bool = True
    track_viz_plotlyjs: str = "inline"
    record_seen_tracks: bool = False


@dataclass
class RunConfig:
    output_dir: str | None = None
    log_level: str = "INFO"


@dataclass
class TrackNetConfig:
    """The whole training configuration (the schema every YAML file merges into)."""

    experiment: str = "default"
    seed: int = 0
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


def register_schema() -> None:
    """Store :class:`TrackNetConfig` in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA_NAME, node=TrackNetConfig)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " ".join(lines)


def _describe(exc: BaseException) -> str:
    """One line from a Hydra / OmegaConf exception and its causes (most specific last)."""
    from hydra.errors import MissingConfigException

    if isinstance(exc, MissingConfigException):
        message = str(exc).strip().splitlines()[0]
        options = getattr(exc, "options", None)
        if options:
            message += f" (available: {', '.join(sorted(options))})"
        return message
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # The first line is the reason; OmegaConf adds "full_key: ..." / "object_type=..."
        # lines and a templated copy of the message ("$VALUE") that say nothing more.
        lines = [line.strip() for line in str(current).strip().splitlines() if line.strip()]
        if lines and "$VALUE" not in lines[0] and lines[0] != "None":
            piece = lines[0].rstrip(".")
            if not any(piece in p for p in parts):
                parts.append(piece)
        current = current.__cause__ or current.__context__
    return ": ".join(parts) if parts else type(exc).__name__


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The composed, type-checked configuration for ``overrides`` (``key=value`` strings).

    Raises :class:`ConfigError` with one line for an unknown key, a value of the wrong
    type, an unknown group option or a malformed override.
    """
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = [str(o) for o in overrides]
    register_schema()
    # A Hydra instance left behind (e.g. by a failed earlier call) would block initialise.
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"bad configuration: {_one_line(_describe(exc))}") from None
    except Exception as exc:
        raise ConfigError(
            f"bad configuration: cannot apply overrides {overrides}: {type(exc).__name__}: {_one_line(str(exc))}"
        ) from None
    return cfg


def config_groups() -> dict[str, list[str]]:
    """Every config group shipped in the package and its options (file names)."""
    from importlib import resources

    root = resources.files(CONFIG_MODULE)
    groups: dict[str, list[str]] = {}
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith(("_", ".")):
            options = sorted(
                p.name[: -len(".yaml")] for p in entry.iterdir() if p.name.endswith(".yaml")
            )
            if options:
                groups[entry.name] = options
    return dict(sorted(groups.items()))


def to_container(cfg: DictConfig) -> dict[str, Any]:
    """The configuration as plain dicts, lists and scalars (interpolations resolved)."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    except Exception as exc:  # an interpolation that does not resolve
        raise ConfigError(f"bad configuration: {_one_line(_describe(exc))}") from None
    assert isinstance(container, dict)
    return container  # type: ignore[return-value]
