"""A learned track-quality score: the probability that a built track is a fake.

A logistic regression on what the builder knows of each track (its length, the model's
costs, holes, helix-fit residuals, double hits), fitted on simulated events with truth
(``tracknet quality``) and applied by the builder (``BuildConfig.quality_model``).

See docs/selection-and-fits.md (Track quality).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io.atomic import write_text_atomic

__all__ = [
    "FEATURES",
    "SCATTERING_GEV",
    "QualityModel",
    "candidate_table",
    "fit_quality",
    "load_quality",
    "quality_for",
    "save_quality",
    "track_features",
]

FORMAT = "tracknet-track-quality"
VERSION = 2
#: Longest track length the score distinguishes (longer tracks count as this long).
_LONG = 12.0
#: Momentum (GeV) below which multiple scattering dominates the fit figures: true tracks'
#: rms and chi2 grow about as ``1 + (SCATTERING_GEV / p)^2`` (simulated full events:
#: their 95th percentiles at 0.4, 1.2 and 4 GeV, against those above 5 GeV).
SCATTERING_GEV = 0.8
_MOMENTUM_RANGE = (0.05, 100.0)  # GeV: the momentum features clip to it


def _momentum(t: pd.DataFrame) -> np.ndarray:
    p = t["fit_momentum_gev"].to_numpy(float)
    return np.clip(np.where(np.isfinite(p), p, _MOMENTUM_RANGE[1]), *_MOMENTUM_RANGE)


def _scattering(t: pd.DataFrame) -> np.ndarray:
    return 1.0 + (SCATTERING_GEV / _momentum(t)) ** 2


def _features() -> dict[str, Any]:
    return {
        "candidate_hits": lambda t: np.minimum(t["n_candidate_hits"].to_numpy(float), _LONG),
        "mean_cost": lambda t: t["mean_cost"].to_numpy(float),
        "misses": lambda t: t["misses"].to_numpy(float),
        "fit_rms_mm": lambda t: t["fit_rms_mm"].to_numpy(float),
        "log_chi2_z": lambda t: np.log1p(t["chi2_z"].to_numpy(float)),
        "double_fraction": lambda t: (
            t["n_double_hits"].to_numpy(float) / np.maximum(t["n_hits"].to_numpy(float), 1.0)
        ),
        "log_momentum": lambda t: np.log(_momentum(t)),
        "log_scaled_rms": lambda t: np.log(
            t["fit_rms_mm"].to_numpy(float) / np.sqrt(_scattering(t)) + 1e-3
        ),
        "log_scaled_chi2_z": lambda t: np.log1p(t["chi2_z"].to_numpy(float) / _scattering(t)),
    }


#: The features, in order: each a column (or a function of columns) of the builder's
#: track table (:class:`~tracknet.building.pipeline.BuildResult` ``tracks``).
FEATURES: tuple[str, ...] = tuple(_features())


def candidate_table(candidates: Any, fit: Any) -> pd.DataFrame:
    """The columns :data:`FEATURES` read, for a stage's candidates
    (:class:`~tracknet.building.builder.Candidates`) and their fit
    (:class:`~tracknet.building.fit.FitQuality`): a candidate has no double hits yet."""
    n_hits = candidates.n_hits.astype(np.int64)
    momentum = fit.momentum_gev if fit.momentum_gev is not None else np.full(len(n_hits), np.nan)
    return pd.DataFrame(
        {
            "n_hits": n_hits,
            "n_candidate_hits": n_hits,
            "mean_cost": candidates.mean_cost(),
            "misses": candidates.misses,
            "fit_rms_mm": fit.rms_mm,
            "chi2_z": fit.chi2_z,
            "fit_momentum_gev": momentum,
            "n_double_hits": np.zeros(len(n_hits), dtype=np.int64),
        }
    )


def track_features(tracks: pd.DataFrame) -> np.ndarray:
    """``(T, F)`` float64 features of the tracks of a build's track table."""
    functions = _features()
    columns = [functions[name](tracks) for name in FEATURES]
    x = np.column_stack(columns) if len(tracks) else np.zeros((0, len(FEATURES)))
    return np.where(np.isfinite(x), x, 0.0)


@dataclass(frozen=True)
class QualityModel:
    """Logistic-regression weights (``bias`` then one per feature of :data:`FEATURES`)
    for tracks of ``algorithm``; ``meta`` records how it was fitted."""

    algorithm: str
    weights: tuple[float, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def fake_probability(self, tracks: pd.DataFrame) -> np.ndarray:
        """The probability that each track is a fake (float64 ``(T,)``)."""
        x = track_features(tracks)
        w = np.asarray(self.weights, dtype=np.float64)
        logit = w[0] + x @ w[1:]
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0)))
        return probability

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this score alone to ``path`` (see :func:`save_quality`)."""
        return save_quality(path, [self])


def save_quality(path: str | os.PathLike[str], models: Iterable[QualityModel]) -> Path:
    """Write the scores of one or more algorithms to one JSON file, atomically."""
    scores = {m.algorithm: {"weights": list(m.weights), "meta": dict(m.meta)} for m in models}
    record = {"format": FORMAT, "version": VERSION, "features": list(FEATURES), "scores": scores}
    target = Path(path)
    write_text_atomic(target, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return target


def fit_quality(
    tables: Iterable[pd.DataFrame],
    fakes: Iterable[np.ndarray],
    algorithm: str,
    *,
    l2: float = 1e-3,
    meta: Mapping[str, Any] | None = None,
) -> QualityModel:
    """Fit the score on track tables and their fake labels (bool per track), by Newton's
    method on the L2-regularised log-likelihood."""
    parts = [track_features(t) for t in tables]
    labels = [np.asarray(f, dtype=np.float64) for f in fakes]
    x = np.concatenate(parts) if parts else np.zeros((0, len(FEATURES)))
    y = np.concatenate(labels) if labels else np.zeros(0)
    if len(x) != len(y):
        raise ConfigError(f"track quality: {len(x)} tracks for {len(y)} labels")
    if len(y) == 0 or y.min() == y.max():
        raise ConfigError(
            "track quality needs both fake and true tracks to fit, "
            f"got {int(y.sum())} fakes among {len(y)} tracks"
        )
    # Standardise for a well-conditioned fit, then fold the scaling into the weights.
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z = np.column_stack([np.ones(len(x)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    penalty = l2 * len(y) * np.eye(len(w))
    penalty[0, 0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50.0, 50.0)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1.0 - p))[:, None]).T @ z + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    slopes = w[1:] / std
    bias = w[0] - float(slopes @ mean)
    record = {"n_tracks": len(y), "n_fakes": int(y.sum()), **dict(meta or {})}
    return QualityModel(algorithm, (float(bias), *map(float, slopes)), record)


def load_quality(path: str | os.PathLike[str]) -> dict[str, QualityModel]:
    """The scores of a file written by :func:`save_quality`, by algorithm; a file that is
    not one is one :class:`~tracknet.errors.ConfigError` line."""
    where = f"track quality {path}"
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where}: not a readable JSON file ({exc.__class__.__name__})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a track-quality file (format {FORMAT!r})")
    if record.get("version") != VERSION:
        raise ConfigError(
            f"{where}: version {record.get('version')!r}, this TrackNET reads {VERSION}"
        )
    if record.get("features") != list(FEATURES):
        raise ConfigError(
            f"{where}: features {record.get('features')!r}, expected {list(FEATURES)}"
        )
    scores = record.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise ConfigError(f"{where}: scores must map an algorithm to its weights")
    out: dict[str, QualityModel] = {}
    for algorithm, entry in scores.items():
        weights = entry.get("weights") if isinstance(entry, dict) else None
        if (
            not isinstance(weights, list)
            or len(weights) != len(FEATURES) + 1
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in weights
            )
        ):
            raise ConfigError(
                f"{where}: weights of {algorithm!r} must be {len(FEATURES) + 1} finite numbers"
            )
        meta = entry.get("meta", {})
        out[algorithm] = QualityModel(
            algorithm, tuple(float(v) for v in weights), meta if isinstance(meta, dict) else {}
        )
    return out


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int, size: int) -> dict[str, QualityModel]:
    return load_quality(path)


def quality_for(path: str | os.PathLike[str], algorithm: str) -> QualityModel:
    """The score of ``algorithm`` in the file at ``path`` (one line if it has none), read
    once while the file is unchanged (a build asks for it once per event)."""
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        scores = load_quality(source)  # the one-line error of a missing file
    else:
        scores = _cached(str(source.resolve()), stat.st_mtime_ns, stat.st_size)
    if algorithm not in scores:
        raise ConfigError(
            f"track quality {path} holds no score for {algorithm!r} tracks "
            f"(it was fitted on {sorted(scores)})"
        )
    return scores[algorithm]
