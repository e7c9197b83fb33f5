"""``tracknet validate``: a checkpoint's search spheres on the truth tracks of real events.

Per event, the truth tracks prepared as the model was trained are run through the model;
every t1 / t2 prediction records whether the true hit is inside, the search volume, the
event's hits inside (k-d tree) and, with a density map, the expected hits. Figures are
means over all predictions, and per event.

See docs/model.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..data.cache import PrepSettings
from ..data.dataset import pad_tracks
from ..data.filters import TrackFilter
from ..data.tracks import event_tracks
from ..errors import CheckpointError, ConfigError, DataError
from ..events import Event
from ..io.event_files import EVENT_FILES
from ..io.trackml import available_parts, list_events, read_event
from ..model.checkpoint import LoadedModel, load_checkpoint
from ..model.density import DensityMap, hits_in_sphere, sphere_volume

__all__ = ["prep_settings_from_meta", "sphere_figures", "validate_checkpoint"]

_TARGETS = ("t1", "t2")


def _only_volumes(event: Event, volumes: Sequence[int]) -> Event:
    keep = np.isin(event.hits["volume_id"].to_numpy(), np.asarray(list(volumes), dtype=np.int64))
    hits = event.hits[keep].reset_index(drop=True)
    truth = None if event.truth is None else event.truth[keep].reset_index(drop=True)
    return event.with_parts(hits=hits, truth=truth)


def prep_settings_from_meta(meta: dict[str, Any]) -> PrepSettings:
    """The data preparation a checkpoint was trained with (defaults for older checkpoints)."""
    data = meta.get("data") or {}
    try:
        return PrepSettings(
            apply_blacklists=bool(data.get("apply_blacklists", True)),
            drop_repeated_layers=bool(data.get("drop_repeated_layers", True)),
            repeated_layer_keep=str(data.get("repeated_layer_keep", "first")),
        )
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint meta has an invalid data preparation ({exc})") from None


@torch.no_grad()
def sphere_figures(
    loaded: LoadedModel,
    coords_mm: np.ndarray,
    offsets: np.ndarray,
    event_points_mm: np.ndarray,
    density: DensityMap | None = None,
    batch_size: int = 4096,
) -> dict[str, dict[str, np.ndarray]]:
    """Per-prediction arrays (``inside``, ``hits``, ``volume``, ``radius``, ``expected``) for t1/t2.

    ``coords_mm`` ``(n_hits, D)`` and ``offsets`` hold the tracks (mm); ``event_points_mm``
    ``(N, 3)`` are all hits of the event, searched with one k-d tree.
    """
    model, normalizer = loaded.model, loaded.normalizer
    if model.input_dim != coords_mm.shape[1]:
        raise CheckpointError(
            f"the checkpoint's model reads {model.input_dim} coordinates, "
            f"the tracks have {coords_mm.shape[1]}"
        )
    coords = np.ascontiguousarray(normalizer.to_model(coords_mm), dtype=np.float32)
    tree = cKDTree(np.asarray(event_points_mm, dtype=np.float64)) if len(event_points_mm) else None
    out: dict[str, dict[str, list[np.ndarray]]] = {
        t: {k: [] for k in ("inside", "hits", "volume", "radius", "expected", "step")}
        for t in _TARGETS
    }
    n_tracks = len(offsets) - 1
    for lo in range(0, n_tracks, batch_size):
        index = np.arange(lo, min(lo + batch_size, n_tracks))
        batch = pad_tracks(coords, offsets, index)
        pred = model(batch.inputs)
        parts = {
            "t1": (pred.t1_center, pred.t1_radius, batch.targets_t1, batch.mask_t1),
            "t2": (pred.t2_center, pred.t2_radius, batch.targets_t2, batch.mask_t2),
        }
        for target, (center, radius, _truth, mask) in parts.items():
            c = normalizer.to_mm(center[mask].double().numpy())
            r = normalizer.radius_to_mm(radius[mask].double().numpy())
            # The true hit in mm from the source array (no float32 round trip).
            rows = np.nonzero(mask.numpy())
            step = rows[1] + (1 if target == "t1" else 2)
            y = coords_mm[offsets[index[rows[0]]] + step]
            d = np.linalg.norm(c - y, axis=1)
            if c.shape[1] == 3:
                hits = (
                    hits_in_sphere(event_points_mm, c, r, tree=tree)
                    if tree is not None
                    else np.zeros(len(c), dtype=np.int64)
                )
            else:
                hits = np.full(len(c), -1, dtype=np.int64)
            volume = sphere_volume(r)
            expected = density.density_at(c) * volume if density is not None else np.zeros(len(c))
            acc = out[target]
            acc["inside"].append(d <= r)
            acc["hits"].append(hits)
            acc["volume"].append(volume)
            acc["radius"].append(r)
            acc["expected"].append(expected)
            acc["step"].append(rows[1])
    return {
        t: {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts_.items()}
        for t, parts_ in out.items()
    }


def _mean_or_nan(a: np.ndarray, n: int) -> float:
    """Mean of ``a``, or NaN when the target has no predictions (``n == 0``)."""
    return float(np.mean(a)) if n else float("nan")


def _summary(
    figures: dict[str, dict[str, np.ndarray]], n_tracks: int, density: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"n_tracks": int(n_tracks)}
    for target in _TARGETS:
        f = figures[target]
        n = len(f["inside"])
        out[f"n_predictions_{target}"] = n
        mean = partial(_mean_or_nan, n=n)
        out[f"{target}_efficiency"] = mean(f["inside"])
        out[f"{target}_hits_in_sphere"] = mean(f["hits"])
        out[f"{target}_volume_mm3"] = mean(f["volume"])
        out[f"{target}_radius_mm_mean"] = mean(f["radius"])
        out[f"{target}_radius_mm_median"] = float(np.median(f["radius"])) if n else float("nan")
        if density:
            out[f"{target}_expected_hits"] = mean(f["expected"])
    return out


def validate_checkpoint(
    checkpoint: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    *,
    min_pt: float = 1.0,
    min_hits: int = 3,
    density_map: str | os.PathLike[str] | None = None,
    volumes: Sequence[int] | None = None,
    batch_size: int = 4096,
) -> dict[str, Any]:
    """The sphere figures of ``checkpoint`` on the events of ``data_dir`` (see docs/model.md).

    ``volumes`` keeps only the hits of these TrackML volume ids (tracks and counted hits
    alike), e.g. ``(8, 13, 17)`` to look at the barrel of full events the way the
    ``event1000-barrel`` samples were cut.
    """
    if not (np.isfinite(min_pt) and min_pt >= 0):
        raise ConfigError(f"--min-pt must be a number >= 0, got {min_pt}")
    if isinstance(min_hits, bool) or min_hits < 2:
        raise ConfigError(f"--min-hits must be an integer >= 2, got {min_hits}")
    loaded = load_checkpoint(checkpoint)
    if loaded.model.input_dim != 3:
        raise CheckpointError(
            f"{checkpoint}: the model reads {loaded.model.input_dim}-d hits; validation "
            "reads TrackML events of (x, y, z) hits"
        )
    prep = prep_settings_from_meta(loaded.meta)
    dims = [int(d) for d in (loaded.meta.get("data") or {}).get("dims", [0, 1, 2])]
    density = DensityMap.load(density_map) if density_map is not None else None
    prefixes = list_events(data_dir)
    if not prefixes:
        raise DataError(f"no TrackML events ({EVENT_FILES}) in directory", file=str(data_dir))
    selection = TrackFilter(min_hits=min_hits, min_pt=min_pt)
    totals: dict[str, dict[str, list[np.ndarray]]] = {t: {} for t in _TARGETS}
    per_event: list[dict[str, Any]] = []
    n_tracks = 0
    for prefix in prefixes:
        parts = available_parts(prefix)
        missing = [p for p in ("truth", "particles") if p not in parts]
        if missing:
            raise DataError(
                f"event has no {' or '.join(missing)} file: validation needs truth",
                file=str(prefix),
            )
        wanted = tuple(
            p
            for p in parts
            if p in ("hits", "truth", "particles", "blacklist_hits", "blacklist_particles")
        )
        event = read_event(prefix, parts=wanted)
        if volumes is not None:
            event = _only_volumes(event, volumes)
        tracks = selection.apply(
            prep.apply(event_tracks(event, apply_blacklists=prep.apply_blacklists))
        )
        figures = sphere_figures(
            loaded,
            tracks.coords[:, dims].astype(np.float64),
            tracks.offsets,
            event.positions(),
            density=density,
            batch_size=batch_size,
        )
        n_tracks += tracks.n_tracks
        summary = _summary(figures, tracks.n_tracks, density is not None)
        summary.update({"event_id": event.event_id, "n_hits": event.n_hits})
        per_event.append(summary)
        for target in _TARGETS:
            for key, values in figures[target].items():
                totals[target].setdefault(key, []).append(values)
    merged = {t: {k: np.concatenate(v) for k, v in parts.items()} for t, parts in totals.items()}
    result = _summary(merged, n_tracks, density is not None)
    result.update(
        {
            "checkpoint": str(checkpoint),
            "data_dir": str(data_dir),
            "min_pt": float(min_pt),
            "min_hits": int(min_hits),
            "n_events": len(prefixes),
            "volumes": None if volumes is None else [int(v) for v in volumes],
            "t1_radius_scale": float(loaded.model.t1_radius_scale),
            "t2_radius_scale": float(loaded.model.t2_radius_scale),
            "events": per_event,
        }
    )
    if n_tracks == 0:
        raise DataError(
            f"no track with pT >= {min_pt} GeV and at least {min_hits} hits in the events",
            file=str(data_dir),
        )
    return result
