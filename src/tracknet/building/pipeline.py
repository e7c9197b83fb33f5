"""Build tracks for one TrackML event: TrackNET or the classical baseline.

:func:`build_event` turns an :class:`~tracknet.events.Event` into the submission table
``event_id, hit_id, track_id`` (every hit once, 0 for "on no track") from the hits alone;
each seeding stage of :class:`~tracknet.building.settings.BuildConfig` seeds, extends and
selects on the hits earlier stages left.

See docs/extension.md.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..evaluation.score import majority_table
from ..events import HITS_SCHEMA, Event
from ..model.checkpoint import LoadedModel
from .baseline import HelixExtender
from .builder import Candidates, Extender, TrackNetExtender, extend_seeds
from .doubles import attach_double_hits
from .fit import FitQuality, helix_fit, hit_sigmas, trim_outliers
from .geometry import Envelope, LayerSurfaces, layer_keys
from .inner import attach_inner_hits
from .module_map import load_module_map
from .quality import candidate_table, quality_for
from .seeding import find_ranked_seeds, seed_parts
from .selection import eligible, select_tracks
from .settings import BuildConfig, check_algorithm

__all__ = ["BuildResult", "build_event", "build_tracks", "make_extender", "radius_scale_of"]


@dataclass(frozen=True)
class BuildResult:
    """One built event: the submission and figures about the build.

    ``stages``: per seeding stage, counts (seeds, candidates, tracks, extension steps,
    sphere queries, most live candidates) and seconds (seeding, extension, selection with
    the double hits).
    ``tracks``: one row per track, ``track_id, stage, n_hits`` (final), ``n_candidate_hits``
    (before shared hits were removed), ``mean_cost``, ``misses``, ``fit_rms_mm``,
    ``chi2_z``, ``fit_momentum_gev`` and ``n_double_hits`` (double and inner hits attached
    after selection, counted in ``n_hits``), with a quality model ``fake_probability``.
    ``candidates``: with ``candidate_truth`` given to :func:`build_tracks`, one row per
    candidate that reached a selection, its figures (the columns of
    :func:`~tracknet.building.quality.candidate_table`) and ``fake`` (no particle holds
    more than half of its hits).
    """

    submission: pd.DataFrame
    n_seeds: int
    n_candidates: int
    n_tracks: int
    seconds: float
    stages: list[dict[str, float | int]] = field(default_factory=list)
    tracks: pd.DataFrame = field(default_factory=pd.DataFrame)
    candidates: pd.DataFrame | None = None


def radius_scale_of(config: BuildConfig, loaded: LoadedModel) -> float:
    """The radius scale of a build: the config's, else the checkpoint meta's (else 1)."""
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
    check_algorithm(algorithm, detector="trackml")
    if algorithm == "tracknet":
        if loaded_model is None:
            raise ConfigError("algorithm 'tracknet' needs a model checkpoint")
        return TrackNetExtender(
            loaded_model.model,
            loaded_model.normalizer,
            radius_scale=radius_scale_of(config, loaded_model),
            max_radius_mm=config.max_radius_mm if config.max_radius_mm is not None else math.inf,
            surfaces=surfaces,
            layer_radius_mm=config.layer_radius_mm,
            surface_margin_mm=config.layer_surface_margin_mm,
            batch_size=config.model_batch_size,
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
    momentum = np.full(candidates.n_candidates, np.nan)
    if config.max_fit_rms_mm is None and config.max_chi2_z is None:
        sub_fit = helix_fit(positions, sub_paths, *sigmas, config.field_tesla)
        rms[rows], chi2[rows], momentum[rows] = sub_fit
        return candidates, FitQuality(rms, chi2, momentum)
    sub_paths, sub_fit = trim_outliers(
        positions,
        sub_paths,
        config.max_fit_rms_mm if config.max_fit_rms_mm is not None else math.inf,
        config.max_outliers,
        min_hits,
        max_chi2_z=config.max_chi2_z,
        sigma_z=sigmas[0],
        sigma_r=sigmas[1],
        field_tesla=config.field_tesla,
        scattering_gev=config.fit_scattering_gev,
    )
    rms[rows], chi2[rows], momentum[rows] = sub_fit
    paths = candidates.paths.copy()
    paths[rows] = sub_paths
    n_hits = (paths >= 0).sum(axis=1).astype(candidates.n_hits.dtype)
    fitted = dataclasses.replace(candidates, paths=paths, n_hits=n_hits)
    return fitted, FitQuality(rms, chi2, momentum)


def _double_hits(
    positions: np.ndarray,
    keys: np.ndarray,
    module_id: np.ndarray | None,
    sigmas: tuple[np.ndarray, np.ndarray],
    config: BuildConfig,
) -> Callable[..., np.ndarray] | None:
    """``attach(track_of_hit, free, max_distance_mm)``:
    :func:`~tracknet.building.doubles.attach_double_hits`
    with the build's cuts, or ``None`` when double hits are off (or there are no module
    ids)."""
    distance = config.double_hit_distance_mm
    if distance is None or module_id is None:
        return None
    modules = module_id

    def attach(
        track_of_hit: np.ndarray, free: np.ndarray, max_distance_mm: float = distance
    ) -> np.ndarray:
        return attach_double_hits(
            positions,
            keys,
            modules,
            track_of_hit,
            *sigmas,
            max_distance_mm=max_distance_mm,
            max_residual_mm=config.double_hit_max_residual_mm,
            max_pull_z=config.double_hit_max_pull_z,
            max_rms_rise_mm=config.attach_max_rms_rise_mm,
            workers=config.workers,
            free=free,
        )

    return attach


def _join(track_of_hit: np.ndarray, taken: np.ndarray, proposed: np.ndarray) -> np.ndarray:
    """Give the free hits that ``proposed`` puts on a track to that track (in place, in
    ``track_of_hit`` and ``taken``); returns them as a mask."""
    joined = ~taken & (proposed > 0)
    track_of_hit[joined] = proposed[joined]
    taken |= joined
    return joined


def build_tracks(
    event: Event,
    algorithm: str = "tracknet",
    loaded_model: LoadedModel | None = None,
    config: BuildConfig = BuildConfig(),
    *,
    candidate_truth: np.ndarray | None = None,
) -> BuildResult:
    """Build one event and report what it took (see :func:`build_event`).

    ``candidate_truth``: the particle id of every hit row (0: noise), to label the
    candidates in ``BuildResult.candidates`` (for fitting a quality score)."""
    start = time.perf_counter()
    check_algorithm(algorithm, detector="trackml")
    hit_id, positions, volume, layer = _hit_arrays(event)
    n = len(hit_id)
    keys = layer_keys(volume, layer)
    sigmas = hit_sigmas(volume)
    surfaces = LayerSurfaces.from_hits(positions, volume, layer)
    envelope = Envelope.from_positions(positions, config.envelope_margin_mm)
    extender = make_extender(algorithm, surfaces, loaded_model, config)
    extension, selection = config.extension(), config.selection()
    module_id = (
        event.hits["module_id"].to_numpy(dtype=np.int64)
        if "module_id" in event.hits.columns
        else None
    )
    maps = {s.module_map: load_module_map(s.module_map) for s in config.stages() if s.module_map}
    quality = (
        quality_for(config.quality_model, algorithm) if config.quality_model is not None else None
    )
    fitted_on = quality.meta.get("quality_on") if quality is not None else None
    if fitted_on is not None and fitted_on != config.quality_on:
        raise ConfigError(
            f"track quality {config.quality_model} was fitted on {fitted_on}, the build "
            f"scores {config.quality_on} (quality_on): refit it or set quality_on {fitted_on!r}"
        )
    score_candidates = quality is not None and config.quality_on == "candidates"
    labelled: list[pd.DataFrame] = []

    doubles = _double_hits(positions, keys, module_id, sigmas, config)
    track_of_hit = np.zeros(n, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    n_tracks = n_seeds = n_candidates = 0
    stages: list[dict[str, float | int]] = []
    tables: list[pd.DataFrame] = []
    for stage_number, stage in enumerate(config.stages(), start=1):
        stage_start = time.perf_counter()
        available = ~taken
        all_seeds, miss = find_ranked_seeds(
            positions,
            volume,
            layer,
            stage,
            field_tesla=config.field_tesla,
            available=available,
            surfaces=surfaces,
            workers=config.workers,
            module_id=module_id,
            module_map=maps.get(stage.module_map) if stage.module_map else None,
        )
        seeded = time.perf_counter()
        record = dict.fromkeys(("seeds", "candidates", "tracks", "steps", "queries"), 0)
        record["live_max"] = 0
        seconds = {"extension": 0.0, "selection": 0.0}
        for seeds in seed_parts(all_seeds, miss, taken, config.seed_passes):
            pass_start = time.perf_counter()
            available = ~taken
            counts: dict[str, int] = {}
            stage_extension, stage_selection = extension, selection
            if stage.min_hits is not None:
                stage_extension = dataclasses.replace(extension, min_hits=stage.min_hits)
                stage_selection = dataclasses.replace(selection, min_hits=stage.min_hits)
            candidates = extend_seeds(
                extender, positions, keys, seeds, available, envelope, stage_extension, stats=counts
            )
            extended = time.perf_counter()
            candidates, fit = _fitted(
                candidates, positions, sigmas, config, stage_selection.min_hits
            )
            table = None
            if score_candidates or candidate_truth is not None:
                table = candidate_table(candidates, fit)
            probability = exclude = None
            if score_candidates and quality is not None and table is not None:
                # The learned score decides which candidates may become tracks.
                probability = quality.fake_probability(table)
                exclude = probability > config.max_fake_probability
            chosen = select_tracks(
                candidates, n, stage_selection, taken=taken, fit=fit, exclude=exclude
            )
            if candidate_truth is not None and table is not None:
                reached = eligible(candidates, stage_selection, fit)
                labelled.append(
                    table[reached].assign(
                        stage=stage_number,
                        fake=_fake_candidates(candidates.paths[reached], candidate_truth),
                    )
                )
            found = chosen.n_tracks
            new = chosen.track_of_hit > 0
            track_of_hit[new] = chosen.track_of_hit[new] + n_tracks
            taken |= new
            if config.inner_hit_window_mm is not None:
                # The stage's tracks take the free hits their helices cross further in.
                with_inner = attach_inner_hits(
                    positions,
                    keys,
                    np.where(new, track_of_hit, 0),
                    surfaces,
                    *sigmas,
                    window_mm=config.inner_hit_window_mm,
                    max_residual_mm=config.inner_hit_max_residual_mm,
                    max_pull_z=config.inner_hit_max_pull_z,
                    max_rms_rise_mm=config.attach_max_rms_rise_mm,
                    surface_margin_mm=config.layer_surface_margin_mm,
                    holes=config.hole_hits,
                    outer=config.outer_hits,
                    workers=config.workers,
                    free=~taken,
                )
                new |= _join(track_of_hit, taken, with_inner)
            if doubles is not None and config.double_hits_each_stage:
                # The stage's tracks take their double hits now, so that later stages cannot
                # seed a second track of the same particle from them.
                _join(track_of_hit, taken, doubles(np.where(new, track_of_hit, 0), ~taken))
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
                        "fit_momentum_gev": _chosen(fit.momentum_gev, chosen.candidate),
                        **(
                            {"fake_probability": probability[chosen.candidate]}
                            if probability is not None
                            else {}
                        ),
                    }
                )
            )
            n_tracks += found
            record["seeds"] += len(seeds)
            record["candidates"] += candidates.n_candidates
            record["tracks"] += found
            for name in ("steps", "queries"):
                record[name] += counts.get(name, 0)
            record["live_max"] = max(record["live_max"], counts.get("live_max", 0))
            seconds["extension"] += extended - pass_start
            seconds["selection"] += time.perf_counter() - extended
        n_seeds += record["seeds"]
        n_candidates += record["candidates"]
        stages.append(
            record
            | {
                "seconds_seeding": seeded - stage_start,
                "seconds_extension": seconds["extension"],
                "seconds_selection": seconds["selection"],
            }
        )
    if doubles is not None and not config.double_hits_each_stage:
        track_of_hit = doubles(track_of_hit, track_of_hit <= 0)
    elif doubles is not None and config.final_double_hit_distance_mm is not None:
        # Wider, once, when no stage can seed from the hits any more.
        track_of_hit = doubles(track_of_hit, track_of_hit <= 0, config.final_double_hit_distance_mm)
    track_table = pd.concat(tables, ignore_index=True)
    final_hits = np.bincount(track_of_hit, minlength=n_tracks + 1)[1:]
    track_table["n_double_hits"] = final_hits - track_table["n_hits"].to_numpy()
    track_table["n_hits"] = final_hits
    if quality is not None and not score_candidates:
        # The learned score drops the likely fakes; their hits are free again.
        probability = quality.fake_probability(track_table)
        track_table["fake_probability"] = probability
        dropped = track_table["track_id"].to_numpy()[probability > config.max_fake_probability]
        track_of_hit[np.isin(track_of_hit, dropped)] = 0
        track_table = track_table[probability <= config.max_fake_probability]
        track_table = track_table.reset_index(drop=True)
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
        n_tracks=len(track_table),
        seconds=time.perf_counter() - start,
        stages=stages,
        tracks=track_table,
        candidates=pd.concat(labelled, ignore_index=True) if candidate_truth is not None else None,
    )


def _chosen(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    return np.full(len(rows), np.nan) if values is None else values[rows]


def _fake_candidates(paths: np.ndarray, particle_id: np.ndarray) -> np.ndarray:
    """Whether no particle (noise excluded) holds more than half of each path's hits."""
    valid = paths >= 0
    owner = np.repeat(np.arange(len(paths), dtype=np.int64), valid.sum(axis=1))
    fake = np.ones(len(paths), dtype=bool)
    if not len(owner):
        return fake
    table = majority_table(np.asarray(particle_id)[paths[valid]], owner)
    table = table[table["particle_id"] != 0]
    good = 2 * table["n_majority"].to_numpy() > table["n_hits"].to_numpy()
    fake[table["track_id"].to_numpy()[good]] = False
    return fake


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
