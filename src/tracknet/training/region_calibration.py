"""Region calibration: per-region radius scales and caps that buy efficiency where hits are cheap.

Every region of transverse radius and ``|z|`` gets its own scale and cap for t1 and t2,
chosen on validation tracks to maximise true hits inside minus ``mu`` times the hits the
spheres return, with ``mu`` bisected to meet the requested efficiency. The cost is
counted on cost events with a k-d tree.

See docs/training-data.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..data.cache import FlatTracks
from ..data.dataset import pad_tracks
from ..data.normalize import Normalizer
from ..errors import ConfigError
from ..model.step_ahead import StepAheadTrackNet
from ..schema import Settings, setting
from .settings import RegionCalibrationSettings

__all__ = [
    "NEAREST_HITS",
    "SCALE_GRID",
    "RegionPredictions",
    "RegionSettings",
    "calibrate_regions",
    "fit_region_tables",
    "hit_counts",
    "predict_regions",
]

#: Candidate scale factors (geometric, 0.1 to 10).
SCALE_GRID = np.exp(np.linspace(math.log(0.1), math.log(10.0), 37))
#: Nearest cost hits looked up per centre.
NEAREST_HITS = 256
_TARGETS = ("t1", "t2")


_CONFIG = RegionCalibrationSettings()


@dataclass(frozen=True)
class RegionSettings(Settings):
    """What the region calibration aims at and how it cuts the detector (mm): the fields of
    :class:`~tracknet.training.settings.RegionCalibrationSettings` that the fit uses, with
    their values and checks taken from there, and the sampling ``seed``."""

    label = "training.region_calibration"

    t1_efficiency: float = _CONFIG.t1_efficiency
    t2_efficiency: float = _CONFIG.t2_efficiency
    r_edges_mm: tuple[float, ...] = _CONFIG.r_edges_mm
    z_edges_mm: tuple[float, ...] = _CONFIG.z_edges_mm
    caps_mm: tuple[float, ...] = setting(_CONFIG.caps_mm, allow_inf=True)
    max_tracks: int = _CONFIG.max_tracks
    seed: int = 0

    def validate(self) -> None:
        # The same checks as the configuration's, whatever the caller passed.
        values = {name: getattr(self, name) for name in self.field_names() if name != "seed"}
        RegionCalibrationSettings().with_overrides(values)

    @property
    def n_regions(self) -> int:
        return (len(self.r_edges_mm) + 1) * (len(self.z_edges_mm) + 1)

    def region_of(self, centres_mm: np.ndarray) -> np.ndarray:
        """Region index (``r`` major) of centres ``(n, 3)`` in mm, as the model computes it."""
        rho = np.hypot(centres_mm[:, 0], centres_mm[:, 1])
        index = (
            (rho[:, None] >= np.asarray(self.r_edges_mm)[None, :]).sum(1)
            if self.r_edges_mm
            else np.zeros(len(rho), np.int64)
        )
        if self.z_edges_mm:
            iz = (np.abs(centres_mm[:, 2])[:, None] >= np.asarray(self.z_edges_mm)[None, :]).sum(1)
            index = index * (len(self.z_edges_mm) + 1) + iz
        return index.astype(np.int64)


@dataclass
class RegionPredictions:
    """Per prediction of one target: centre (mm), raw radius (mm), miss distance (mm)."""

    centre: np.ndarray
    radius: np.ndarray
    distance: np.ndarray


@torch.no_grad()
def predict_regions(
    model: StepAheadTrackNet,
    tracks: FlatTracks,
    normalizer: Normalizer,
    max_tracks: int,
    seed: int = 0,
    batch_size: int = 4096,
) -> dict[str, RegionPredictions]:
    """Raw (uncalibrated) predictions of ``model`` on up to ``max_tracks`` tracks.

    The tracks are a sample drawn with ``seed``.
    """
    n = tracks.n_tracks
    index = np.arange(n)
    if n > max_tracks:
        index = np.sort(np.random.default_rng(seed).choice(n, max_tracks, replace=False))
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {t: [] for t in _TARGETS}
    model = model.eval()
    for lo in range(0, len(index), batch_size):
        batch = pad_tracks(tracks.coords, tracks.offsets, index[lo : lo + batch_size])
        pred = model(batch.inputs)
        for target, (c, r, y, m) in {
            "t1": (pred.t1_center, pred.t1_radius, batch.targets_t1, batch.mask_t1),
            "t2": (pred.t2_center, pred.t2_radius, batch.targets_t2, batch.mask_t2),
        }.items():
            centre = normalizer.to_mm(c[m].double().numpy())
            truth = normalizer.to_mm(y[m].double().numpy())
            radius = normalizer.radius_to_mm(r[m].double().numpy())
            parts[target].append((centre, radius, np.linalg.norm(centre - truth, axis=1)))
    return {
        t: RegionPredictions(
            *(
                np.concatenate([p[i] for p in v]) if v else np.zeros((0, 3) if i == 0 else 0)
                for i in range(3)
            )
        )
        for t, v in parts.items()
    }


def hit_counts(tree: cKDTree, n_events: int, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Cost hits per event within ``radii`` ``(n, G)`` of ``centres`` ``(n, 3)``.

    Returns ``(n, G)`` floats.
    """
    n = len(centres)
    if n == 0:
        return np.zeros(radii.shape)
    k = min(NEAREST_HITS, tree.n)
    dist, _ = tree.query(centres, k=k)
    dist = np.asarray(dist, dtype=np.float64).reshape(n, k)
    finite_cap = float(np.max(dist[np.isfinite(dist)], initial=1.0)) + 1.0
    # One global sorted array: row i is shifted by i * offset, so a single
    # searchsorted counts all rows.
    offset = 2.0 * max(finite_cap, float(np.max(radii[np.isfinite(radii)], initial=1.0))) + 1.0
    shifted = (np.minimum(dist, offset / 2) + np.arange(n)[:, None] * offset).ravel()
    query = np.minimum(radii, offset / 2 - 1e-6) + np.arange(n)[:, None] * offset
    counts = (
        np.searchsorted(shifted, query.ravel(), side="right").reshape(n, -1)
        - np.arange(n)[:, None] * k
    )
    counts = counts.astype(np.float64)
    beyond = radii > dist[:, -1:]
    if np.any(beyond):
        # Past the K-th nearest hit, grow the count with the sphere's area.
        grown = k * (radii / dist[:, -1:]) ** 2
        counts = np.where(beyond, grown, counts)
    return counts / max(n_events, 1)


def fit_region_tables(
    preds: RegionPredictions,
    tree: cKDTree,
    n_events: int,
    settings: RegionSettings,
    target_efficiency: float,
) -> dict[str, Any]:
    """Scales and caps per region for one target; the achieved efficiency and hits per sphere."""
    n_regions = settings.n_regions
    caps = np.asarray(settings.caps_mm, dtype=np.float64)
    mesh_s, mesh_c = np.meshgrid(SCALE_GRID, caps, indexing="ij")
    grid_s, grid_c = mesh_s.ravel(), mesh_c.ravel()
    n = len(preds.distance)
    if n == 0:
        return {
            "scales": [1.0] * n_regions,
            "caps": [math.inf] * n_regions,
            "efficiency": float("nan"),
            "hits_per_sphere": float("nan"),
            "n_predictions": 0,
        }
    radii = np.minimum(preds.radius[:, None] * grid_s[None, :], grid_c[None, :])  # (n, G)
    inside = (preds.distance[:, None] <= radii).astype(np.float64)
    cost = hit_counts(tree, n_events, preds.centre, radii)
    region = settings.region_of(preds.centre)
    g = len(grid_s)
    flat = (region[:, None] * g + np.arange(g)[None, :]).ravel()
    gain = np.bincount(flat, weights=inside.ravel(), minlength=n_regions * g).reshape(n_regions, g)
    spend = np.bincount(flat, weights=cost.ravel(), minlength=n_regions * g).reshape(n_regions, g)

    def choose(mu: float) -> tuple[np.ndarray, float]:
        # Ties (e.g. an empty region) go to the cheapest, then the earliest grid point.
        score = gain - mu * spend - 1e-9 * spend
        pick = np.argmax(score, axis=1)
        return pick, float(gain[np.arange(n_regions), pick].sum()) / n

    lo, hi = 0.0, 1.0
    while choose(hi)[1] >= target_efficiency and hi < 1e6:
        hi *= 10.0
    if choose(0.0)[1] < target_efficiency:
        best = 0.0  # unreachable: the largest efficiency the grid allows
    else:
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if choose(mid)[1] >= target_efficiency:
                lo = mid
            else:
                hi = mid
        best = lo
    pick, efficiency = choose(best)
    rows = np.arange(n_regions)
    return {
        "scales": [float(v) for v in grid_s[pick]],
        "caps": [float(v) for v in grid_c[pick]],
        "efficiency": efficiency,
        "hits_per_sphere": float(spend[rows, pick].sum()) / n,
        "n_predictions": int(n),
        "predictions_per_region": [int(v) for v in np.bincount(region, minlength=n_regions)],
    }


def calibrate_regions(
    model: StepAheadTrackNet,
    tracks: FlatTracks,
    normalizer: Normalizer,
    cost_points_mm: np.ndarray,
    n_cost_events: int,
    settings: RegionSettings,
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """The ``radius_regions`` table (model units) for ``model`` and a report of what it achieves.

    ``model`` must predict raw radii (global scales 1, no caps, no regions).
    """
    if len(cost_points_mm) == 0:
        raise ConfigError("region calibration needs cost events with hits")
    tree = cKDTree(np.asarray(cost_points_mm, dtype=np.float64))
    preds = predict_regions(model, tracks, normalizer, settings.max_tracks, settings.seed)
    report: dict[str, Any] = {
        "method": "region Lagrangian (tracknet.training.region_calibration)",
        "r_edges_mm": list(settings.r_edges_mm),
        "z_edges_mm": list(settings.z_edges_mm),
        "cost_events": int(n_cost_events),
    }
    table: dict[str, list[float]] = {
        "r_edges": [float(normalizer.radius_to_model(e)) for e in settings.r_edges_mm],
        "z_edges": [float(normalizer.radius_to_model(e)) for e in settings.z_edges_mm],
    }
    for target, want in (("t1", settings.t1_efficiency), ("t2", settings.t2_efficiency)):
        fit = fit_region_tables(preds[target], tree, n_cost_events, settings, want)
        table[f"{target}_scales"] = fit["scales"]
        table[f"{target}_caps"] = [
            float(normalizer.radius_to_model(c)) if math.isfinite(c) else math.inf
            for c in fit["caps"]
        ]
        report[target] = {
            "efficiency_target": want,
            "efficiency": fit["efficiency"],
            "cost_hits_per_sphere": fit["hits_per_sphere"],
            "n_predictions": fit["n_predictions"],
            "scales": fit["scales"],
            "caps_mm": [c if math.isfinite(c) else None for c in fit["caps"]],
        }
    return table, report
