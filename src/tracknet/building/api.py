"""Build tracks for whole events: TrackNET or the classical baseline, one call per event.

:func:`build_event` turns an :class:`~tracknet.events.Event` into the TrackML submission
table ``event_id, hit_id, track_id`` (every hit exactly once, 0 for "on no track"),
reading only the hits: truth is never used to build. :func:`build_directory` does it for
the events of a directory and writes one submission CSV atomically.

Pipeline per event, for each seeding stage of :class:`BuildConfig` in turn, on the hits
that earlier stages left unassigned: seeds (:mod:`~tracknet.building.seeding`), batched
extension (:mod:`~tracknet.building.builder`, with
:class:`~tracknet.building.builder.TrackNetExtender` or the helix follower of
:mod:`~tracknet.building.baseline`), selection (:mod:`~tracknet.building.selection`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..evaluation.report import build_meta_path
from ..events import HITS_SCHEMA, Event
from ..io.atomic import write_json_atomic
from ..io.trackml import list_events, parse_event_id, read_event, write_submission
from ..model.checkpoint import LoadedModel, load_checkpoint
from .baseline import HelixExtender
from .builder import Candidates, Extender, ExtensionConfig, TrackNetExtender, extend_seeds
from .doubles import attach_double_hits
from .fit import FitQuality, hit_sigmas, longitudinal_fit, transverse_fit_rms, trim_outliers
from .geometry import Envelope, LayerSurfaces, layer_keys
from .seeding import DEFAULT_SEED_STAGES, SeedStage, find_seeds
from .selection import SelectionConfig, select_tracks

__all__ = [
    "ALGORITHMS",
    "BuildConfig",
    "BuildResult",
    "DirectoryBuild",
    "build_directory",
    "build_event",
    "build_tracks",
    "make_extender",
    "parse_event_list",
]

ALGORITHMS: tuple[str, ...] = ("tracknet", "baseline")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"build {name} must be an integer >= {low}, got {value!r}")


def _check_number(name: str, value: Any, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"build {name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"build {name} must be {'>' if positive else '>='} 0, got {value!r}")


def read_build_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object of a build settings file; one-line :class:`ConfigError` otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read build config ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a build config must be a JSON object")
    return data


@dataclass(frozen=True)
class BuildConfig:
    """Every setting of the track builder (lengths mm, field T, momenta GeV).

    Seeding: ``seed_stages`` (see :class:`~tracknet.building.seeding.SeedStage`),
    ``field_tesla`` (turns the stages' ``min_pt_gev`` into a curvature).
    Extension (see :mod:`~tracknet.building.builder`): ``beam_width``, ``max_branches``,
    ``max_misses``, ``miss_penalty``, ``skip_branches``, ``skip_above``, ``merge_paths``,
    ``max_hits``, ``envelope_margin_mm`` (how far beyond the hits' region a sphere centre
    may lie), ``radius_scale`` (multiplies the model's radii; ``None``: the checkpoint
    meta's ``radius_scale``, else 1), ``max_radius_mm`` (caps every sphere radius at
    build time, ``None``: no cap; in a full event a sphere wider than 40 mm holds dozens
    of hits, so its pick is a guess and it costs the most time).
    Baseline (see :mod:`~tracknet.building.baseline`): ``baseline_window_mm``,
    ``baseline_t2_window_mm``, ``baseline_surface_margin_mm``.
    Selection (see :mod:`~tracknet.building.selection`): ``min_hits``,
    ``max_shared_fraction``, ``max_mean_cost``, ``max_fit_rms_mm`` (the transverse
    circle-fit residual a track may have, mm per degree of freedom, see
    :mod:`~tracknet.building.fit`; ``None``: no cut), ``max_chi2_z`` (chi2 per degree
    of freedom of its straight line in transverse path length and z, with the TrackML
    hit resolutions of :func:`~tracknet.building.fit.hit_sigmas`) and ``max_outliers`` (how many
    worst-fitting hits a candidate may lose to pass it). ``double_hit_distance_mm``: after
    selection, a free hit within this distance of a track's hit in the same layer (another
    module) joins the track when it fits its helix (:mod:`~tracknet.building.doubles`;
    ``None``: off). The cost of a hit is its distance from the
    sphere centre over the sphere radius, so ``max_mean_cost`` assumes radii that hold
    most true hits: the baseline's windows, or a model's radii times a calibrated
    ``radius_scale`` (:func:`~tracknet.building.calibration.calibrate_radius_scale`).
    ``workers``: k-d tree query threads (-1: all cores).
    """

    seed_stages: tuple[SeedStage, ...] = DEFAULT_SEED_STAGES
    field_tesla: float = 2.0
    beam_width: int = ExtensionConfig.beam_width
    max_branches: int = ExtensionConfig.max_branches
    max_misses: int = ExtensionConfig.max_misses
    miss_penalty: float = ExtensionConfig.miss_penalty
    skip_branches: bool = ExtensionConfig.skip_branches
    skip_above: float = ExtensionConfig.skip_above
    merge_paths: bool = ExtensionConfig.merge_paths
    max_hits: int = ExtensionConfig.max_hits
    envelope_margin_mm: float = 50.0
    radius_scale: float | None = None
    max_radius_mm: float | None = 40.0
    baseline_window_mm: float = 10.0
    baseline_t2_window_mm: float = 20.0
    baseline_surface_margin_mm: float = 10.0
    min_hits: int = ExtensionConfig.min_hits
    max_shared_fraction: float = 0.5
    max_mean_cost: float | None = 0.7
    max_fit_rms_mm: float | None = 0.5
    max_chi2_z: float | None = 30.0
    max_outliers: int = 2
    double_hit_distance_mm: float | None = 10.0
    workers: int = ExtensionConfig.workers

    def __post_init__(self) -> None:
        stages = self.seed_stages
        if isinstance(stages, (SeedStage, Mapping)) or not isinstance(stages, Iterable):
            raise ConfigError("build seed_stages must be a list of seed stages")
        parsed = tuple(s if isinstance(s, SeedStage) else SeedStage.from_dict(s) for s in stages)
        if not parsed:
            raise ConfigError("build seed_stages must hold at least one stage")
        object.__setattr__(self, "seed_stages", parsed)
        _check_number("field_tesla", self.field_tesla, positive=True)
        _check_int("beam_width", self.beam_width, 1)
        _check_int("max_branches", self.max_branches, 1)
        _check_int("max_misses", self.max_misses, 0)
        _check_number("miss_penalty", self.miss_penalty)
        _check_number("skip_above", self.skip_above)
        for name in ("skip_branches", "merge_paths"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"build {name} must be true or false, got {getattr(self, name)!r}"
                )
        _check_int("max_hits", self.max_hits, 2)
        _check_int("max_outliers", self.max_outliers, 0)
        _check_number("envelope_margin_mm", self.envelope_margin_mm)
        for name in ("max_fit_rms_mm", "max_chi2_z"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), positive=True)
        if self.radius_scale is not None:
            _check_number("radius_scale", self.radius_scale, positive=True)
        if self.max_radius_mm is not None:
            _check_number("max_radius_mm", self.max_radius_mm, positive=True)
        if self.double_hit_distance_mm is not None:
            _check_number("double_hit_distance_mm", self.double_hit_distance_mm, positive=True)
        _check_number("baseline_window_mm", self.baseline_window_mm, positive=True)
        _check_number("baseline_t2_window_mm", self.baseline_t2_window_mm, positive=True)
        _check_number("baseline_surface_margin_mm", self.baseline_surface_margin_mm)
        if (
            isinstance(self.workers, bool)
            or not isinstance(self.workers, int)
            or self.workers == 0
            or self.workers < -1
        ):
            raise ConfigError(
                f"build workers must be a positive integer or -1, got {self.workers!r}"
            )
        longest = max(s.n_hits for s in parsed)
        if self.max_hits < longest:
            raise ConfigError(
                f"build max_hits ({self.max_hits}) is below the seed size ({longest})"
            )
        self.selection()  # validates min_hits, max_shared_fraction, max_mean_cost

    # ------------------------------------------------------------------ parts
    def extension(self) -> ExtensionConfig:
        return ExtensionConfig(
            beam_width=self.beam_width,
            max_branches=self.max_branches,
            max_misses=self.max_misses,
            miss_penalty=float(self.miss_penalty),
            max_hits=self.max_hits,
            min_hits=self.min_hits,
            skip_branches=self.skip_branches,
            skip_above=float(self.skip_above),
            merge_paths=self.merge_paths,
            workers=self.workers,
        )

    def selection(self) -> SelectionConfig:
        return SelectionConfig(
            min_hits=self.min_hits,
            max_shared_fraction=self.max_shared_fraction,
            max_mean_cost=self.max_mean_cost,
            max_fit_rms_mm=self.max_fit_rms_mm,
            max_chi2_z=self.max_chi2_z,
        )

    # ------------------------------------------------------------------ dicts
    def to_dict(self) -> dict[str, Any]:
        """Plain values (stages as dicts), JSON-ready."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["seed_stages"] = [s.to_dict() for s in self.seed_stages]
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> BuildConfig:
        """A copy with some fields replaced; ``seed_stages`` given as a list of dicts."""
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"build overrides must be a mapping, got {type(overrides).__name__}")
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown build option(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **dict(overrides))

    @classmethod
    def from_dict(cls, overrides: Mapping[str, Any] | None = None) -> BuildConfig:
        """The defaults with ``overrides`` applied."""
        return cls().with_overrides(overrides or {})

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> BuildConfig:
        """The defaults with the overrides of a JSON file (one object)."""
        data = read_build_json(path)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{path}: bad build config ({exc})") from None


@dataclass(frozen=True)
class BuildResult:
    """One built event: the submission and figures about the build.

    ``stages``: per seeding stage, counts (seeds, candidates, tracks, extension steps,
    sphere queries, most live candidates) and seconds (seeding, extension, selection).
    ``tracks``: one row per track, ``track_id, stage, n_hits`` (final), ``n_candidate_hits``
    (before shared hits were removed), ``mean_cost``, ``misses``, ``fit_rms_mm``,
    ``chi2_z`` and ``n_double_hits`` (attached after selection, counted in ``n_hits``).
    """

    submission: pd.DataFrame
    n_seeds: int
    n_candidates: int
    n_tracks: int
    seconds: float
    stages: list[dict[str, float | int]] = field(default_factory=list)
    tracks: pd.DataFrame = field(default_factory=pd.DataFrame)


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")


def _radius_scale(config: BuildConfig, loaded: LoadedModel) -> float:
    if config.radius_scale is not None:
        return float(config.radius_scale)
    value = loaded.meta.get("radius_scale", 1.0)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigError(f"checkpoint meta radius_scale must be a number > 0, got {value!r}")
    return float(value)


def make_extender(
    algorithm: str,
    surfaces: LayerSurfaces,
    loaded_model: LoadedModel | None,
    config: BuildConfig,
) -> Extender:
    """The track follower of ``algorithm`` for an event with these surfaces."""
    _check_algorithm(algorithm)
    if algorithm == "tracknet":
        if loaded_model is None:
            raise ConfigError("algorithm 'tracknet' needs a model checkpoint")
        return TrackNetExtender(
            loaded_model.model,
            loaded_model.normalizer,
            radius_scale=_radius_scale(config, loaded_model),
            max_radius_mm=config.max_radius_mm if config.max_radius_mm is not None else math.inf,
        )
    return HelixExtender(
        surfaces,
        window_mm=config.baseline_window_mm,
        t2_window_mm=config.baseline_t2_window_mm,
        surface_margin_mm=config.baseline_surface_margin_mm,
    )


def _hit_arrays(event: Event) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    hits = event.hits
    missing = [c for c in HITS_SCHEMA if c not in hits.columns]
    if missing:
        raise DataError(f"{event.prefix}: hits lack column(s) {missing}")
    hit_id = hits["hit_id"].to_numpy(dtype=np.int64)
    if len(np.unique(hit_id)) != len(hit_id):
        raise DataError(f"{event.prefix}: duplicate hit_id in hits", column="hit_id")
    positions = hits[["x", "y", "z"]].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(positions)):
        raise DataError(f"{event.prefix}: non-finite hit coordinates")
    volume = hits["volume_id"].to_numpy(dtype=np.int64)
    layer = hits["layer_id"].to_numpy(dtype=np.int64)
    if np.any(volume < 0) or np.any(layer < 0):
        raise DataError(f"{event.prefix}: negative volume_id or layer_id")
    return hit_id, positions, volume, layer


def _fitted(
    candidates: Candidates,
    positions: np.ndarray,
    sigmas: tuple[np.ndarray, np.ndarray],
    config: BuildConfig,
    min_hits: int,
) -> tuple[Candidates, FitQuality]:
    """The candidates' fit figures; with fit cuts, their worst-fitting hits dropped first
    (:func:`~tracknet.building.fit.trim_outliers`). Only candidates that pass the length
    and mean-cost cuts are fitted (the others are dropped by the selection anyway; they
    get infinite figures)."""
    worth = candidates.n_hits >= min_hits
    if config.max_mean_cost is not None:
        worth &= candidates.mean_cost() <= config.max_mean_cost
    rows = np.flatnonzero(worth)
    sub_paths = candidates.paths[rows]
    rms = np.full(candidates.n_candidates, np.inf)
    chi2 = np.full(candidates.n_candidates, np.inf)
    if config.max_fit_rms_mm is None and config.max_chi2_z is None:
        rms[rows] = transverse_fit_rms(positions, sub_paths, sigmas[1])
        chi2[rows] = longitudinal_fit(positions, sub_paths, *sigmas)[0]
        return candidates, FitQuality(rms, chi2)
    sub_paths, sub_fit = trim_outliers(
        positions,
        sub_paths,
        config.max_fit_rms_mm if config.max_fit_rms_mm is not None else math.inf,
        config.max_outliers,
        min_hits,
        max_chi2_z=config.max_chi2_z,
        sigma_z=sigmas[0],
        sigma_r=sigmas[1],
    )
    rms[rows], chi2[rows] = sub_fit.rms_mm, sub_fit.chi2_z
    paths = candidates.paths.copy()
    paths[rows] = sub_paths
    n_hits = (paths >= 0).sum(axis=1).astype(candidates.n_hits.dtype)
    return dataclasses.replace(candidates, paths=paths, n_hits=n_hits), FitQuality(rms, chi2)


def build_tracks(
    event: Event,
    algorithm: str = "tracknet",
    loaded_model: LoadedModel | None = None,
    config: BuildConfig = BuildConfig(),
) -> BuildResult:
    """Build one event and report what it took (see :func:`build_event`)."""
    start = time.perf_counter()
    _check_algorithm(algorithm)
    hit_id, positions, volume, layer = _hit_arrays(event)
    n = len(hit_id)
    keys = layer_keys(volume, layer)
    sigmas = hit_sigmas(volume)
    surfaces = LayerSurfaces.from_hits(positions, volume, layer)
    envelope = Envelope.from_positions(positions, config.envelope_margin_mm)
    extender = make_extender(algorithm, surfaces, loaded_model, config)
    extension, selection = config.extension(), config.selection()

    track_of_hit = np.zeros(n, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    n_tracks = n_seeds = n_candidates = 0
    stages: list[dict[str, float | int]] = []
    tables: list[pd.DataFrame] = []
    for stage_number, stage in enumerate(config.seed_stages, start=1):
        stage_start = time.perf_counter()
        available = ~taken
        seeds = find_seeds(
            positions,
            volume,
            layer,
            stage,
            field_tesla=config.field_tesla,
            available=available,
            surfaces=surfaces,
            workers=config.workers,
        )
        seeded = time.perf_counter()
        counts: dict[str, int] = {}
        stage_extension, stage_selection = extension, selection
        if stage.min_hits is not None:
            stage_extension = dataclasses.replace(extension, min_hits=stage.min_hits)
            stage_selection = dataclasses.replace(selection, min_hits=stage.min_hits)
        candidates = extend_seeds(
            extender, positions, keys, seeds, available, envelope, stage_extension, stats=counts
        )
        extended = time.perf_counter()
        candidates, fit = _fitted(candidates, positions, sigmas, config, stage_selection.min_hits)
        chosen = select_tracks(candidates, n, stage_selection, taken=taken, fit=fit)
        found = chosen.n_tracks
        new = chosen.track_of_hit > 0
        track_of_hit[new] = chosen.track_of_hit[new] + n_tracks
        taken |= new
        tables.append(
            pd.DataFrame(
                {
                    "track_id": np.arange(n_tracks + 1, n_tracks + found + 1, dtype=np.int64),
                    "stage": np.full(found, stage_number, dtype=np.int64),
                    "n_hits": chosen.n_hits,
                    "n_candidate_hits": candidates.n_hits[chosen.candidate],
                    "mean_cost": candidates.mean_cost()[chosen.candidate],
                    "misses": candidates.misses[chosen.candidate],
                    "fit_rms_mm": fit.rms_mm[chosen.candidate],
                    "chi2_z": fit.chi2_z[chosen.candidate],
                }
            )
        )
        n_tracks += found
        n_seeds += len(seeds)
        n_candidates += candidates.n_candidates
        stages.append(
            {
                "seeds": len(seeds),
                "candidates": candidates.n_candidates,
                "tracks": found,
                "steps": counts.get("steps", 0),
                "queries": counts.get("queries", 0),
                "live_max": counts.get("live_max", 0),
                "seconds_seeding": seeded - stage_start,
                "seconds_extension": extended - seeded,
                "seconds_selection": time.perf_counter() - extended,
            }
        )
    if config.double_hit_distance_mm is not None and "module_id" in event.hits.columns:
        track_of_hit = attach_double_hits(
            positions,
            keys,
            event.hits["module_id"].to_numpy(dtype=np.int64),
            track_of_hit,
            *sigmas,
            max_distance_mm=config.double_hit_distance_mm,
            max_residual_mm=config.max_fit_rms_mm
            if config.max_fit_rms_mm is not None
            else math.inf,
            max_pull_z=math.sqrt(config.max_chi2_z) if config.max_chi2_z is not None else math.inf,
            workers=config.workers,
        )
    track_table = pd.concat(tables, ignore_index=True)
    final_hits = np.bincount(track_of_hit, minlength=n_tracks + 1)[1:]
    track_table["n_double_hits"] = final_hits - track_table["n_hits"].to_numpy()
    track_table["n_hits"] = final_hits
    submission = pd.DataFrame(
        {
            "event_id": np.full(n, event.event_id, dtype=np.int64),
            "hit_id": hit_id,
            "track_id": track_of_hit,
        }
    )
    return BuildResult(
        submission=submission,
        n_seeds=n_seeds,
        n_candidates=n_candidates,
        n_tracks=n_tracks,
        seconds=time.perf_counter() - start,
        stages=stages,
        tracks=track_table,
    )


def build_event(
    event: Event,
    algorithm: str = "tracknet",
    loaded_model: LoadedModel | None = None,
    config: BuildConfig = BuildConfig(),
) -> pd.DataFrame:
    """The submission ``event_id, hit_id, track_id`` of one event (hits only are read).

    Every hit of the event appears exactly once; hits on no track have ``track_id`` 0.
    ``algorithm`` is ``"tracknet"`` (needs ``loaded_model``, from
    :func:`~tracknet.model.checkpoint.load_checkpoint`) or ``"baseline"``.
    """
    return build_tracks(event, algorithm, loaded_model, config).submission


@dataclass(frozen=True)
class DirectoryBuild:
    """What :func:`build_directory` wrote: the submission, its build record (JSON beside
    it, see :func:`tracknet.evaluation.report.build_meta_path`) and figures per event."""

    path: Path
    meta_path: Path
    n_events: int
    n_hits: int
    n_tracks: int
    seconds_per_event: float
    events: dict[int, dict[str, float | int]]


def parse_event_list(text: str | None) -> list[int] | None:
    """``"1000,1001"`` -> ``[1000, 1001]``; ``None`` or blank -> ``None`` (all events)."""
    if text is None or not text.strip():
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--events must be comma-separated integers, got {text!r}") from None
    if any(i < 0 for i in ids):
        raise ConfigError(f"--events must be non-negative event ids, got {text!r}")
    return ids


def build_directory(
    data_dir: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    algorithm: str = "tracknet",
    checkpoint: str | os.PathLike[str] | None = None,
    events: Iterable[int] | None = None,
    progress: bool = True,
    config: BuildConfig | None = None,
) -> DirectoryBuild:
    """Build every event (or the ``events`` ids) of ``data_dir`` into one submission CSV.

    A straw dataset directory (:func:`tracknet.io.straw.is_straw_dataset`) is built by
    :func:`tracknet.building.straw.build_straw_directory` (``config`` then a
    :class:`~tracknet.building.straw.StrawBuildConfig`, else its defaults).

    Inputs are checked before any work: the algorithm, the checkpoint (``tracknet`` only;
    it must open with :func:`~tracknet.model.checkpoint.load_checkpoint`), the directory
    and the event ids. The CSV ``event_id,hit_id,track_id`` is written atomically at the
    end, so a failure leaves no output file; then, beside it (``SUB.csv`` ->
    ``SUB.build.json``), the build record that ``tracknet evaluate --report`` reads:
    algorithm, checkpoint, settings, and seconds per event (reading excluded).
    """
    from tqdm.auto import tqdm

    from ..io.straw import is_straw_dataset

    if is_straw_dataset(data_dir):  # 2D straw events: tracknet.building.straw
        from .straw import StrawBuildConfig, build_straw_directory

        straw_config = config if isinstance(config, StrawBuildConfig) else None
        return build_straw_directory(
            data_dir, out_csv, algorithm, checkpoint, events, progress, straw_config
        )  # type: ignore[no-any-return]
    config = config or BuildConfig()
    _check_algorithm(algorithm)
    loaded: LoadedModel | None = None
    if algorithm == "tracknet":
        if checkpoint is None:
            raise ConfigError("algorithm 'tracknet' needs --checkpoint")
        loaded = load_checkpoint(checkpoint)
        if loaded.model.input_dim != 3:
            raise ConfigError(
                f"{checkpoint}: the model reads {loaded.model.input_dim}-d hits; building needs (x, y, z) hits"
            )
        _radius_scale(config, loaded)
    out = Path(out_csv)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory")
    prefixes = list_events(data_dir)
    if not prefixes:
        raise DataError(
            "no TrackML events (event<9 digits>-hits.csv[.gz]) in directory", file=str(data_dir)
        )
    if events is not None:
        wanted = [int(e) for e in events]
        found = {parse_event_id(p): p for p in prefixes}
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise DataError(f"event(s) {missing} not found in directory", file=str(data_dir))
        prefixes = [found[e] for e in sorted(set(wanted))]

    frames: list[pd.DataFrame] = []
    per_event: dict[int, dict[str, float | int]] = {}
    seconds = 0.0
    bar = tqdm(prefixes, desc=f"build ({algorithm})", unit="event", disable=not progress)
    for prefix in bar:
        event = read_event(prefix, parts=("hits",))
        result = build_tracks(event, algorithm, loaded, config)
        frames.append(result.submission)
        seconds += result.seconds
        per_event[event.event_id] = {
            "n_hits": event.n_hits,
            "n_seeds": result.n_seeds,
            "n_candidates": result.n_candidates,
            "n_tracks": result.n_tracks,
            "seconds": result.seconds,
        }
        bar.set_postfix(tracks=result.n_tracks, seconds=f"{result.seconds:.2f}")
    submission = pd.concat(frames, ignore_index=True)
    result = DirectoryBuild(
        path=out,
        meta_path=build_meta_path(out),
        n_events=len(frames),
        n_hits=len(submission),
        n_tracks=int(sum(v["n_tracks"] for v in per_event.values())),
        seconds_per_event=seconds / len(frames),
        events=per_event,
    )
    write_submission(submission, out)
    write_json_atomic(
        result.meta_path,
        {
            "algorithm": algorithm,
            "checkpoint": None
            if checkpoint is None or algorithm != "tracknet"
            else str(checkpoint),
            "radius_scale": _radius_scale(config, loaded) if loaded is not None else None,
            "data_dir": str(data_dir),
            "n_events": result.n_events,
            "n_hits": result.n_hits,
            "n_tracks": result.n_tracks,
            "mean_seconds_per_event": result.seconds_per_event,
            "seconds_per_event": {str(k): v["seconds"] for k, v in per_event.items()},
            "events": {str(k): v for k, v in per_event.items()},
            "config": config.to_dict(),
        },
    )
    return result
