"""The training configuration's one schema: checked settings.

Every section of the composed configuration (``run``, ``data``, ``model``, ``trainer``,
``training``) is a :class:`~tracknet.schema.Settings` dataclass whose fields' types,
defaults and bounds are written once, here; the Hydra schema is generated from them. A
bad value fails before any work starts, with one line naming the key.

See docs/architecture.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from ..data.cache import PrepSettings
from ..data.filters import REPEATED_LAYER_KEEP, TrackFilter
from ..data.straw_tracks import POSITIONS
from ..errors import ConfigError
from ..model.features import FEATURE_SETS
from ..model.loss import LOSS_KINDS
from ..model.step_ahead import CENTER_MODES
from ..schema import Check, Settings, setting

__all__ = [
    "COST_SOURCES",
    "DATA_SOURCES",
    "MODEL_KINDS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "SOURCE_DETECTORS",
    "CalibrationSettings",
    "DataSettings",
    "FilterSettings",
    "LossSettings",
    "ModelSettings",
    "RegionCalibrationSettings",
    "RunSettings",
    "SimulationSettings",
    "StrawDataSettings",
    "TrackNetSettings",
    "TrainerSettings",
    "TrainingSettings",
    "simulation_config",
    "straw_config",
]

SCHEDULERS: tuple[str, ...] = ("onecycle", "cosine", "constant")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw")
#: Every data source and the detector its events come from (the one place for this).
SOURCE_DETECTORS: dict[str, str] = {"trackml": "trackml", "simulated": "trackml", "straw": "straw"}
DATA_SOURCES: tuple[str, ...] = tuple(SOURCE_DETECTORS)
COST_SOURCES: tuple[str, ...] = ("validation", "simulated")
#: The models ``model.kind`` trains.
MODEL_KINDS: tuple[str, ...] = ("step_ahead", "seed_lstm")


def _fraction(*, open_low: bool = True, open_high: bool = True) -> Check:
    """A check that a number lies in (0, 1) / [0, 1) / [0, 1] (as asked)."""
    text = f"must be in {'(' if open_low else '['}0, 1{')' if open_high else ']'}"

    def check(value: Any) -> str | None:
        above = value > 0 if open_low else value >= 0
        below = value < 1 if open_high else value <= 1
        return None if above and below else text

    return check


def _increasing(edges: tuple[float, ...]) -> str | None:
    return None if list(edges) == sorted(edges) else "must be increasing"


def _dims(value: tuple[int, ...]) -> str | None:
    if not value or len(set(value)) != len(value) or any(d not in (0, 1, 2) for d in value):
        return "must be distinct indices among 0, 1, 2"
    return None


def simulation_config(
    values: Mapping[str, Any] | None, where: str = "data.simulation.config"
) -> Any:
    """The checked :class:`tracknet.simulation.SimulationConfig` of these fields."""
    from ..simulation import SimulationConfig

    values = dict(values or {})
    if isinstance(values.get("volumes"), list):
        values["volumes"] = tuple(values["volumes"])
    try:
        return SimulationConfig(**values).validate()
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def straw_config(section: Mapping[str, Any] | None, where: str = "data.straw.config") -> Any:
    """The checked :class:`~tracknet.simulation.straw.StrawConfig` of these sections."""
    from ..simulation.straw import StrawConfig

    try:
        return StrawConfig.from_dict(dict(section or {}))
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


class Section(Settings):
    """A section of the training configuration: errors name the dotted key.

    ``schema_name`` names the generated Hydra schema node (it appears in Hydra's
    messages about unknown keys).
    """

    label: ClassVar[str] = "config"
    schema_name: ClassVar[str] = "Config"

    def fail(self, name: str, what: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.label}.{name} {what}, got {value!r}")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        """From a composed section; keys this schema does not know are ignored."""
        known = set(cls.field_names())
        return cls.from_dict({k: v for k, v in dict(section).items() if k in known})


# ---------------------------------------------------------------------------- run
@dataclass(frozen=True)
class RunSettings(Section):
    label = "run"
    schema_name = "RunConfig"

    #: Run directory; null means outputs/YYYY-MM-DD/HH-MM-SS under the current directory.
    output_dir: str | None = None
    #: Level of the messages written to <run>/train.log.
    log_level: str = "INFO"


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class FilterSettings(Section):
    """Track selection (:class:`tracknet.data.TrackFilter`; GeV, mm), applied to the
    training and validation tracks."""

    label = "data.filter"
    schema_name = "FilterConfig"

    min_hits: int = 3
    min_pt: float | None = None
    max_abs_eta: float | None = None
    first_layers: tuple[tuple[int, int], ...] | None = None
    primaries_only: bool = False
    max_vertex_r_mm: float = 1.0
    consistent_only: bool = True


@dataclass(frozen=True)
class SimulationSettings(Section):
    """Simulated TrackML-like events (``data.source: simulated`` without ``data.dir``)."""

    label = "data.simulation"
    schema_name = "SimulationSettings"

    n_events: int = setting(100, low=1)
    seed: int = setting(0, low=0)
    first_event_id: int = setting(1, low=0)
    #: Fields of tracknet.simulation.SimulationConfig; the ones left out keep its defaults.
    config: dict[str, Any] = setting(default_factory=dict)


@dataclass(frozen=True)
class StrawDataSettings(Section):
    """Simulated straw events (``data.source: straw`` without ``data.dir``): events, seed
    and :class:`tracknet.simulation.straw.StrawConfig` sections (geometry, gun, occupancy,
    response; the ones left out keep their defaults)."""

    label = "data.straw"
    schema_name = "StrawDataSettings"

    n_events: int = setting(20000, low=1)
    seed: int = setting(0, low=0)
    first_event_id: int = setting(0, low=0)
    config: dict[str, Any] = setting(default_factory=dict)
    #: Track entries: "wire" (straw centres) or "resolved" (the drift circle's side of the
    #: true trajectory: the crossing y_wire +- drift * sqrt(1 + slope^2)). The builder
    #: resolves hits the same way (both sides tried, tracknet.building.straw).
    positions: str = setting("wire", choices=POSITIONS)
    #: Drift distances (mm) below this are not resolved (left at the wire; a wrong side
    #: then costs at most this); 0: every hit resolved.
    min_drift_mm: float = setting(0.0, low=0.0, high=1e3)
    #: Seeds (left/right variants) drawn per split to train the seed classifier.
    max_seeds: int = setting(100000, low=1)
    #: A straw alignment (``tracknet align``): the hits are moved to its positions
    #: before the tracks are read, as the builder's ``alignment`` setting moves them.
    alignment: str | None = None


@dataclass(frozen=True)
class DataSettings(Section):
    """The ``data`` section: where the events come from, their preparation, the split and
    the batches."""

    label = "data"
    schema_name = "DataConfig"

    source: str = setting("trackml", choices=DATA_SOURCES)
    #: Directory of TrackML CSV events (event<9 digits>-{hits,truth,particles}.csv[.gz]),
    #: or of a straw dataset for source straw.
    dir: str | None = None
    #: Cache of prepared tracks; null means $TRACKNET_CACHE_DIR or ~/.cache/tracknet.
    cache_dir: str | None = None
    #: Use only the first N events of the directory (by event id); null: all.
    max_events: int | None = setting(None, low=1)
    #: Validation events: this share of the events (at least min_val_events), split by event.
    val_fraction: float = setting(0.1, check=_fraction(open_low=False))
    min_val_events: int = setting(1, low=0)
    split_seed: int = 0
    #: Preparation (part of the cache key): blacklists honoured; one hit per track and
    #: (volume, layer) kept: the first along the trajectory ('first') or the first in the
    #: event's file order ('lowest_hit_id', how the event1000-barrel samples were made).
    apply_blacklists: bool = True
    drop_repeated_layers: bool = True
    repeated_layer_keep: str = setting("first", choices=REPEATED_LAYER_KEEP)
    filter: FilterSettings = setting(default_factory=FilterSettings)
    #: Coordinates the model sees (0, 1, 2 = x, y, z; [0, 1] for a 2D detector) and the one
    #: isotropic length (mm) that becomes 1 in the model frame.
    dims: tuple[int, ...] = setting((0, 1, 2), check=_dims)
    scale_mm: float = setting(1000.0, low=0.0, open_low=True)
    batch_size: int = setting(256, low=1)
    val_batch_size: int = setting(2048, low=1)
    bucket_batches: int = setting(64, low=1)
    num_workers: int = setting(0, low=0)
    #: Processes that simulate the training events and prepare the track cache (null: one
    #: per core), or the Dask scheduler (tcp://host:8786) that does that work instead.
    prepare_workers: int | None = setting(None, low=1)
    dask_scheduler: str | None = None
    simulation: SimulationSettings = setting(default_factory=SimulationSettings)
    straw: StrawDataSettings = setting(default_factory=StrawDataSettings)

    def validate(self) -> None:
        try:
            TrackFilter.from_config(self.filter.to_dict())
        except ConfigError as exc:
            raise ConfigError(f"data.filter: {exc}") from None
        if self.source == "simulated" and not self.dir:
            simulation_config(self.simulation.config)  # fail now, not after the run started
        if self.source == "straw" and not self.dir:
            straw_config(self.straw.config)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        """The checked section of a training run (TrackML events need ``data.dir``)."""
        settings = super().from_config(section)
        if settings.source == "trackml" and not settings.dir:
            raise ConfigError(
                "data.dir is not set: give data.dir=DIR "
                "(a directory of TrackML events with truth), "
                "or experiment=simulated to train on simulated events"
            )
        return settings

    @property
    def detector(self) -> str:
        """The name of the detector whose events this source gives."""
        return SOURCE_DETECTORS[self.source]

    @property
    def prep(self) -> PrepSettings:
        return PrepSettings(
            apply_blacklists=self.apply_blacklists,
            drop_repeated_layers=self.drop_repeated_layers,
            repeated_layer_keep=self.repeated_layer_keep,
        )

    @property
    def track_filter(self) -> TrackFilter:
        return TrackFilter.from_config(self.filter.to_dict())

    def describe(self) -> dict[str, Any]:
        """Primitives describing the data preparation (checkpoint meta)."""
        return {
            "source": self.source,
            "dir": self.dir,
            "dims": list(self.dims),
            "filter": self.track_filter.config(),
            **self.prep.config(),
        }


# ---------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ModelSettings(Section):
    """:class:`tracknet.model.StepAheadTrackNet` settings (checked by the model itself);
    input_dim must equal the number of data.dims."""

    label = "model"
    schema_name = "ModelConfig"

    #: step_ahead: StepAhead TrackNET; seed_lstm: the straw seed classifier
    kind: str = setting("step_ahead", choices=MODEL_KINDS)
    input_dim: int = 3
    hidden_size: int = setting(32, low=1, high=8192)
    num_layers: int = setting(2, low=1, high=64)
    dropout: float = 0.0
    #: position | delta | cylindrical (see tracknet.model.step_ahead)
    features: str = setting("cylindrical", choices=tuple(FEATURE_SETS))
    center_mode: str = setting("offset", choices=CENTER_MODES)
    radius_eps: float = 1e-4
    #: Candidate hits per layer the seed classifier chooses from.
    candidates: int = setting(4, low=1, high=64)

    #: The keys only the seed classifier reads.
    SEED_KEYS: ClassVar[tuple[str, ...]] = ("kind", "candidates")

    def step_ahead_config(self) -> dict[str, Any]:
        """The :class:`~tracknet.model.StepAheadTrackNet` options."""
        return {k: v for k, v in self.to_dict().items() if k not in self.SEED_KEYS}


# ---------------------------------------------------------------------------- trainer
@dataclass(frozen=True)
class TrainerSettings(Section):
    """Lightning Trainer settings (``trainer=ddp``: distributed data parallel over CPU
    processes)."""

    label = "trainer"
    schema_name = "TrainerConfig"

    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    max_epochs: int = setting(10, low=1)
    #: Stop after this wall time ("DD:HH:MM:SS"); null: no limit.
    max_time: str | None = None
    precision: str = "32-true"
    gradient_clip_val: float | None = 1.0
    log_every_n_steps: int = 50
    check_val_every_n_epoch: int = 1
    #: Fractions (float) or counts (int) of batches per epoch; null: all.
    limit_train_batches: float | None = None
    limit_val_batches: float | None = None
    num_sanity_val_steps: int = 2
    enable_progress_bar: bool = True
    deterministic: bool = False
    #: torch.set_num_threads in every process; null leaves PyTorch's default.
    num_threads: int | None = setting(None, low=1)


# ---------------------------------------------------------------------------- training
@dataclass(frozen=True)
class LossSettings(Section):
    """The loss (see tracknet.model.loss)."""

    label = "training.loss"
    schema_name = "LossConfig"

    kind: str = setting("quantile", choices=LOSS_KINDS)
    #: tracknet: alpha * |c - y| / r + (1 - alpha) * r^2
    alpha: float = setting(0.9, check=_fraction(open_low=False, open_high=False))
    #: quantile: the radius heads learn these quantiles of the miss distance
    q_t1: float = setting(0.98, check=_fraction())
    q_t2: float = setting(0.97, check=_fraction())
    t2_weight: float = setting(1.0, low=0.0)


@dataclass(frozen=True)
class CalibrationSettings(Section):
    """After every validation the radius scale factor that puts this share of the true
    hits inside the spheres is measured on the validation tracks and stored in the
    checkpoints (model settings t1_radius_scale / t2_radius_scale). Caps on the calibrated
    radii (mm; null: none) are stored with the scales: a cap gives up on the rare
    predictions that only a huge sphere would cover."""

    label = "training.calibration"
    schema_name = "CalibrationConfig"

    enabled: bool = True
    t1_efficiency: float = setting(0.98, check=_fraction())
    t2_efficiency: float = setting(0.965, check=_fraction())
    t1_max_radius_mm: float | None = setting(None, low=0.0, open_low=True)
    t2_max_radius_mm: float | None = setting(None, low=0.0, open_low=True)

    def caps_mm(self) -> tuple[float, float]:
        """The radius caps in mm (``inf`` where none)."""
        t1, t2 = self.t1_max_radius_mm, self.t2_max_radius_mm
        return (math.inf if t1 is None else float(t1), math.inf if t2 is None else float(t2))


@dataclass(frozen=True)
class RegionCalibrationSettings(Section):
    """After training, per-region radius scales and caps (tracknet.training.region_calibration)
    are fitted on the validation tracks and written into every checkpoint of the run: the
    spheres then hold this share of the validation hits while returning as few hits of
    the cost events as possible. Regions: transverse radius and |z| of the predicted
    centre (interior edges, mm); candidate caps per region (mm; .inf: none). The hits a
    sphere costs are counted in the validation events (cost_source: validation) or in
    cost_events events simulated with the SimulationConfig fields cost_simulation
    (cost_source: simulated; realistic density: all particles and the noise), cached
    like the training data."""

    label = "training.region_calibration"
    schema_name = "RegionCalibrationConfig"

    enabled: bool = False
    t1_efficiency: float = setting(0.98, check=_fraction())
    t2_efficiency: float = setting(0.97, check=_fraction())
    r_edges_mm: tuple[float, ...] = setting(
        (50.0, 90.0, 140.0, 200.0, 240.0, 300.0, 420.0, 560.0, 740.0, 900.0),
        low=0.0,
        open_low=True,
        check=_increasing,
    )
    z_edges_mm: tuple[float, ...] = setting((), low=0.0, open_low=True, check=_increasing)
    #: Sphere radius caps per region; an infinite cap means no cap there.
    caps_mm: tuple[float, ...] = setting(
        (2.0, 3.0, 4.0, 6.0, 8.0, 11.0, 15.0, 20.0, 28.0, 40.0, 60.0, 100.0, math.inf),
        low=0.0,
        open_low=True,
        check=lambda caps: None if caps else "must hold at least one cap",
        allow_inf=True,
    )
    max_tracks: int = setting(10000, low=1)
    cost_source: str = setting("validation", choices=COST_SOURCES)
    cost_events: int = setting(4, low=1)
    cost_seed: int = 1
    cost_simulation: dict[str, Any] = setting(default_factory=dict)

    def validate(self) -> None:
        if self.enabled and self.cost_source == "simulated":
            simulation_config(self.cost_simulation, "training.region_calibration.cost_simulation")


@dataclass(frozen=True)
class TrainingSettings(Section):
    """The ``training`` section: optimisation, loss, radius calibration and run outputs."""

    label = "training"
    schema_name = "TrainingConfig"

    optimizer: str = setting("adam", choices=OPTIMIZERS)
    lr: float = setting(3e-3, low=0.0, open_low=True)
    weight_decay: float = setting(0.0, low=0.0)
    #: onecycle (warm-up then cosine decay over max_epochs) | cosine | constant
    scheduler: str = setting("onecycle", choices=SCHEDULERS)
    warmup_fraction: float = setting(0.1, check=_fraction(open_low=False))
    loss: LossSettings = setting(default_factory=LossSettings)
    calibration: CalibrationSettings = setting(default_factory=CalibrationSettings)
    region_calibration: RegionCalibrationSettings = setting(
        default_factory=RegionCalibrationSettings
    )
    #: Continue a run from a checkpoint (a .ckpt, or the run or version folder of an earlier
    #: run, which resumes from its last.ckpt): epochs, optimiser, scheduler.
    resume_from: str | None = None
    save_top_k: int = 3
    #: A density map written by `tracknet density`: adds val/t1_expected_hits, val/t2_expected_hits.
    density_map: str | None = None
    #: Write logs/<experiment>/version_N/last_track_viz.html after every validation.
    track_viz: bool = True
    #: inline (self-contained HTML, ~5 MB) | cdn (small, needs internet to view)
    track_viz_plotlyjs: str = setting("inline", choices=("inline", "cdn"))
    #: Write the track indices each rank trains on to seen_tracks/ (checks exactly-once
    #: sampling, e.g. under DDP).
    record_seen_tracks: bool = False

    #: The run-level keys, not hyperparameters of the LightningModule.
    RUN_KEYS: ClassVar[tuple[str, ...]] = ("region_calibration", "resume_from", "save_top_k")

    def to_dict(self) -> dict[str, Any]:
        """Primitives of the LightningModule's settings (its hyperparameters)."""
        return {k: v for k, v in super().to_dict().items() if k not in self.RUN_KEYS}


# ---------------------------------------------------------------------------- whole
@dataclass(frozen=True)
class TrackNetSettings(Section):
    """The whole training configuration (the Hydra schema is generated from it)."""

    label = "config"
    schema_name = "TrackNetConfig"

    #: Name of the recipe; selects logs/<experiment>/ in the run directory. Every file of
    #: the experiment group sets it.
    experiment: str = "default"
    #: Seed of the model's initial weights (a forked torch RNG; the global RNG is untouched).
    seed: int = setting(0, low=0)
    run: RunSettings = setting(default_factory=RunSettings)
    data: DataSettings = setting(default_factory=DataSettings)
    model: ModelSettings = setting(default_factory=ModelSettings)
    trainer: TrainerSettings = setting(default_factory=TrainerSettings)
    training: TrainingSettings = setting(default_factory=TrainingSettings)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        """The whole composed configuration; a key added at the top (``+seeed=1``, a typo)
        is refused, as the sections refuse theirs."""
        unknown = sorted(str(k) for k in section if k not in cls.field_names())
        if unknown:
            raise ConfigError(f"unknown configuration key(s) {unknown}; known: {cls.field_names()}")
        return super().from_config(section)

    def validate(self) -> None:
        if self.model.input_dim != len(self.data.dims):
            raise ConfigError(
                f"model.input_dim ({self.model.input_dim}) must equal the number of data.dims "
                f"({len(self.data.dims)}: {list(self.data.dims)})"
            )
