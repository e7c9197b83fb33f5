"""The TrackML detector geometry, rebuilt from the embedded layer and ring tables.

Rebuilds every module (centre, local axes u / v / w, half sizes, real ``module_id``) from
``data_files/trackml_layers.csv`` and ``trackml_rings.csv``, and the reference cylinders
(barrel layers) and planes (end-cap z) the propagation steps through. Units: mm.

See ``docs/simulation.md`` (Geometry).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from tracknet.errors import ConfigError

__all__ = [
    "ALL_VOLUMES",
    "BARREL_VOLUMES",
    "ModuleArrays",
    "TrackMLGeometry",
    "build_modules",
    "load_geometry",
    "read_layer_tables",
    "trackml_layer_ids",
]

#: Every volume of the TrackML detector that the simulation knows.
ALL_VOLUMES: tuple[int, ...] = (7, 8, 9, 12, 13, 14, 16, 17, 18)
#: The barrel volumes (pixel, short strip, long strip).
BARREL_VOLUMES: tuple[int, ...] = (8, 13, 17)

_PACKAGE = "tracknet"
_DATA_DIR = "data_files"
_LAYERS_FILE = "trackml_layers.csv"
_RINGS_FILE = "trackml_rings.csv"


@dataclass(frozen=True)
class ModuleArrays:
    """All modules of a geometry as flat arrays, ordered by (layer row, module_id).

    ``centre``, ``u_axis``, ``v_axis``, ``w_axis`` are ``(n, 3)``; a point of the module
    plane is ``centre + u * u_axis + v * v_axis`` with ``|v| <= hv`` and
    ``|u| <= hu_min + (hu_max - hu_min) * (v + hv) / (2 hv)``.
    """

    volume_id: np.ndarray
    layer_id: np.ndarray
    module_id: np.ndarray
    layer_index: np.ndarray
    centre: np.ndarray
    u_axis: np.ndarray
    v_axis: np.ndarray
    w_axis: np.ndarray
    hu_min: np.ndarray
    hu_max: np.ndarray
    hv: np.ndarray

    def __len__(self) -> int:
        return len(self.module_id)

    @property
    def area(self) -> np.ndarray:
        """Module area in mm^2."""
        area: np.ndarray = (self.hu_min + self.hu_max) * 2.0 * self.hv
        return area


def _phi0(n_phi: float) -> float:
    return -np.pi + np.pi / n_phi


def _barrel_modules(row: pd.Series) -> dict[str, np.ndarray]:
    n_phi, n_z = int(row["n_phi"]), int(row["n_z"])
    index = np.arange(n_phi * n_z)
    iz, iphi = np.divmod(index, n_phi)
    phi = _phi0(np.float64(n_phi)) + 2.0 * np.pi * iphi / n_phi
    r_centre = np.where(iz % 2 == 0, row["r_even"], row["r_odd"])
    z = row["z_first"] + iz * row["z_pitch"]
    normal_phi = phi + np.radians(row["tilt_deg"])
    zeros, ones = np.zeros_like(phi), np.ones_like(phi)
    return {
        "module_id": index + 1,
        "centre": np.column_stack([r_centre * np.cos(phi), r_centre * np.sin(phi), z]),
        "u_axis": np.column_stack([-np.sin(normal_phi), np.cos(normal_phi), zeros]),
        "v_axis": np.column_stack([zeros, zeros, ones]),
        "w_axis": np.column_stack([np.cos(normal_phi), np.sin(normal_phi), zeros]),
        "hu_min": np.full(len(index), float(row["hu_min"])),
        "hu_max": np.full(len(index), float(row["hu_max"])),
        "hv": np.full(len(index), float(row["hv"])),
    }


def _ring_modules(ring: pd.Series, z_ref: float) -> dict[str, np.ndarray]:
    n_phi = int(ring["n_phi"])
    iphi = np.arange(n_phi)
    phi = _phi0(np.float64(n_phi)) + 2.0 * np.pi * iphi / n_phi
    offsets = np.array([float(v) for v in str(ring["z_offsets"]).split()])
    ids = np.array([int(v) for v in str(ring["module_ids"]).split()], dtype=np.int64)
    if len(ids) != n_phi or n_phi % len(offsets):
        raise ValueError(f"ring table row {ring.to_dict()} is inconsistent")
    z = z_ref + np.tile(offsets, n_phi // len(offsets))
    r_centre = float(ring["r_centre"])
    zeros, ones = np.zeros_like(phi), np.ones_like(phi)
    return {
        "module_id": ids,
        "centre": np.column_stack([r_centre * np.cos(phi), r_centre * np.sin(phi), z]),
        "u_axis": np.column_stack([-np.sin(phi), np.cos(phi), zeros]),
        "v_axis": np.column_stack([np.cos(phi), np.sin(phi), zeros]),
        "w_axis": np.column_stack([zeros, zeros, ones]),
        "hu_min": np.full(n_phi, float(ring["hu_min"])),
        "hu_max": np.full(n_phi, float(ring["hu_max"])),
        "hv": np.full(n_phi, float(ring["hv"])),
    }


def build_modules(layers: pd.DataFrame, rings: pd.DataFrame) -> ModuleArrays:
    """Every module of ``layers`` (rings for the end-caps), ordered by layer row and id."""
    parts: list[dict[str, np.ndarray]] = []
    for index, (_, row) in enumerate(layers.iterrows()):
        if row["kind"] == "barrel":
            mods = _barrel_modules(row)
        else:
            sel = (rings["volume_id"] == row["volume_id"]) & (rings["layer_id"] == row["layer_id"])
            ring_parts = [
                _ring_modules(ring, float(row["z_ref"])) for _, ring in rings[sel].iterrows()
            ]
            mods = {key: np.concatenate([p[key] for p in ring_parts]) for key in ring_parts[0]}
            order = np.argsort(mods["module_id"], kind="stable")
            mods = {key: value[order] for key, value in mods.items()}
        n = len(mods["module_id"])
        if not np.array_equal(mods["module_id"], np.arange(1, n + 1)):
            raise ValueError(
                f"volume {row['volume_id']} layer {row['layer_id']}: module ids are not 1..{n}"
            )
        mods["volume_id"] = np.full(n, int(row["volume_id"]))
        mods["layer_id"] = np.full(n, int(row["layer_id"]))
        mods["layer_index"] = np.full(n, index)
        parts.append(mods)
    cat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return ModuleArrays(
        volume_id=cat["volume_id"].astype(np.int32),
        layer_id=cat["layer_id"].astype(np.int32),
        module_id=cat["module_id"].astype(np.int32),
        layer_index=cat["layer_index"].astype(np.int64),
        centre=cat["centre"],
        u_axis=cat["u_axis"],
        v_axis=cat["v_axis"],
        w_axis=cat["w_axis"],
        hu_min=cat["hu_min"],
        hu_max=cat["hu_max"],
        hv=cat["hv"],
    )


@dataclass(frozen=True)
class TrackMLGeometry:
    """The detector of a simulation: layers, modules and propagation surfaces.

    Per layer (row ``i`` of ``layers``, ordered by volume and layer): ``module_offset[i]``
    is the index of its first module in ``modules`` (module ``m`` of layer ``i`` is
    ``module_offset[i] + m - 1``). End-cap rings: ``ring_layer``, ``ring_r_centre``,
    ``ring_n_phi``, ``ring_hv`` and ``ring_start``, the start of the ring's modules (in
    phi order) in ``ring_modules``; the rings of layer ``i`` are
    ``layer_ring_first[i] .. + layer_ring_count[i]`` (ascending radius).

    Surfaces: ``cylinder_layer`` / ``cylinder_r`` (barrel layers, ascending r) and
    ``plane_z`` with ``plane_layers`` / ``plane_r_min`` / ``plane_r_max`` (``(P, K)``,
    padded with layer ``-1``). The detector ends at ``r_world`` and ``|z| = z_world``.
    """

    layers: pd.DataFrame
    modules: ModuleArrays
    module_offset: np.ndarray
    ring_layer: np.ndarray
    ring_r_centre: np.ndarray
    ring_n_phi: np.ndarray
    ring_hv: np.ndarray
    ring_start: np.ndarray
    ring_modules: np.ndarray
    layer_ring_first: np.ndarray
    layer_ring_count: np.ndarray
    cylinder_layer: np.ndarray
    cylinder_r: np.ndarray
    plane_z: np.ndarray
    plane_layers: np.ndarray
    plane_r_min: np.ndarray
    plane_r_max: np.ndarray
    r_world: float
    z_world: float

    @property
    def volumes(self) -> tuple[int, ...]:
        return tuple(int(v) for v in np.unique(self.layers["volume_id"]))

    def layer_column(self, name: str) -> np.ndarray:
        """One column of the layer table as an array (row ``i`` = layer index ``i``)."""
        return self.layers[name].to_numpy()

    @classmethod
    def from_tables(cls, layers: pd.DataFrame, rings: pd.DataFrame) -> TrackMLGeometry:
        layers = layers.sort_values(["volume_id", "layer_id"]).reset_index(drop=True)
        if layers.empty:
            raise ConfigError("the detector has no layers")
        modules = build_modules(layers, rings)
        counts = np.bincount(modules.layer_index, minlength=len(layers))
        module_offset = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)

        ring_layer, ring_r, ring_n, ring_hv, ring_start, ring_mods = [], [], [], [], [], []
        start = 0
        # After reset_index the row position is the layer index.
        for index, (_, row) in enumerate(layers.iterrows()):
            if row["kind"] != "endcap":
                continue
            sel = (rings["volume_id"] == row["volume_id"]) & (rings["layer_id"] == row["layer_id"])
            for _, ring in rings[sel].sort_values("r_centre").iterrows():
                ids = np.array([int(v) for v in str(ring["module_ids"]).split()], dtype=np.int64)
                ring_layer.append(index)
                ring_r.append(float(ring["r_centre"]))
                ring_n.append(len(ids))
                ring_hv.append(float(ring["hv"]))
                ring_start.append(start)
                ring_mods.append(module_offset[index] + ids - 1)
                start += len(ids)

        ring_layer_arr = np.asarray(ring_layer, dtype=np.int64)
        ring_count = np.bincount(ring_layer_arr, minlength=len(layers)).astype(np.int64)
        ring_first = np.concatenate([[0], np.cumsum(ring_count)[:-1]]).astype(np.int64)

        barrel = layers.index[layers["kind"] == "barrel"].to_numpy()
        barrel = barrel[np.argsort(layers.loc[barrel, "r_ref"].to_numpy(), kind="stable")]
        endcap = layers[layers["kind"] == "endcap"]
        plane_z = np.unique(endcap["z_ref"].to_numpy())
        members = [endcap.index[endcap["z_ref"] == z].to_numpy() for z in plane_z]
        width = max((len(m) for m in members), default=1)
        plane_layers = np.full((len(plane_z), width), -1, dtype=np.int64)
        plane_r_min = np.full((len(plane_z), width), np.inf)
        plane_r_max = np.full((len(plane_z), width), -np.inf)
        for p, member in enumerate(members):
            plane_layers[p, : len(member)] = member
            plane_r_min[p, : len(member)] = layers.loc[member, "r_min"].to_numpy()
            plane_r_max[p, : len(member)] = layers.loc[member, "r_max"].to_numpy()
        return cls(
            layers=layers,
            modules=modules,
            module_offset=module_offset,
            ring_layer=ring_layer_arr,
            ring_r_centre=np.asarray(ring_r, dtype=np.float64),
            ring_n_phi=np.asarray(ring_n, dtype=np.int64),
            ring_hv=np.asarray(ring_hv, dtype=np.float64),
            ring_start=np.asarray(ring_start, dtype=np.int64),
            ring_modules=np.concatenate(ring_mods) if ring_mods else np.zeros(0, dtype=np.int64),
            layer_ring_first=ring_first,
            layer_ring_count=ring_count,
            cylinder_layer=barrel.astype(np.int64),
            cylinder_r=layers.loc[barrel, "r_ref"].to_numpy(dtype=np.float64),
            plane_z=plane_z.astype(np.float64),
            plane_layers=plane_layers,
            plane_r_min=plane_r_min,
            plane_r_max=plane_r_max,
            r_world=float(layers["r_max"].max()) + 5.0,
            z_world=float(np.abs(layers[["z_min", "z_max"]].to_numpy()).max()) + 5.0,
        )


def _freeze(obj: object) -> None:
    """Make the arrays of a (cached, shared) geometry read-only."""
    for value in vars(obj).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
        elif isinstance(value, ModuleArrays):
            _freeze(value)


def read_layer_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded layer and ring tables, as shipped in ``tracknet.data_files``."""
    files = resources.files(_PACKAGE).joinpath(_DATA_DIR)
    with files.joinpath(_LAYERS_FILE).open("r") as handle:
        layers = pd.read_csv(handle)
    with files.joinpath(_RINGS_FILE).open("r") as handle:
        rings = pd.read_csv(handle, dtype={"z_offsets": str, "module_ids": str})
    return layers, rings


@lru_cache(maxsize=1)
def trackml_layer_ids() -> frozenset[tuple[int, int]]:
    """Every ``(volume_id, layer_id)`` of the TrackML detector (the embedded layer table)."""
    layers, _ = read_layer_tables()
    return frozenset(
        zip(layers["volume_id"].astype(int), layers["layer_id"].astype(int), strict=True)
    )


def load_geometry(volumes: tuple[int, ...] = ALL_VOLUMES) -> TrackMLGeometry:
    """The TrackML geometry restricted to ``volumes`` (cached; its arrays are read-only)."""
    wanted = tuple(sorted({int(v) for v in volumes}))
    unknown = sorted(set(wanted) - set(ALL_VOLUMES))
    if unknown:
        raise ConfigError(f"unknown TrackML volume id(s) {unknown}; known: {list(ALL_VOLUMES)}")
    return _cached_geometry(wanted)


@lru_cache(maxsize=16)
def _cached_geometry(volumes: tuple[int, ...]) -> TrackMLGeometry:
    layers, rings = read_layer_tables()
    layers = layers[layers["volume_id"].isin(volumes)]
    rings = rings[rings["volume_id"].isin(volumes)]
    geometry = TrackMLGeometry.from_tables(layers, rings)
    _freeze(geometry)
    return geometry
