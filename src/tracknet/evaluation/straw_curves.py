"""Straw tracking against occupancy and against time in the fill, TrackNET beside the baseline.

:func:`straw_curves` simulates each point of both curves (the point's own seed): pseudo-data
of the design, or semi-synthetic events of the "real" detector; builds it with both
algorithms and evaluates it; :func:`write_straw_curves` writes
``straw_curves.json`` and one PNG per metric and axis, atomically.
See ``docs/metrics.md`` (Straw metrics, Curves).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..schema import Settings, setting
from ..simulation.straw.tracks import MAX_TIME_IN_FILL_US
from . import names

__all__ = [
    "CURVE_METRICS",
    "EVENT_KINDS",
    "StrawCurveSettings",
    "straw_curves",
    "write_straw_curves",
]

#: The metric families plotted against occupancy and time in fill.
CURVE_METRICS: tuple[str, ...] = (
    names.PRECISION_ON_FOUND_TRACKS,
    names.WRONG_HIT_FRACTION,
    names.FOUND_FRACTION,
    names.SPLIT_FRACTION,
)
_ALGORITHMS = ("tracknet", "baseline")
#: How each algorithm is drawn: (name, line style, legend).
_STYLES = (
    ("tracknet", "o-", "TrackNET"),
    ("baseline", "s--", "baseline"),
    ("seed-lstm", "^:", "seed LSTM"),
)
#: What the points are made of: simulated pseudo-data of the design, or library tracks of
#: the "real" detector overlaid onto its production events.
EVENT_KINDS = ("pseudo", "semi-synthetic")
#: The times in the fill (us) of the late events the semi-synthetic library is cut from.
LIBRARY_TIMES_US = (150.0, 300.0)


def _not_empty(values: Any) -> str | None:
    return None if len(values) else "must name at least one value"


@dataclass(frozen=True)
class StrawCurveSettings(Settings):
    """What the curves simulate (see the module docstring)."""

    label: ClassVar[str] = "straw curves"

    n_events: int = setting(2000, low=1)
    seed: int = setting(0, low=0)
    occupancies: tuple[int, ...] = setting((1, 2, 3, 4, 5, 6, 7, 8, 9, 10), low=1, check=_not_empty)
    times_us: tuple[float, ...] = setting(
        (0.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0),
        low=0.0,
        high=MAX_TIME_IN_FILL_US,
        check=_not_empty,
    )
    tracks_at_t0: float = setting(8.0, low=0.0, high=1.0e4)
    max_tracks: int = setting(16, low=1)
    events: str = setting("pseudo", choices=EVENT_KINDS)
    overlay_tracks: int = setting(2, low=1)
    background_time_us: float = setting(200.0, low=0.0, high=MAX_TIME_IN_FILL_US)
    library_events: int = setting(20_000, low=1)

    def validate(self) -> None:
        if max(self.occupancies) > self.max_tracks:
            raise self.fail(
                "occupancies", f"must not exceed max_tracks ({self.max_tracks})", self.occupancies
            )


def _entropy(seed: list[int]) -> int:
    return int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint32)[0])


def _measure(
    batch: Any, geometry: Any, n_events: int, followers: dict[str, Any], build_config: Any
) -> dict[str, Any]:
    """The straw metrics of ``batch`` built by each follower (overlaid tracks only, on
    semi-synthetic events)."""
    from ..building.straw import build_straw_batch
    from .straw import evaluate_straw

    h = batch.hits
    truth = pd.DataFrame({c: h[c] for c in ("event_id", "hit_id", "particle_id", "weight")})
    particles = pd.DataFrame(batch.particles)
    out: dict[str, Any] = {}
    for algorithm, follower in followers.items():
        sub = build_straw_batch(batch, geometry, algorithm, None, build_config, follower=follower)
        out[algorithm] = evaluate_straw(truth, sub, particles, n_events=n_events).straw.to_dict()
    return out


def _point(
    config: Any, n_events: int, seed: list[int], followers: dict[str, Any], build_config: Any
) -> dict[str, Any]:
    from ..simulation.straw import simulate_straw_batch

    entropy = _entropy(seed)
    batch = simulate_straw_batch(config, n_events, entropy)
    return {
        "simulation_seed": entropy,
        "mean_tracks": float(batch.events["n_tracks"].mean()),
        **_measure(batch, config.geometry, n_events, followers, build_config),
    }


def _semi_library(settings: StrawCurveSettings, alignment: str | None) -> Any:
    """Isolated tracks of late-in-fill production events of the "real" detector, selected
    without truth (at the straw ``alignment`` when one is named)."""
    from ..augment.library import LibraryCriteria, straw_library
    from ..simulation.straw import Occupancy, StrawConfig, TrackGun, simulate_straw_batch
    from ..simulation.straw.conditions import REAL_DETECTOR, REAL_RESPONSE

    late = StrawConfig(
        conditions=REAL_DETECTOR,
        response=REAL_RESPONSE,
        occupancy=Occupancy(
            mean=settings.tracks_at_t0,
            max_tracks=settings.max_tracks,
            time_in_fill_us=LIBRARY_TIMES_US[0],
            time_in_fill_max_us=LIBRARY_TIMES_US[1],
        ),
    )
    events = simulate_straw_batch(late, settings.library_events, _entropy([settings.seed, 2, 0]))
    library = straw_library(
        [events.without_labels()],
        LibraryCriteria(alignment=alignment),
        field_tesla=TrackGun().field_tesla,
    )
    if len(library) < settings.overlay_tracks:
        raise ConfigError(
            f"the library of {settings.library_events} late events holds {len(library)} tracks: "
            "too few to overlay"
        )
    return library


def _semi_point(
    library: Any,
    tracks: int,
    time_us: float,
    settings: StrawCurveSettings,
    seed: list[int],
    followers: dict[str, Any],
    build_config: Any,
) -> dict[str, Any]:
    """``tracks`` library tracks overlaid onto production events of the "real" detector at
    ``time_us`` in the fill (Poisson tracks of mean ``tracks_at_t0 * exp(-t / tau)``)."""
    from ..augment.overlay import iter_straw_overlay
    from ..simulation.straw import Occupancy, StrawBatch, StrawConfig, simulate_straw_batch
    from ..simulation.straw.conditions import REAL_DETECTOR, REAL_RESPONSE

    entropy = _entropy(seed)
    config = StrawConfig(
        conditions=REAL_DETECTOR,
        response=REAL_RESPONSE,
        occupancy=Occupancy(
            mean=settings.tracks_at_t0, max_tracks=settings.max_tracks, time_in_fill_us=time_us
        ),
    )
    background = simulate_straw_batch(config, settings.n_events, entropy)
    # The background carries the detector's noise; the overlaid tracks their crosstalk.
    response = REAL_RESPONSE.with_overrides(
        {"efficiency": 1.0, "noise_rate": 0.0, "drift_sigma_mm": 0.0}
    )
    batch = StrawBatch.concat(
        iter_straw_overlay(
            library,
            n_events=settings.n_events,
            tracks_per_event=tracks,
            seed=entropy,
            response=response,
            background=background.without_labels(),
        )
    )
    return {
        "simulation_seed": entropy,
        "background_mean_tracks": float(background.events["n_tracks"].mean()),
        **_measure(batch, config.geometry, settings.n_events, followers, build_config),
    }


def straw_curves(
    loaded: Any,
    settings: StrawCurveSettings = StrawCurveSettings(),
    build_config: Any = None,
    *,
    progress: Callable[[int], None] | None = None,
    seed_loaded: Any = None,
) -> dict[str, Any]:
    """Every number of the curves (module docstring) as a JSON-ready dict; with
    ``seed_loaded`` (a seed classifier) a third algorithm, ``seed-lstm``."""
    from ..building.straw import StrawBuildConfig, check_straw_model, make_straw_follower
    from ..simulation.straw import DEFAULT_TAU_US, Occupancy, StrawConfig

    check_straw_model(loaded, "checkpoint")
    build_config = build_config or StrawBuildConfig()
    followers = {
        a: make_straw_follower(a, loaded if a == "tracknet" else None, build_config)
        for a in _ALGORITHMS
    }
    if seed_loaded is not None:
        followers["seed-lstm"] = make_straw_follower("seed-lstm", seed_loaded, build_config)
    if settings.events == "semi-synthetic":
        return _semi_curves(settings, followers, build_config, progress)
    occupancy_points = []
    for i, k in enumerate(settings.occupancies):
        occupancy = Occupancy(
            distribution="fixed", mean=float(k), min_tracks=0, max_tracks=settings.max_tracks
        )
        point = _point(
            StrawConfig(occupancy=occupancy),
            settings.n_events,
            [settings.seed, 0, i],
            followers,
            build_config,
        )
        occupancy_points.append({"tracks_per_event": int(k), **point})
        if progress:
            progress(1)
    time_points = []
    for i, t in enumerate(settings.times_us):
        occupancy = Occupancy(
            distribution="poisson",
            mean=settings.tracks_at_t0,
            min_tracks=0,
            max_tracks=settings.max_tracks,
            time_in_fill_us=float(t),
        )
        point = _point(
            StrawConfig(occupancy=occupancy),
            settings.n_events,
            [settings.seed, 1, i],
            followers,
            build_config,
        )
        time_points.append({"time_in_fill_us": float(t), **point})
        if progress:
            progress(1)
    return {
        "settings": {
            **settings.to_dict(),
            "tau_us": DEFAULT_TAU_US,
            "response": StrawConfig().response.to_dict(),
        },
        "build_config": build_config.to_dict(),
        "radius_scale": getattr(followers["tracknet"], "radius_scale", None),
        "algorithms": list(followers),
        "metrics": list(CURVE_METRICS),
        "occupancy": occupancy_points,
        "time_in_fill": time_points,
    }


def _semi_curves(
    settings: StrawCurveSettings,
    followers: dict[str, Any],
    build_config: Any,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    """The curves on semi-synthetic events of the "real" detector: against the tracks
    overlaid (on production events at ``background_time_us``) and against the time in the
    fill (``overlay_tracks`` tracks on production events of that time)."""
    from ..simulation.straw import DEFAULT_TAU_US
    from ..simulation.straw.conditions import REAL_DETECTOR, REAL_RESPONSE

    library = _semi_library(settings, build_config.alignment)
    occupancy_points = []
    for i, k in enumerate(settings.occupancies):
        point = _semi_point(
            library, k, settings.background_time_us, settings, [settings.seed, 0, i],
            followers, build_config,
        )  # fmt: skip
        occupancy_points.append({"tracks_per_event": int(k), **point})
        if progress:
            progress(1)
    time_points = []
    for i, t in enumerate(settings.times_us):
        point = _semi_point(
            library, settings.overlay_tracks, float(t), settings, [settings.seed, 1, i],
            followers, build_config,
        )  # fmt: skip
        time_points.append({"time_in_fill_us": float(t), **point})
        if progress:
            progress(1)
    return {
        "settings": {
            **settings.to_dict(),
            "tau_us": DEFAULT_TAU_US,
            "response": REAL_RESPONSE.to_dict(),
            "conditions": REAL_DETECTOR.to_dict(),
            "library_times_us": list(LIBRARY_TIMES_US),
        },
        "library_tracks": len(library),
        "build_config": build_config.to_dict(),
        "radius_scale": getattr(followers["tracknet"], "radius_scale", None),
        "algorithms": list(followers),
        "metrics": list(CURVE_METRICS),
        "occupancy": occupancy_points,
        "time_in_fill": time_points,
    }


def _plot(points: list[dict[str, Any]], x_key: str, x_label: str, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.atomic import atomic_path

    x = [p[x_key] for p in points]
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=110)
    for algorithm, style, label in _STYLES:
        if algorithm not in points[0]:
            continue
        y = [np.nan if p[algorithm][metric] is None else p[algorithm][metric] for p in points]
        ax.plot(x, y, style, label=label)
    ax.set_xlabel(x_label)
    ax.set_ylabel(names.label(metric) if hasattr(names, "label") else metric)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


#: The record of a straw-curves directory (written last, with the figures).
CURVES_FILE = "straw_curves.json"


def write_straw_curves(result: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``straw_curves.json`` and the PNGs into ``out_dir``; the paths written.

    They are written together (a staged directory): an interrupt or an error leaves
    ``out_dir`` as it was, never PNGs without their JSON.
    """
    from ..io.atomic import atomic_directory, write_json_atomic

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    names = []
    with atomic_directory(out, record=CURVES_FILE) as staging:
        for metric in CURVE_METRICS:
            for key, x_key, label in (
                ("occupancy", "tracks_per_event", "tracks per event"),
                ("time_in_fill", "time_in_fill_us", "time in fill (us)"),
            ):
                name = f"{key}_{metric}.png"
                _plot(result[key], x_key, label, metric, staging / name)
                names.append(name)
        write_json_atomic(staging / CURVES_FILE, result)
        names.append(CURVES_FILE)
    return [out / name for name in names]
