"""Tabulate the particle and noise distributions of real TrackML events.

Developer tool, run once; writes ``data_files/trackml_distributions.json``, which the
simulation reads at run time. Only summaries are stored (quantile tables and
histograms), never per-particle rows.

Inputs:

* a full particles file (``event000001000-particles.csv``, 12,263 particles): primaries
  (vertex radius below 1 mm) and secondaries (born in the material), with

  - primaries: |eta|-binned log10(pT) quantiles, eta quantiles, the fraction of positive
    charge per pT bin, the vertex spread and the number of particles per vertex;
  - secondaries: their share, a 2D histogram of the vertex (r, z) on quantile-adaptive
    bins, log10(pT) quantiles, the quantiles of eta and phi of the momentum relative to
    eta and phi of the vertex position, the positive-charge fraction per pT bin;

* a labelled event with hits and truth over the whole detector (``sample-event1``): the
  share of noise hits (``particle_id == 0``) per volume.

Usage::

    python -m tracknet.simulation.make_distribution_tables \
        PARTICLES.csv HITS.csv TRUTH.csv [--out FILE]

Units: mm, GeV.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ABS_ETA_EDGES",
    "PT_CHARGE_EDGES",
    "QUANTILE_LEVELS",
    "VERTEX_ABS_ETA_EDGES",
    "main",
    "tabulate_noise",
    "tabulate_particles",
]

#: Probability levels of every quantile table (denser in the tails).
QUANTILE_LEVELS: np.ndarray = np.unique(
    np.round(
        np.concatenate([np.linspace(0.0, 1.0, 101), [0.001, 0.002, 0.005, 0.995, 0.998, 0.999]]), 6
    )
)
#: pT bin edges (GeV) of the positive-charge fractions.
PT_CHARGE_EDGES: tuple[float, ...] = (0.0, 0.2, 0.3, 0.5, 1.0, 2.0, 1.0e6)
#: |eta| bin edges of the primary pT tables.
ABS_ETA_EDGES: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 1.0e6)
#: |eta| bin edges of the secondary vertex position for the direction tables.
VERTEX_ABS_ETA_EDGES: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 1.0e6)
#: Vertex radius (mm) below which a particle counts as primary.
PRIMARY_MAX_VR = 1.0


def _quantiles(values: np.ndarray, digits: int = 6) -> list[float]:
    q = np.quantile(np.asarray(values, dtype=np.float64), QUANTILE_LEVELS)
    # Strictly increasing knots keep the inverse-CDF interpolation well defined.
    q = np.maximum.accumulate(q)
    q = q + np.arange(len(q)) * 1e-9
    return [float(f"{v:.{digits}g}") for v in q]


def _charge_fractions(pt: np.ndarray, q: np.ndarray) -> list[float]:
    index = np.digitize(pt, PT_CHARGE_EDGES[1:-1])
    out = []
    for b in range(len(PT_CHARGE_EDGES) - 1):
        sel = index == b
        out.append(round(float(np.mean(q[sel] > 0)) if sel.any() else 0.5, 4))
    return out


def _robust_sigma(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def tabulate_particles(
    particles: pd.DataFrame, n_vr_bins: int = 25, n_vz_bins: int = 20
) -> dict[str, Any]:
    """The particle tables (see module doc) of one real particles frame."""
    px, py, pz = (particles[c].to_numpy(dtype=np.float64) for c in ("px", "py", "pz"))
    vx, vy, vz = (particles[c].to_numpy(dtype=np.float64) for c in ("vx", "vy", "vz"))
    q = particles["q"].to_numpy()
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    vr = np.hypot(vx, vy)
    primary = vr < PRIMARY_MAX_VR
    secondary = ~primary

    vertices = particles.loc[primary, ["vx", "vy", "vz"]].drop_duplicates()
    pt_tables = []
    abs_eta = np.abs(eta)
    for lo, hi in itertools.pairwise(ABS_ETA_EDGES):
        sel = primary & (abs_eta >= lo) & (abs_eta < hi)
        pt_tables.append(_quantiles(np.log10(pt[sel])))

    vr_s, vz_s = vr[secondary], vz[secondary]
    vr_edges = np.unique(np.quantile(vr_s, np.linspace(0, 1, n_vr_bins + 1)))
    vz_edges = np.unique(np.quantile(vz_s, np.linspace(0, 1, n_vz_bins + 1)))
    counts, _, _ = np.histogram2d(vr_s, vz_s, bins=[vr_edges, vz_edges])
    i_vr, i_vz = np.nonzero(counts)
    eta_v = np.arcsinh(vz_s / vr_s)
    side = np.where(eta_v < 0, -1.0, 1.0)
    signed_delta = (eta[secondary] - eta_v) * side
    v_bin = np.digitize(np.abs(eta_v), VERTEX_ABS_ETA_EDGES[1:-1])
    delta_tables = [
        _quantiles(signed_delta[v_bin == b]) for b in range(len(VERTEX_ABS_ETA_EDGES) - 1)
    ]
    phi_v = np.arctan2(vy[secondary], vx[secondary])
    dphi = (phi[secondary] - phi_v + np.pi) % (2 * np.pi) - np.pi

    return {
        "quantile_levels": [float(v) for v in QUANTILE_LEVELS],
        "n_particles": len(particles),
        "secondary_fraction": round(float(secondary.mean()), 4),
        "primary": {
            "n": int(primary.sum()),
            "n_vertices": len(vertices),
            "particles_per_vertex": round(float(primary.sum() / len(vertices)), 3),
            "vertex_sigma_xy_mm": round(
                _robust_sigma(vertices[["vx", "vy"]].to_numpy().ravel()), 5
            ),
            "vertex_sigma_z_mm": round(_robust_sigma(vertices["vz"].to_numpy()), 4),
            "eta_quantiles": _quantiles(eta[primary]),
            "abs_eta_edges": list(ABS_ETA_EDGES),
            "log10_pt_quantiles": pt_tables,
            "pt_charge_edges": list(PT_CHARGE_EDGES),
            "positive_fraction": _charge_fractions(pt[primary], q[primary]),
        },
        "secondary": {
            "n": int(secondary.sum()),
            "vertex_r_edges": [round(float(v), 3) for v in vr_edges],
            "vertex_z_edges": [round(float(v), 3) for v in vz_edges],
            "vertex_bins": [
                [int(a), int(b), int(counts[a, b])] for a, b in zip(i_vr, i_vz, strict=True)
            ],
            "log10_pt_quantiles": _quantiles(np.log10(pt[secondary])),
            "vertex_abs_eta_edges": list(VERTEX_ABS_ETA_EDGES),
            "signed_delta_eta_quantiles": delta_tables,
            "delta_phi_quantiles": _quantiles(dphi),
            "pt_charge_edges": list(PT_CHARGE_EDGES),
            "positive_fraction": _charge_fractions(pt[secondary], q[secondary]),
        },
    }


def tabulate_noise(hits: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """The share of noise hits per volume (and the noise fraction) of a labelled event."""
    merged = hits[["hit_id", "volume_id"]].merge(truth[["hit_id", "particle_id"]], on="hit_id")
    noise = merged[merged["particle_id"] == 0]
    per_volume = noise.groupby("volume_id").size()
    return {
        "noise_fraction": round(float(len(noise) / len(merged)), 4),
        "n_noise_hits": len(noise),
        "volume_share": {
            str(int(v)): round(float(c / len(noise)), 5)
            for v, c in zip(per_volume.index.to_numpy(), per_volume.to_numpy(), strict=True)
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "particles", type=Path, help="full-event particles CSV (event000001000-particles.csv)"
    )
    parser.add_argument(
        "hits", type=Path, help="hits CSV of a labelled event over the whole detector"
    )
    parser.add_argument("truth", type=Path, help="truth CSV of the same event")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "data_files" / "trackml_distributions.json",
    )
    args = parser.parse_args(argv)
    table = {
        "description": "TrackML particle and noise distributions; "
        "see tracknet.simulation.make_distribution_tables",
        "sources": {"particles": args.particles.name, "noise": [args.hits.name, args.truth.name]},
        "particles": tabulate_particles(pd.read_csv(args.particles)),
        "noise": tabulate_noise(pd.read_csv(args.hits), pd.read_csv(args.truth)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
