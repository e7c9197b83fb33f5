"""Particle gun following the real TrackML event: pile-up primaries and secondaries.

The distributions are the embedded tables of ``data_files/trackml_distributions.json``
(written by :mod:`tracknet.simulation.make_distribution_tables` from the real event
000001000):

* **primaries** come from pile-up vertices (Gaussian spread in x, y and z, a mean number
  of particles per vertex); eta from the real eta quantiles, log10(pT) from the real
  quantiles of its |eta| bin, phi uniform, the charge sign from the real fraction of
  positive particles in the pT bin;
* **secondaries** (born in the material) take their vertex (r, z) from the real
  2D histogram (uniform within a bin, phi uniform), their pT from the real quantiles
  and their direction relative to the vertex position (eta and phi differences) from
  the real quantile tables.

Ranges (pT, |eta|) are applied by sampling the truncated distributions exactly (inverse
CDF between the CDF values of the range ends), not by rejection.

Particle ids: ``vertex_number * 2**32 + rank``; primaries share their vertex number,
every secondary has its own; the table is sorted by particle id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from tracknet.errors import ConfigError
from tracknet.events import PARTICLES_SCHEMA
from tracknet.simulation.config import SimulationConfig

__all__ = [
    "ParticleTables",
    "load_particle_tables",
    "sample_particles",
    "sample_truncated",
]

_DISTRIBUTIONS_FILE = "trackml_distributions.json"
_ID_SHIFT = np.int64(2**32)
#: The columns the samplers return, with their dtypes.
_SAMPLED: dict[str, type] = {
    "particle_id": np.int64,
    "vx": np.float64,
    "vy": np.float64,
    "vz": np.float64,
    "pt": np.float64,
    "eta": np.float64,
    "phi": np.float64,
    "q": np.int32,
}


@dataclass(frozen=True)
class ParticleTables:
    """The embedded particle and noise tables as arrays (see module doc)."""

    levels: np.ndarray
    primary_eta: np.ndarray
    primary_abs_eta_edges: np.ndarray
    primary_log_pt: np.ndarray  # (n |eta| bins, n levels)
    primary_charge_edges: np.ndarray
    primary_positive: np.ndarray
    secondary_log_pt: np.ndarray
    secondary_vertex_abs_eta_edges: np.ndarray
    secondary_delta_eta: np.ndarray  # (n vertex |eta| bins, n levels), signed to the vertex side
    secondary_delta_phi: np.ndarray
    secondary_charge_edges: np.ndarray
    secondary_positive: np.ndarray
    secondary_r_edges: np.ndarray
    secondary_z_edges: np.ndarray
    secondary_bins: np.ndarray  # (n, 3): r bin, z bin, count
    noise_volume_share: dict[int, float]
    raw: dict[str, Any]

    @property
    def pt_range(self) -> tuple[float, float]:
        """The tabulated pT range in GeV."""
        lows = [self.primary_log_pt[:, 0].min(), self.secondary_log_pt[0]]
        highs = [self.primary_log_pt[:, -1].max(), self.secondary_log_pt[-1]]
        return float(10 ** min(lows)), float(10 ** max(highs))


@lru_cache(maxsize=1)
def load_particle_tables() -> ParticleTables:
    """The embedded distribution tables (cached)."""
    path = resources.files("tracknet").joinpath("data_files", _DISTRIBUTIONS_FILE)
    raw = json.loads(path.read_text())
    part = raw["particles"]
    prim, sec = part["primary"], part["secondary"]

    def arr(values: Any) -> np.ndarray:
        out = np.asarray(values, dtype=np.float64)
        out.setflags(write=False)
        return out

    return ParticleTables(
        levels=arr(part["quantile_levels"]),
        primary_eta=arr(prim["eta_quantiles"]),
        primary_abs_eta_edges=arr(prim["abs_eta_edges"]),
        primary_log_pt=arr(prim["log10_pt_quantiles"]),
        primary_charge_edges=arr(prim["pt_charge_edges"]),
        primary_positive=arr(prim["positive_fraction"]),
        secondary_log_pt=arr(sec["log10_pt_quantiles"]),
        secondary_vertex_abs_eta_edges=arr(sec["vertex_abs_eta_edges"]),
        secondary_delta_eta=arr(sec["signed_delta_eta_quantiles"]),
        secondary_delta_phi=arr(sec["delta_phi_quantiles"]),
        secondary_charge_edges=arr(sec["pt_charge_edges"]),
        secondary_positive=arr(sec["positive_fraction"]),
        secondary_r_edges=arr(sec["vertex_r_edges"]),
        secondary_z_edges=arr(sec["vertex_z_edges"]),
        secondary_bins=np.asarray(sec["vertex_bins"], dtype=np.int64),
        noise_volume_share={int(k): float(v) for k, v in raw["noise"]["volume_share"].items()},
        raw=raw,
    )


def sample_truncated(
    levels: np.ndarray, knots: np.ndarray, low: float, high: float, u: np.ndarray
) -> np.ndarray:
    """Inverse-CDF samples of a quantile table restricted to ``[low, high]``.

    ``knots[i]`` is the quantile of probability ``levels[i]`` (piecewise-linear CDF);
    ``u`` are uniform numbers in [0, 1). If the range misses the table the samples are
    the nearest range end.
    """
    p_low = np.interp(low, knots, levels)
    p_high = np.interp(high, knots, levels)
    if p_high <= p_low:
        return np.full(np.shape(u), low if p_low >= 1.0 else high, dtype=np.float64)
    samples: np.ndarray = np.interp(p_low + np.asarray(u) * (p_high - p_low), levels, knots)
    return samples


def _charges(
    pt: np.ndarray, edges: np.ndarray, positive: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    share = positive[np.clip(np.digitize(pt, edges[1:-1]), 0, len(positive) - 1)]
    return np.where(rng.random(len(pt)) < share, 1, -1).astype(np.int32)


def _primaries(
    n: int, config: SimulationConfig, tables: ParticleTables, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], int]:
    """``n`` primaries (columns of ``_SAMPLED``) and the number of vertices used."""
    n_vertices = max(1, round(n / config.particles_per_vertex))
    vertex_xyz = np.column_stack(
        [
            rng.normal(0.0, config.vertex_sigma_xy_mm, n_vertices),
            rng.normal(0.0, config.vertex_sigma_xy_mm, n_vertices),
            rng.normal(0.0, config.vertex_sigma_z_mm, n_vertices),
        ]
    )
    vertex = np.sort(rng.integers(0, n_vertices, n))
    eta = sample_truncated(
        tables.levels, tables.primary_eta, -config.eta_max, config.eta_max, rng.random(n)
    )
    log_pt = np.empty(n)
    eta_bin = np.clip(
        np.digitize(np.abs(eta), tables.primary_abs_eta_edges[1:-1]),
        0,
        len(tables.primary_log_pt) - 1,
    )
    u = rng.random(n)
    lo, hi = np.log10(config.pt_min_gev), np.log10(config.pt_max_gev)
    for b in range(len(tables.primary_log_pt)):
        sel = eta_bin == b
        log_pt[sel] = sample_truncated(tables.levels, tables.primary_log_pt[b], lo, hi, u[sel])
    pt = 10.0**log_pt
    phi = rng.uniform(-np.pi, np.pi, n)
    q = _charges(pt, tables.primary_charge_edges, tables.primary_positive, rng)
    # rank within the vertex (vertex is sorted)
    starts = np.searchsorted(vertex, vertex, side="left")
    rank = np.arange(n) - starts + 1
    columns = {
        "particle_id": (vertex.astype(np.int64) + 1) * _ID_SHIFT + rank,
        "vx": vertex_xyz[vertex, 0],
        "vy": vertex_xyz[vertex, 1],
        "vz": vertex_xyz[vertex, 2],
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "q": q,
    }
    return columns, n_vertices


def _secondaries(
    n: int,
    first_vertex: int,
    config: SimulationConfig,
    tables: ParticleTables,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """``n`` secondaries (columns of ``_SAMPLED``), vertex numbers from ``first_vertex``."""
    bins = tables.secondary_bins
    chosen = rng.choice(len(bins), size=n, p=bins[:, 2] / bins[:, 2].sum())
    r_lo = tables.secondary_r_edges[bins[chosen, 0]]
    r_hi = tables.secondary_r_edges[bins[chosen, 0] + 1]
    z_lo = tables.secondary_z_edges[bins[chosen, 1]]
    z_hi = tables.secondary_z_edges[bins[chosen, 1] + 1]
    vr = rng.uniform(r_lo, r_hi)
    vz = rng.uniform(z_lo, z_hi)
    phi_v = rng.uniform(-np.pi, np.pi, n)
    eta_v = np.arcsinh(vz / vr)
    # eta = eta_v + side * delta with |eta| <= eta_max: the delta table of the vertex's
    # |eta| bin, truncated per particle to the deltas that keep eta in range
    levels = tables.levels
    side = np.where(eta_v < 0, -1.0, 1.0)
    bound_a = side * (-config.eta_max - eta_v)
    bound_b = side * (config.eta_max - eta_v)
    low, high = np.minimum(bound_a, bound_b), np.maximum(bound_a, bound_b)
    v_bin = np.clip(
        np.digitize(np.abs(eta_v), tables.secondary_vertex_abs_eta_edges[1:-1]),
        0,
        len(tables.secondary_delta_eta) - 1,
    )
    u = rng.random(n)
    delta = np.zeros(n)
    for b, knots in enumerate(tables.secondary_delta_eta):
        sel = v_bin == b
        p_low = np.interp(low[sel], knots, levels)
        p_high = np.interp(high[sel], knots, levels)
        delta[sel] = np.where(
            p_high > p_low, np.interp(p_low + u[sel] * (p_high - p_low), levels, knots), 0.0
        )
    eta = np.clip(eta_v + side * delta, -config.eta_max, config.eta_max)
    phi = phi_v + sample_truncated(levels, tables.secondary_delta_phi, -np.pi, np.pi, rng.random(n))
    lo, hi = np.log10(config.pt_min_gev), np.log10(config.pt_max_gev)
    pt = 10.0 ** sample_truncated(levels, tables.secondary_log_pt, lo, hi, rng.random(n))
    q = _charges(pt, tables.secondary_charge_edges, tables.secondary_positive, rng)
    return {
        "particle_id": (np.arange(n, dtype=np.int64) + first_vertex) * _ID_SHIFT + 1,
        "vx": vr * np.cos(phi_v),
        "vy": vr * np.sin(phi_v),
        "vz": vz,
        "pt": pt,
        "eta": eta,
        "phi": (phi + np.pi) % (2 * np.pi) - np.pi,
        "q": q,
    }


def sample_particles(
    config: SimulationConfig, rng: np.random.Generator, tables: ParticleTables | None = None
) -> pd.DataFrame:
    """``config.n_particles`` particles as a particles table (``nhits`` 0), sorted by id."""
    tables = load_particle_tables() if tables is None else tables
    t_low, t_high = tables.pt_range
    if config.pt_min_gev >= t_high or config.pt_max_gev <= t_low:
        raise ConfigError(
            f"pT range [{config.pt_min_gev}, {config.pt_max_gev}] GeV misses the tabulated "
            f"spectrum [{t_low:.3g}, {t_high:.3g}] GeV"
        )
    n_secondary = int(rng.binomial(config.n_particles, config.secondary_fraction))
    n_primary = config.n_particles - n_secondary
    parts: list[dict[str, np.ndarray]] = [
        {name: np.zeros(0, dtype=dtype) for name, dtype in _SAMPLED.items()}
    ]
    first_vertex = 1
    if n_primary:
        primaries, n_vertices = _primaries(n_primary, config, tables, rng)
        first_vertex = n_vertices + 1
        parts.append(primaries)
    if n_secondary:
        parts.append(_secondaries(n_secondary, first_vertex, config, tables, rng))
    cat: dict[str, np.ndarray] = {
        name: np.concatenate([part[name] for part in parts]).astype(dtype)
        for name, dtype in _SAMPLED.items()
    }
    pt = cat["pt"]
    frame = pd.DataFrame(
        {
            "particle_id": cat["particle_id"],
            "vx": cat["vx"],
            "vy": cat["vy"],
            "vz": cat["vz"],
            "px": pt * np.cos(cat["phi"]),
            "py": pt * np.sin(cat["phi"]),
            "pz": pt * np.sinh(cat["eta"]),
            "q": cat["q"],
            "nhits": np.zeros(len(pt), dtype=np.int32),
        }
    )
    frame = frame.astype(dict(PARTICLES_SCHEMA))
    return frame.sort_values("particle_id", kind="stable").reset_index(drop=True)
