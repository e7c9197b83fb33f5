"""Hit density of the detector on a voxel grid, and exact hit counts inside spheres.

:class:`DensityMap`: hits per mm^3 per event on a grid of cubic voxels, stored as one
``.npz`` with the keys :data:`DENSITY_MAP_KEYS`; density times a sphere's volume is the
expected number of hits a search returns. :func:`hits_in_sphere` counts actual hits
inside spheres of individual radii with a k-d tree.

See ``docs/model.md`` (Density map).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import overload

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..errors import ConfigError, DataError
from ..events import Event
from ..io.arrays import read_npz
from ..io.atomic import atomic_path

__all__ = [
    "DEFAULT_VOXEL_SIZE_MM",
    "DENSITY_MAP_FORMAT_VERSION",
    "DENSITY_MAP_KEYS",
    "MAX_VOXELS",
    "DensityMap",
    "hits_in_sphere",
    "sphere_volume",
]

DENSITY_MAP_FORMAT_VERSION = 1
#: The keys of a density-map file: the writer writes exactly these, the reader requires them.
DENSITY_MAP_KEYS: tuple[str, ...] = (
    "format_version",  # int64 scalar
    "density_per_mm3",  # float32 (nx, ny, nz): mean hits per event per mm^3 in each voxel
    "origin_mm",  # float64 (3,): lower corner of voxel (0, 0, 0), mm
    "voxel_size_mm",  # float64 scalar: edge of the cubic voxels, mm
    "n_events",  # int64 scalar: events averaged over
)
#: Default voxel edge (mm): 20 mm keeps a full TrackML detector near 3 million voxels.
DEFAULT_VOXEL_SIZE_MM = 20.0
#: Largest grid accepted (voxels), a guard against a voxel size given in the wrong unit.
MAX_VOXELS = 200_000_000


@overload
def sphere_volume(radius: torch.Tensor) -> torch.Tensor: ...
@overload
def sphere_volume(radius: np.ndarray) -> np.ndarray: ...
@overload
def sphere_volume(radius: float) -> float: ...
def sphere_volume(radius: np.ndarray | torch.Tensor | float) -> np.ndarray | torch.Tensor | float:
    """``4/3 pi r^3`` in the cube of the radius' unit (an array, a tensor or a number)."""
    volume: np.ndarray | torch.Tensor | float = (4.0 / 3.0) * np.pi * radius**3
    return volume


class DensityMap:
    """Mean hit density (hits per mm^3 per event) on a Cartesian voxel grid in mm.

    Voxel ``(i, j, k)`` covers ``origin_mm + voxel_size_mm * [i, i+1) x [j, j+1) x [k, k+1)``.
    Points outside the grid have density 0.
    """

    def __init__(
        self,
        density_per_mm3: np.ndarray,
        origin_mm: np.ndarray,
        voxel_size_mm: float,
        n_events: int,
    ) -> None:
        density = np.ascontiguousarray(density_per_mm3, dtype=np.float32)
        origin = np.asarray(origin_mm, dtype=np.float64).reshape(-1)
        if density.ndim != 3:
            raise DataError(f"density map must be 3-dimensional, got shape {density.shape}")
        if origin.shape != (3,) or not np.all(np.isfinite(origin)):
            raise DataError(f"density map origin must be 3 finite numbers, got {origin_mm!r}")
        voxel = float(voxel_size_mm)
        if not np.isfinite(voxel) or voxel <= 0:
            raise DataError(f"density map voxel size must be > 0 mm, got {voxel_size_mm!r}")
        if not np.all(np.isfinite(density)) or np.any(density < 0):
            raise DataError("density map values must be finite and >= 0")
        self.density_per_mm3 = density
        self.origin_mm = origin
        self.voxel_size_mm = voxel
        self.n_events = int(n_events)
        self._torch_cache: dict[
            tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]
        ] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        nx, ny, nz = self.density_per_mm3.shape
        return int(nx), int(ny), int(nz)

    @property
    def voxel_volume_mm3(self) -> float:
        return self.voxel_size_mm**3

    # ------------------------------------------------------------------ building
    @classmethod
    def from_points(
        cls,
        point_sets: Iterable[np.ndarray],
        voxel_size_mm: float = DEFAULT_VOXEL_SIZE_MM,
        bounds_mm: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None,
    ) -> DensityMap:
        """Average the hits of several events, each an ``(n_i, 3)`` array of positions in mm.

        The grid spans ``bounds_mm`` (``(low, high)`` corners) or, when None, the bounding
        box of all points; points outside given bounds are not counted.
        """
        voxel = float(voxel_size_mm)
        if not np.isfinite(voxel) or voxel <= 0:
            raise ConfigError(f"density map voxel_size_mm must be > 0, got {voxel_size_mm!r}")
        sets = [np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in point_sets]
        if not sets:
            raise DataError("a density map needs at least one event")
        if bounds_mm is None:
            if sum(len(p) for p in sets) == 0:
                raise DataError("a density map needs at least one hit")
            low = np.min([p.min(axis=0) for p in sets if len(p)], axis=0)
            high = np.max([p.max(axis=0) for p in sets if len(p)], axis=0)
        else:
            low, high = (np.asarray(b, dtype=np.float64) for b in bounds_mm)
            if low.shape != (3,) or high.shape != (3,) or np.any(high <= low):
                raise ConfigError(
                    "density map bounds must be (low, high) corners with high > low, "
                    f"got {bounds_mm!r}"
                )
        # The size is checked in floating point first: a tiny voxel overflows int64.
        edges = np.floor((high - low) / voxel) + 1
        if float(np.prod(edges)) > MAX_VOXELS:
            raise ConfigError(
                f"density map of {float(np.prod(edges)):.3g} voxels exceeds {MAX_VOXELS}; "
                "use a larger voxel_size_mm"
            )
        shape = edges.astype(np.int64).clip(min=1)
        n_voxels = int(np.prod(shape))
        counts = np.zeros(n_voxels, dtype=np.float64)
        for points in sets:
            idx = np.floor((points - low) / voxel).astype(np.int64)
            inside = np.all((idx >= 0) & (idx < shape), axis=1)
            flat = np.ravel_multi_index(tuple(idx[inside].T), tuple(shape))
            counts += np.bincount(flat, minlength=n_voxels)
        density = counts.reshape(tuple(shape)) / (len(sets) * voxel**3)
        return cls(density, low, voxel, len(sets))

    @classmethod
    def from_events(
        cls,
        events: Iterable[Event],
        voxel_size_mm: float = DEFAULT_VOXEL_SIZE_MM,
        bounds_mm: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None,
    ) -> DensityMap:
        """:meth:`from_points` over the hits (all of them, noise included) of ``events``."""
        return cls.from_points((e.positions() for e in events), voxel_size_mm, bounds_mm)

    # ------------------------------------------------------------------ lookup
    @overload
    def density_at(self, points_mm: torch.Tensor) -> torch.Tensor: ...
    @overload
    def density_at(self, points_mm: np.ndarray) -> np.ndarray: ...
    def density_at(self, points_mm: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Density (hits per mm^3) at points ``(..., 3)`` in mm; 0 outside the grid.

        A numpy array in gives float64 numpy out; a tensor in gives a tensor of its dtype
        on its device.
        """
        if isinstance(points_mm, torch.Tensor):
            return self._density_at_torch(points_mm)
        points = np.asarray(points_mm, dtype=np.float64)
        idx = np.floor((points - self.origin_mm) / self.voxel_size_mm).astype(np.int64)
        shape = np.array(self.shape)
        inside = np.all((idx >= 0) & (idx < shape), axis=-1)
        idx = np.clip(idx, 0, shape - 1)
        values = self.density_per_mm3[idx[..., 0], idx[..., 1], idx[..., 2]].astype(np.float64)
        return np.where(inside, values, 0.0)

    def _density_at_torch(self, points: torch.Tensor) -> torch.Tensor:
        dtype = points.dtype if points.is_floating_point() else torch.float32
        key = (points.device, dtype)
        if key not in self._torch_cache:
            self._torch_cache[key] = (
                torch.from_numpy(self.density_per_mm3.reshape(-1)).to(
                    device=points.device, dtype=dtype
                ),
                torch.from_numpy(self.origin_mm).to(device=points.device, dtype=torch.float64),
            )
        flat_density, origin = self._torch_cache[key]
        nx, ny, nz = self.shape
        idx = torch.floor((points.to(torch.float64) - origin) / self.voxel_size_mm).to(torch.int64)
        upper = torch.tensor([nx, ny, nz], device=points.device)
        inside = ((idx >= 0) & (idx < upper)).all(dim=-1)
        idx = torch.minimum(idx.clamp(min=0), upper - 1)
        flat = (idx[..., 0] * ny + idx[..., 1]) * nz + idx[..., 2]
        values = flat_density[flat]
        return torch.where(inside, values, torch.zeros((), dtype=dtype, device=points.device))

    def expected_hits(
        self, centers_mm: np.ndarray | torch.Tensor, radii_mm: np.ndarray | torch.Tensor
    ) -> np.ndarray | torch.Tensor:
        """Density at each centre times the sphere volume: expected hits per event in it."""
        return self.density_at(centers_mm) * sphere_volume(radii_mm)

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one compressed ``.npz`` with exactly :data:`DENSITY_MAP_KEYS`, atomically."""
        path = Path(path)
        arrays = {
            "format_version": np.array(DENSITY_MAP_FORMAT_VERSION, dtype=np.int64),
            "density_per_mm3": self.density_per_mm3,
            "origin_mm": self.origin_mm,
            "voxel_size_mm": np.array(self.voxel_size_mm, dtype=np.float64),
            "n_events": np.array(self.n_events, dtype=np.int64),
        }
        if tuple(arrays) != DENSITY_MAP_KEYS:  # the writer and the key list cannot drift apart
            raise AssertionError("density map writer out of step with DENSITY_MAP_KEYS")
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            # Typed as Callable[..., None]: the stubs would match **arrays to allow_pickle.
            savez: Callable[..., None] = np.savez_compressed
            savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DensityMap:
        """Read a file written by :meth:`save`; a missing key raises ``DataError`` naming it."""
        path = Path(path)
        values = read_npz(path, "density map")
        for key in DENSITY_MAP_KEYS:
            if key not in values:
                raise DataError(f"density map file lacks key '{key}'", file=str(path))
        try:
            version = int(values["format_version"])
        except (TypeError, ValueError):
            raise DataError("density map format_version is not a number", file=str(path)) from None
        if version != DENSITY_MAP_FORMAT_VERSION:
            raise DataError(
                f"density map format version {version}, "
                f"this code reads {DENSITY_MAP_FORMAT_VERSION}",
                file=str(path),
            )
        try:
            return cls(
                values["density_per_mm3"],
                values["origin_mm"],
                float(values["voxel_size_mm"]),
                int(values["n_events"]),
            )
        except (DataError, TypeError, ValueError) as exc:
            raise DataError(f"bad density map: {exc}", file=str(path)) from None


def hits_in_sphere(
    points_mm: np.ndarray,
    centers_mm: np.ndarray,
    radii_mm: np.ndarray,
    tree: cKDTree | None = None,
) -> np.ndarray:
    """How many of ``points_mm`` ``(N, 3)`` lie within ``radii_mm`` ``(M,)`` of
    ``centers_mm`` ``(M, 3)``.

    A point at distance exactly ``r`` counts. Pass a prebuilt ``tree`` (``cKDTree`` of
    the points) to reuse it across calls. Returns int64 ``(M,)``.
    """
    centers = np.asarray(centers_mm, dtype=np.float64).reshape(-1, 3)
    radii = np.asarray(radii_mm, dtype=np.float64).reshape(-1)
    if radii.shape != (len(centers),):
        raise ValueError(f"{len(centers)} centres but {radii.shape[0]} radii")
    if tree is None:
        points = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
        if len(points) == 0:
            return np.zeros(len(centers), dtype=np.int64)
        tree = cKDTree(points)
    if len(centers) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = tree.query_ball_point(centers, r=radii, return_length=True)
    return np.asarray(counts, dtype=np.int64)
