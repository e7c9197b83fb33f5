"""Derive the compact TrackML layer and ring tables from the real ``detectors.csv``.

Developer tool, run once; the package itself only reads the tables it writes:

* ``trackml_layers.csv``: one row per (volume, layer): kind (barrel / endcap), technology,
  reference surface (cylinder radius or disk z), active envelope, barrel module grid
  (staves in phi, rings in z, staggered radii, tilt), module size, silicon thickness,
  pitch and the assumed material budget;
* ``trackml_rings.csv``: one row per end-cap ring: module centre radius, modules in phi,
  the z offsets of the modules (a repeating pattern), the trapezoid and the real module
  ids in phi order.

From these two tables :mod:`tracknet.simulation.geometry` rebuilds all 18,728 modules
(centre, orientation, size, real ``module_id``). This script checks that the rebuilt
modules match ``detectors.csv`` (centres to 0.01 mm, axes to 1e-4) before writing.

Usage::

    python -m tracknet.simulation.make_geometry_table /path/to/detectors.csv [--out DIR]

Units: mm.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

__all__ = [
    "BARREL_VOLUMES",
    "MATERIAL_X0",
    "TECHNOLOGY",
    "check_reconstruction",
    "derive_layer_tables",
    "main",
]

#: The barrel volumes; all others are end-caps.
BARREL_VOLUMES: tuple[int, ...] = (8, 13, 17)
#: Detector technology of each volume.
TECHNOLOGY: dict[int, str] = {
    7: "pixel",
    8: "pixel",
    9: "pixel",
    12: "short_strip",
    13: "short_strip",
    14: "short_strip",
    16: "long_strip",
    17: "long_strip",
    18: "long_strip",
}
#: Assumed material of one layer (modules, services, supports) in radiation lengths at
#: normal incidence. ``detectors.csv`` gives only the silicon thickness (0.15 / 0.25 /
#: 0.35 mm, i.e. 0.16 / 0.27 / 0.37 % X0); the totals below are typical of the
#: TrackML/ATLAS-ITk-like layout and are an assumption, scaled by
#: ``SimulationConfig.material_scale``.
MATERIAL_X0: dict[str, float] = {"pixel": 0.015, "short_strip": 0.025, "long_strip": 0.03}


def _down(value: float) -> float:
    """Round an envelope's lower bound outwards (to 1e-3 mm)."""
    return float(np.floor(value * 1000.0) / 1000.0)


def _up(value: float) -> float:
    """Round an envelope's upper bound outwards (to 1e-3 mm)."""
    return float(np.ceil(value * 1000.0) / 1000.0)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _phi0(n_phi: int | np.ndarray) -> np.ndarray:
    """Phi of the first module centre: the real layout starts at -pi + pi / n_phi."""
    return -np.pi + np.pi / np.asarray(n_phi, dtype=np.float64)


def _barrel_row(volume: int, layer: int, mods: pd.DataFrame) -> dict[str, object]:
    mods = mods.sort_values("module_id")
    z_centres = np.sort(mods["cz"].round(3).unique())
    n_z = len(z_centres)
    n_phi = len(mods) // n_z
    if n_phi * n_z != len(mods):
        raise ValueError(f"volume {volume} layer {layer}: modules do not form a phi x z grid")
    index = mods["module_id"].to_numpy() - 1
    iz = index // n_phi
    r = np.hypot(mods["cx"].to_numpy(), mods["cy"].to_numpy())
    phi = np.arctan2(mods["cy"].to_numpy(), mods["cx"].to_numpy())
    normal_phi = np.arctan2(mods["rot_yw"].to_numpy(), mods["rot_xw"].to_numpy())
    tilt = float(np.mean(_wrap(normal_phi - phi)))
    r_even = float(np.mean(r[iz % 2 == 0]))
    r_odd = float(np.mean(r[iz % 2 == 1]))
    z_pitch = float(np.mean(np.diff(z_centres)))
    hu = float(mods["module_maxhu"].iloc[0])
    hv = float(mods["module_hv"].iloc[0])
    # Envelope: the radii a flat, tilted module reaches across its width.
    # In the frame where a module centre lies on the x axis, the module plane point at
    # local u is centre + u * (-sin(tilt), cos(tilt)).
    u = np.linspace(-hu, hu, 201)
    r_all = np.concatenate(
        [np.hypot(rc - u * np.sin(tilt), u * np.cos(tilt)) for rc in (r_even, r_odd)]
    )
    return {
        "volume_id": volume,
        "layer_id": layer,
        "kind": "barrel",
        "technology": TECHNOLOGY[volume],
        "r_ref": round(0.5 * (r_even + r_odd), 4),
        "z_ref": 0.0,
        "r_min": _down(r_all.min()),
        "r_max": _up(r_all.max()),
        "z_min": _down(z_centres[0] - hv),
        "z_max": _up(z_centres[-1] + hv),
        "n_phi": n_phi,
        "n_z": n_z,
        "z_first": round(float(z_centres[0]), 4),
        "z_pitch": round(z_pitch, 4),
        "r_even": round(r_even, 4),
        "r_odd": round(r_odd, 4),
        "tilt_deg": round(float(np.degrees(tilt)), 5),
        "hu_min": hu,
        "hu_max": hu,
        "hv": hv,
        "n_modules": len(mods),
        "thickness": float(mods["module_t"].iloc[0]),
        "pitch_u": float(mods["pitch_u"].iloc[0]),
        "pitch_v": float(mods["pitch_v"].iloc[0]),
        "x_over_x0": MATERIAL_X0[TECHNOLOGY[volume]],
    }


def _endcap_rows(
    volume: int, layer: int, mods: pd.DataFrame
) -> tuple[dict[str, object], list[dict[str, object]]]:
    r = np.hypot(mods["cx"].to_numpy(), mods["cy"].to_numpy())
    phi = np.arctan2(mods["cy"].to_numpy(), mods["cx"].to_numpy())
    z = mods["cz"].to_numpy()
    z_ref = 0.5 * (z.min() + z.max())
    ring_key = np.round(r, 0)
    rings: list[dict[str, object]] = []
    r_lo, r_hi = np.inf, -np.inf
    for ring, key in enumerate(np.unique(ring_key)):
        sel = ring_key == key
        n_phi = int(sel.sum())
        iphi = np.round((phi[sel] - _phi0(n_phi)) / (2 * np.pi / n_phi)).astype(np.int64) % n_phi
        if len(np.unique(iphi)) != n_phi:
            raise ValueError(
                f"volume {volume} layer {layer} ring {ring}: phi positions are not regular"
            )
        order = np.argsort(iphi)
        dz = (z[sel] - z_ref)[order]
        # The z offsets repeat with a short period (2 or 4 modules).
        for period in (1, 2, 4, 8):
            if n_phi % period == 0 and np.allclose(
                dz, np.tile(dz[:period], n_phi // period), atol=1e-3
            ):
                break
        else:
            raise ValueError(f"volume {volume} layer {layer} ring {ring}: no periodic z pattern")
        ring_mods = mods.iloc[np.flatnonzero(sel)[order]]
        hu_min = float(ring_mods["module_minhu"].iloc[0])
        hu_max = float(ring_mods["module_maxhu"].iloc[0])
        hv = float(ring_mods["module_hv"].iloc[0])
        r_centre = float(np.mean(r[sel]))
        r_lo = min(r_lo, r_centre - hv)
        r_hi = max(r_hi, float(np.hypot(r_centre + hv, hu_max)))
        rings.append(
            {
                "volume_id": volume,
                "layer_id": layer,
                "ring": ring,
                "r_centre": round(r_centre, 4),
                "n_phi": n_phi,
                "z_offsets": " ".join(f"{v:.3f}" for v in dz[:period]),
                "hu_min": hu_min,
                "hu_max": hu_max,
                "hv": hv,
                "module_ids": " ".join(str(int(m)) for m in ring_mods["module_id"]),
            }
        )
    layer_row = {
        "volume_id": volume,
        "layer_id": layer,
        "kind": "endcap",
        "technology": TECHNOLOGY[volume],
        "r_ref": np.nan,
        "z_ref": round(float(z_ref), 4),
        "r_min": _down(r_lo),
        "r_max": _up(r_hi),
        "z_min": _down(z.min()),
        "z_max": _up(z.max()),
        "n_phi": 0,
        "n_z": 0,
        "z_first": np.nan,
        "z_pitch": np.nan,
        "r_even": np.nan,
        "r_odd": np.nan,
        "tilt_deg": np.nan,
        "hu_min": float(mods["module_minhu"].min()),
        "hu_max": float(mods["module_maxhu"].max()),
        "hv": float(mods["module_hv"].max()),
        "n_modules": len(mods),
        "thickness": float(mods["module_t"].iloc[0]),
        "pitch_u": float(mods["pitch_u"].iloc[0]),
        "pitch_v": float(mods["pitch_v"].iloc[0]),
        "x_over_x0": MATERIAL_X0[TECHNOLOGY[volume]],
    }
    return layer_row, rings


def derive_layer_tables(detectors: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The layer table and the end-cap ring table of a TrackML ``detectors`` frame."""
    layer_rows: list[dict[str, object]] = []
    ring_rows: list[dict[str, object]] = []
    for key, mods in detectors.groupby(["volume_id", "layer_id"], sort=True):
        # pandas-stubs type a group key as Hashable; grouped by two int columns it is a pair.
        volume, layer = (int(k) for k in cast("tuple[int, int]", key))
        if volume not in TECHNOLOGY:
            raise ValueError(f"unknown volume {volume}")
        if volume in BARREL_VOLUMES:
            layer_rows.append(_barrel_row(volume, layer, mods))
        else:
            row, rings = _endcap_rows(volume, layer, mods)
            layer_rows.append(row)
            ring_rows.extend(rings)
    return pd.DataFrame(layer_rows), pd.DataFrame(ring_rows)


def check_reconstruction(
    detectors: pd.DataFrame, layers: pd.DataFrame, rings: pd.DataFrame
) -> dict[str, float]:
    """Rebuild every module from the tables and compare with ``detectors``.

    Returns the largest deviations: ``centre_mm`` and ``axis`` (1 - |cos| of the module
    normal). Raises ``ValueError`` if a module id is missing or duplicated.
    """
    from tracknet.simulation.geometry import build_modules

    modules = build_modules(layers, rings)
    rebuilt = pd.DataFrame(
        {
            "volume_id": modules.volume_id,
            "layer_id": modules.layer_id,
            "module_id": modules.module_id,
            "x": modules.centre[:, 0],
            "y": modules.centre[:, 1],
            "z": modules.centre[:, 2],
            "wx": modules.w_axis[:, 0],
            "wy": modules.w_axis[:, 1],
            "wz": modules.w_axis[:, 2],
        }
    )
    if rebuilt.duplicated(["volume_id", "layer_id", "module_id"]).any():
        raise ValueError("rebuilt modules have duplicated ids")
    merged = detectors.merge(
        rebuilt, on=["volume_id", "layer_id", "module_id"], how="outer", indicator=True
    )
    if (merged["_merge"] != "both").any():
        raise ValueError(f"{int((merged['_merge'] != 'both').sum())} modules are not matched")
    centre = np.sqrt(
        (merged["cx"] - merged["x"]) ** 2
        + (merged["cy"] - merged["y"]) ** 2
        + (merged["cz"] - merged["z"]) ** 2
    )
    cos = np.abs(
        merged["rot_xw"] * merged["wx"]
        + merged["rot_yw"] * merged["wy"]
        + merged["rot_zw"] * merged["wz"]
    )
    return {"centre_mm": float(centre.max()), "axis": float((1 - cos).max())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detectors", type=Path, help="TrackML detectors.csv")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "data_files",
        help="output directory (default: the package's data_files)",
    )
    args = parser.parse_args(argv)
    detectors = pd.read_csv(args.detectors)
    layers, rings = derive_layer_tables(detectors)
    deviations = check_reconstruction(detectors, layers, rings)
    if deviations["centre_mm"] > 0.01 or deviations["axis"] > 1e-4:
        print(f"reconstruction too far from detectors.csv: {deviations}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    layers.to_csv(args.out / "trackml_layers.csv", index=False)
    rings.to_csv(args.out / "trackml_rings.csv", index=False)
    print(
        f"{len(layers)} layers, {len(rings)} end-cap rings, "
        f"{int(layers['n_modules'].sum())} modules; {deviations}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
