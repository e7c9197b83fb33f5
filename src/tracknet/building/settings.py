"""Settings of the TrackML track builder (:class:`BuildConfig`) and the algorithms it knows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from ..schema import Settings, setting
from .builder import ExtensionConfig, workers_problem
from .seeding import DEFAULT_SEED_STAGES, SeedStage
from .selection import SelectionConfig
from .stages import SECONDARY_MIN_HITS, low_pt_stages

__all__ = ["ALGORITHMS", "MODEL_ALGORITHMS", "BuildConfig", "check_algorithm"]

#: The track building algorithms ("seed-lstm": straw events only).
ALGORITHMS: tuple[str, ...] = ("tracknet", "baseline", "seed-lstm")
#: The algorithms that build with a trained model (``--checkpoint``).
MODEL_ALGORITHMS: tuple[str, ...] = ("tracknet", "seed-lstm")


def check_algorithm(algorithm: str, detector: str | None = None) -> None:
    """One-line :class:`ConfigError` unless ``algorithm`` is one of :data:`ALGORITHMS`
    (and, with ``detector`` "trackml", builds TrackML events)."""
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    if detector == "trackml" and algorithm == "seed-lstm":
        raise ConfigError("algorithm 'seed-lstm' builds straw events only, not TrackML events")


_EXT = ExtensionConfig()
#: Where ``quality_model`` acts: on each stage's candidates before the selection, or on
#: the built tracks at the end.
QUALITY_ON: tuple[str, ...] = ("candidates", "tracks")


@dataclass(frozen=True)
class BuildConfig(Settings):
    """Every setting of the track builder (lengths mm, field T, momenta GeV).

    Seeding: ``seed_stages`` (see :class:`~tracknet.building.seeding.SeedStage`),
    ``field_tesla`` (turns the stages' ``min_pt_gev`` into a curvature),
    ``low_pt_module_map`` (path of a module map; when set, the low-pT stages of
    :func:`~tracknet.building.stages.low_pt_stages` run after ``seed_stages``, or after
    the first default stage when ``seed_stages`` is the default, see :meth:`stages`;
    ``secondary_min_hits``: how many hits the tracks of its two secondaries stages need).
    Extension (see :mod:`~tracknet.building.builder`): ``beam_width``, ``max_branches``,
    ``max_misses``, ``miss_penalty``, ``skip_branches``, ``skip_above``, ``merge_paths``,
    ``max_hits``, ``envelope_margin_mm`` (how far beyond the hits' region a sphere centre
    may lie), ``radius_scale`` (multiplies the model's radii; ``None``: the checkpoint
    meta's ``radius_scale``, else 1), ``max_radius_mm`` (caps every sphere radius at
    build time, ``None``: no cap; in a full event a very large sphere holds dozens
    of hits, so its pick is a guess and it costs the most time). ``layer_radius_mm``
    (``None``: off): a t1 sphere wider than this becomes search regions of this radius
    on the layers it reaches, where the line from the last hit through its centre
    crosses them (the event's layer surfaces, within their extent plus
    ``layer_surface_margin_mm``; see docs/extension.md). ``model_batch_size``: candidates
    per model step call (on a CPU small batches stay in the caches; raise it on a GPU).
    Baseline (see :mod:`~tracknet.building.baseline`): ``baseline_window_mm``,
    ``baseline_t2_window_mm``, ``baseline_surface_margin_mm``.
    Selection (see :mod:`~tracknet.building.selection`): ``min_hits``,
    ``max_shared_fraction``, ``max_mean_cost``, ``max_fit_rms_mm`` (the transverse
    circle-fit residual a track may have, mm per degree of freedom, see
    :mod:`~tracknet.building.fit`; ``None``: no cut), ``max_chi2_z`` (chi2 per degree
    of freedom of its straight line in transverse path length and z, with the TrackML
    hit resolutions of :func:`~tracknet.building.fit.hit_sigmas`) and ``max_outliers`` (how many
    worst-fitting hits a candidate may lose to pass it); ``fit_scattering_gev`` (``None``:
    off) widens both cuts for soft tracks, as multiple scattering widens their fits
    (:func:`~tracknet.building.fit.scattering_scale` of the fitted momentum).
    ``double_hit_distance_mm``: after selection, a free hit within this distance of a
    track's hit in the same layer (another module) joins the track when it fits its
    helix (:mod:`~tracknet.building.doubles`; ``None``: off) when its transverse
    residual is at most ``double_hit_max_residual_mm`` and its z pull at most
    ``double_hit_max_pull_z``; with ``double_hits_each_stage``
    right after each stage, for that stage's tracks, so that later stages cannot seed a
    duplicate track from them (else once after the last stage);
    ``final_double_hit_distance_mm`` (``None``: none): with ``double_hits_each_stage``,
    one more pass after the last stage, within this distance. The cost of a hit is
    its distance from the sphere centre over the sphere radius, so ``max_mean_cost``
    assumes radii that hold most true hits: the baseline's windows, or a model's radii
    times a calibrated ``radius_scale``
    (:func:`~tracknet.building.calibration.calibrate_radius_scale`).
    ``inner_hit_window_mm`` (``None``: off): after each stage, its tracks take the free
    hits where their helices cross inner layers within this distance, when the refit
    passes ``inner_hit_max_residual_mm`` and ``inner_hit_max_pull_z``
    (:mod:`~tracknet.building.inner`); with ``hole_hits`` also the free hits where they
    cross a layer between two layers they hold, with ``outer_hits`` where they cross the
    first layer beyond their last. A double or inner hit joins only when the track's
    circle-fit rms (per degree of freedom) rises by at most ``attach_max_rms_rise_mm``
    (``None``: no bound).
    ``quality_model``: path of a track-quality score (``tracknet quality``,
    :mod:`~tracknet.building.quality`); when set, what has a fake probability above
    ``max_fake_probability`` is dropped: with ``quality_on`` ``"candidates"`` a stage's
    candidates before its selection (their hits stay free for the others), with
    ``"tracks"`` the built tracks at the end of the build.
    ``seed_passes``: each stage extends its seeds in this many parts, each after the one
    before has taken its tracks' hits (see docs/seeding.md, "Seed passes").
    ``workers``: k-d tree query threads (-1: all cores).
    The extension defaults are :class:`~tracknet.building.builder.ExtensionConfig`'s.
    """

    label: ClassVar[str] = "build"

    seed_stages: tuple[SeedStage, ...] = DEFAULT_SEED_STAGES
    low_pt_module_map: str | None = None
    secondary_min_hits: int = setting(SECONDARY_MIN_HITS, low=3)
    field_tesla: float = setting(2.0, low=0, open_low=True)
    beam_width: int = setting(_EXT.beam_width, low=1)
    max_branches: int = setting(_EXT.max_branches, low=1)
    max_misses: int = setting(_EXT.max_misses, low=0)
    miss_penalty: float = setting(_EXT.miss_penalty, low=0)
    skip_branches: bool = _EXT.skip_branches
    skip_above: float = setting(_EXT.skip_above, low=0)
    merge_paths: bool = _EXT.merge_paths
    max_hits: int = setting(_EXT.max_hits, low=2)
    envelope_margin_mm: float = setting(50.0, low=0)
    radius_scale: float | None = setting(None, low=0, open_low=True)
    max_radius_mm: float | None = setting(40.0, low=0, open_low=True)
    layer_radius_mm: float | None = setting(5.0, low=0, open_low=True)
    model_batch_size: int = setting(8192, low=1)
    layer_surface_margin_mm: float = setting(10.0, low=0)
    baseline_window_mm: float = setting(10.0, low=0, open_low=True)
    baseline_t2_window_mm: float = setting(20.0, low=0, open_low=True)
    baseline_surface_margin_mm: float = setting(10.0, low=0)
    min_hits: int = _EXT.min_hits
    max_shared_fraction: float = 0.5
    max_mean_cost: float | None = 0.7
    max_fit_rms_mm: float | None = setting(0.5, low=0, open_low=True)
    max_chi2_z: float | None = setting(30.0, low=0, open_low=True)
    max_outliers: int = setting(2, low=0)
    fit_scattering_gev: float | None = setting(None, low=0, open_low=True)
    double_hit_distance_mm: float | None = setting(10.0, low=0, open_low=True)
    double_hit_max_residual_mm: float = setting(1.0, low=0, open_low=True)
    double_hit_max_pull_z: float = setting(30.0, low=0, open_low=True)
    double_hits_each_stage: bool = True
    final_double_hit_distance_mm: float | None = setting(20.0, low=0, open_low=True)
    inner_hit_window_mm: float | None = setting(10.0, low=0, open_low=True)
    inner_hit_max_residual_mm: float = setting(0.5, low=0, open_low=True)
    inner_hit_max_pull_z: float = setting(10.0, low=0, open_low=True)
    hole_hits: bool = True
    outer_hits: bool = False
    attach_max_rms_rise_mm: float | None = setting(0.05, low=0, open_low=True)
    quality_model: str | None = None
    quality_on: str = setting("candidates", choices=QUALITY_ON)
    max_fake_probability: float = setting(0.05, low=0, high=1)
    seed_passes: int = setting(2, low=1, high=3)
    workers: int = setting(_EXT.workers, check=workers_problem)

    def __post_init__(self) -> None:
        stages = self.seed_stages
        if isinstance(stages, SeedStage | Mapping | str) or not isinstance(stages, Iterable):
            raise ConfigError("build seed_stages must be a list of seed stages")
        parsed = tuple(s if isinstance(s, SeedStage) else SeedStage.from_dict(s) for s in stages)
        if not parsed:
            raise ConfigError("build seed_stages must hold at least one stage")
        object.__setattr__(self, "seed_stages", parsed)
        super().__post_init__()

    def validate(self) -> None:
        if self.low_pt_module_map is not None and not self.low_pt_module_map.strip():
            raise ConfigError("build low_pt_module_map must be a path or null")
        if self.quality_model is not None and not self.quality_model.strip():
            raise ConfigError("build quality_model must be a path or null")
        longest = max(s.n_hits for s in self.stages())
        if self.max_hits < longest:
            raise ConfigError(
                f"build max_hits ({self.max_hits}) is below the seed size ({longest})"
            )
        self.selection()  # validates min_hits, max_shared_fraction, max_mean_cost

    # ------------------------------------------------------------------ parts
    def stages(self) -> tuple[SeedStage, ...]:
        """The seeding stages a build runs: ``seed_stages``, then the low-pT stages.

        With the default ``seed_stages``, the low-pT stages follow the first default stage
        alone: their map copies of the second stage, with wider cuts, find what the default
        second and third stages would (see docs/seeding.md, Module maps)."""
        if self.low_pt_module_map is None:
            return self.seed_stages
        first = self.seed_stages
        if first == DEFAULT_SEED_STAGES:
            first = first[:1]
        return (*first, *low_pt_stages(self.low_pt_module_map, self.secondary_min_hits))

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
            scattering_gev=self.fit_scattering_gev,
        )
