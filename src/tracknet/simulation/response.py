"""Detector response: which modules a crossing hits, efficiency, resolution and noise.

* :func:`intersect_modules` turns each layer crossing into module hits. The candidate
  modules are the neighbours of the crossing point (5 in phi x 4 in z for a barrel
  layer, 5 in phi per nearby ring for an end-cap disk); the exact intersection of the helix
  with each candidate's plane is found by Newton's method on the transverse path length
  (exact in one step for the end-cap planes, which are normal to z), and kept when it
  lies inside the module (rectangle or trapezoid). Overlapping modules therefore give
  the double hits of the real detector.
* :func:`smear_on_modules` moves hits in the module plane by Gaussian errors of
  ``pitch / sqrt(12)`` along the module's u and v axes (times a scale), clipped to the
  module: the measured hit stays on its module.
* :func:`sample_noise` draws noise hits uniformly over the module surfaces, with a
  share per volume taken from the real event (the strip barrels carry most of it).

Pure functions: arrays in, arrays out; randomness only from the ``rng`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracknet.simulation.geometry import TrackMLGeometry
from tracknet.simulation.helix import helix_advance
from tracknet.simulation.propagation import LayerCrossings

__all__ = [
    "ModuleHits",
    "candidate_modules",
    "intersect_modules",
    "layer_resolution",
    "noise_layer_weights",
    "sample_noise",
    "smear_on_modules",
]

#: Candidates further than this (transverse path, mm) from the crossing are ignored.
_MAX_OFFSET_MM = 100.0
#: Tolerance (mm) at the ends of a crossing's helix segment.
_SEGMENT_SLACK_MM = 1e-6
#: Margin (mm) of the first, straight-line, inside test.
_COARSE_MARGIN_MM = 2.0
_NEWTON_STEPS = 5
#: Modules tried on each side in phi: near the inner edge of the pixel disks a module
#: reaches two positions away, and so does a looper grazing a barrel layer.
_PHI_NEIGHBOURS = (-2, -1, 0, 1, 2)
#: Barrel z rings tried, relative to the ring just below the crossing: steep tracks
#: (large |cot theta|) can meet the tilted modules of the next ring.
_Z_NEIGHBOURS = (-1, 0, 1, 2)
#: Transverse path (mm) a track may run inside a barrel layer's slab of modules.
_SLAB_REACH_MM = 20.0
#: End-cap rings tried: those whose radial extent comes this close to the crossing
#: (shallow low-pT tracks move several mm in r between a disk's module planes).
_RING_MARGIN_MM = 20.0
#: Largest distance (mm) of an accepted intersection from its module plane.
_CONVERGED_MM = 1e-6


@dataclass(frozen=True)
class ModuleHits:
    """True hits on modules: ``particle`` (index), ``module`` (geometry module index),
    ``position`` and ``momentum`` ``(n, 3)`` on the helix at the module plane."""

    particle: np.ndarray
    module: np.ndarray
    position: np.ndarray
    momentum: np.ndarray

    def __len__(self) -> int:
        return len(self.particle)

    def subset(self, keep: np.ndarray) -> ModuleHits:
        return ModuleHits(
            self.particle[keep], self.module[keep], self.position[keep], self.momentum[keep]
        )


def _nearest_phi_index(phi: np.ndarray, n_phi: np.ndarray) -> np.ndarray:
    step = 2.0 * np.pi / n_phi
    index: np.ndarray = np.round((phi + np.pi - 0.5 * step) / step).astype(np.int64) % n_phi
    return index


def candidate_modules(
    crossings: LayerCrossings, geometry: TrackMLGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(crossing index, module index)`` of the modules a crossing may hit."""
    layer = crossings.layer
    barrel = geometry.layer_column("kind")[layer] == "barrel"
    phi = np.arctan2(crossings.y, crossings.x)
    out_crossing: list[np.ndarray] = []
    out_module: list[np.ndarray] = []

    ib = np.flatnonzero(barrel)
    if ib.size:
        lay = layer[ib]
        n_phi = geometry.layer_column("n_phi")[lay].astype(np.int64)
        n_z = geometry.layer_column("n_z")[lay].astype(np.int64)
        z_first = geometry.layer_column("z_first")[lay].astype(np.float64)
        z_pitch = geometry.layer_column("z_pitch")[lay].astype(np.float64)
        k0 = _nearest_phi_index(phi[ib], n_phi)
        z = crossings.z[ib]
        below = np.floor((z - z_first) / z_pitch).astype(np.int64)
        # z reach of a module ring: its half length, plus the z the track moves while
        # crossing the layer's slab of tilted modules (steep tracks)
        reach = geometry.layer_column("hv")[lay] + _COARSE_MARGIN_MM
        reach = reach + _SLAB_REACH_MM * np.abs(crossings.cot_theta[ib])
        offset = geometry.module_offset[lay]
        for dz in _Z_NEIGHBOURS:
            iz = below + dz
            valid = (iz >= 0) & (iz < n_z) & (np.abs(z - z_first - iz * z_pitch) <= reach)
            for dk in _PHI_NEIGHBOURS:
                out_crossing.append(ib[valid])
                out_module.append((offset + iz * n_phi + (k0 + dk) % n_phi)[valid])

    ie = np.flatnonzero(~barrel)
    if ie.size:
        lay = layer[ie]
        r = np.hypot(crossings.x[ie], crossings.y[ie])
        first = geometry.layer_ring_first[lay]
        count = geometry.layer_ring_count[lay]
        for j in range(int(count.max())):
            ring = np.where(j < count, first + j, 0)
            near = (j < count) & (
                np.abs(r - geometry.ring_r_centre[ring]) <= geometry.ring_hv[ring] + _RING_MARGIN_MM
            )
            n_phi = geometry.ring_n_phi[ring]
            k0 = _nearest_phi_index(phi[ie], n_phi)
            for dk in _PHI_NEIGHBOURS:
                out_crossing.append(ie[near])
                out_module.append(
                    geometry.ring_modules[geometry.ring_start[ring] + (k0 + dk) % n_phi][near]
                )

    if not out_crossing:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_crossing), np.concatenate(out_module)


def _local_uv(
    position: np.ndarray, module: np.ndarray, geometry: TrackMLGeometry
) -> tuple[np.ndarray, np.ndarray]:
    mods = geometry.modules
    d = position - mods.centre[module]
    return np.einsum("ij,ij->i", d, mods.u_axis[module]), np.einsum(
        "ij,ij->i", d, mods.v_axis[module]
    )


def _inside(
    u: np.ndarray, v: np.ndarray, module: np.ndarray, geometry: TrackMLGeometry, margin: float
) -> np.ndarray:
    mods = geometry.modules
    hv = mods.hv[module]
    hu = mods.hu_min[module] + (mods.hu_max[module] - mods.hu_min[module]) * (
        np.clip(v, -hv, hv) + hv
    ) / (2 * hv)
    inside: np.ndarray = (np.abs(v) <= hv + margin) & (np.abs(u) <= hu + margin)
    return inside


def _plane_offset(
    position: np.ndarray, direction: np.ndarray, centre: np.ndarray, normal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``f = (position - centre) . normal`` and ``f' = direction . normal`` row by row."""
    f = np.einsum("ij,ij->i", position - centre, normal)
    fp = np.einsum("ij,ij->i", direction, normal)
    return f, fp


def intersect_modules(crossings: LayerCrossings, geometry: TrackMLGeometry) -> ModuleHits:
    """The module hits of all crossings (see module doc), in crossing order.

    A hit is kept only if it lies on the helix segment of its crossing (between the
    previous and the next surface crossing of the particle), so that a module is not
    found twice from two crossings and never on the helix extended beyond its segment.
    """
    cross, module = candidate_modules(crossings, geometry)
    mods = geometry.modules
    start = np.column_stack([crossings.x, crossings.y, crossings.z])
    tangent = np.column_stack(
        [np.cos(crossings.phi), np.sin(crossings.phi), crossings.cot_theta]
    )  # d position / d L
    low_all = -np.minimum(crossings.length_before, _MAX_OFFSET_MM) - _SEGMENT_SLACK_MM
    high_all = np.minimum(crossings.length_after, _MAX_OFFSET_MM) + _SEGMENT_SLACK_MM

    # 1. straight line from the crossing to each candidate plane: cheap pre-selection
    #    (the helix departs from its tangent by rho L^2 / 2, covered by the margin)
    with np.errstate(divide="ignore", invalid="ignore"):
        f, fp = _plane_offset(
            start[cross], tangent[cross], mods.centre[module], mods.w_axis[module]
        )
        length = -f / fp
    point = start[cross] + length[:, None] * tangent[cross]
    u, v = _local_uv(point, module, geometry)
    margin = _COARSE_MARGIN_MM + 0.5 * np.abs(crossings.rho[cross]) * length * length
    coarse = (length >= low_all[cross] - _COARSE_MARGIN_MM) & (
        length <= high_all[cross] + _COARSE_MARGIN_MM
    )
    coarse &= _inside(u, v, module, geometry, margin)
    cross, module, length = cross[coarse], module[coarse], length[coarse]

    # 2. Newton's method on the helix for the survivors
    x0, y0, z0 = crossings.x[cross], crossings.y[cross], crossings.z[cross]
    phi0, cot, rho = crossings.phi[cross], crossings.cot_theta[cross], crossings.rho[cross]
    centre, normal = mods.centre[module], mods.w_axis[module]
    for _ in range(_NEWTON_STEPS):
        x, y, z, phi = helix_advance(x0, y0, z0, phi0, cot, rho, length)
        f, fp = _plane_offset(
            np.column_stack([x, y, z]),
            np.column_stack([np.cos(phi), np.sin(phi), cot]),
            centre,
            normal,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            length = length - f / fp
    x, y, z, phi = helix_advance(x0, y0, z0, phi0, cot, rho, length)
    position = np.column_stack([x, y, z])
    u, v = _local_uv(position, module, geometry)
    residual = np.abs(np.einsum("ij,ij->i", position - centre, normal))
    final = (length >= low_all[cross]) & (length <= high_all[cross])
    final &= (residual <= _CONVERGED_MM) & _inside(u, v, module, geometry, 0.0)
    cross, module, position, phi = cross[final], module[final], position[final], phi[final]
    pt, cot = crossings.pt[cross], cot[final]
    momentum = np.column_stack([pt * np.cos(phi), pt * np.sin(phi), pt * cot])
    return ModuleHits(crossings.particle[cross], module, position, momentum)


def layer_resolution(
    geometry: TrackMLGeometry, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Hit resolution (mm) along u and v per layer: ``pitch / sqrt(12) * scale``."""
    factor = scale / np.sqrt(12.0)
    return (
        geometry.layer_column("pitch_u").astype(np.float64) * factor,
        geometry.layer_column("pitch_v").astype(np.float64) * factor,
    )


def smear_on_modules(
    position: np.ndarray,
    module: np.ndarray,
    geometry: TrackMLGeometry,
    scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Measured positions: true ``position`` smeared along the module axes, kept on the module."""
    mods = geometry.modules
    sigma_u, sigma_v = layer_resolution(geometry, scale)
    layer = mods.layer_index[module]
    u, v = _local_uv(position, module, geometry)
    noise = rng.standard_normal((2, len(module)))
    hv = mods.hv[module]
    v = np.clip(v + noise[1] * sigma_v[layer], -hv, hv)
    hu = mods.hu_min[module] + (mods.hu_max[module] - mods.hu_min[module]) * (v + hv) / (2 * hv)
    u = np.clip(u + noise[0] * sigma_u[layer], -hu, hu)
    measured: np.ndarray = (
        mods.centre[module] + u[:, None] * mods.u_axis[module] + v[:, None] * mods.v_axis[module]
    )
    return measured


def noise_layer_weights(geometry: TrackMLGeometry, volume_share: dict[int, float]) -> np.ndarray:
    """Share of the noise hits per layer: the volume's share split by layer area.

    Volumes absent from ``volume_share`` get the mean share density of the others.
    """
    area = np.bincount(
        geometry.modules.layer_index, weights=geometry.modules.area, minlength=len(geometry.layers)
    )
    volume = geometry.layer_column("volume_id").astype(np.int64)
    volumes = np.unique(volume)
    volume_area = {int(v): float(area[volume == v].sum()) for v in volumes}
    known = [int(v) for v in volumes if int(v) in volume_share]
    mean_density = (
        sum(volume_share[v] for v in known) / sum(volume_area[v] for v in known) if known else 1.0
    )
    share = np.array(
        [volume_share.get(int(v), mean_density * volume_area[int(v)]) for v in volume],
        dtype=np.float64,
    )
    weights = share * area / np.array([volume_area[int(v)] for v in volume])
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def sample_noise(
    n: int, geometry: TrackMLGeometry, layer_weights: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noise hits: ``(module index, position (n, 3))``, uniform on module surfaces.

    Layers are drawn with ``layer_weights``, modules within a layer by area.
    """
    mods = geometry.modules
    area = mods.area
    layer_area = np.bincount(mods.layer_index, weights=area, minlength=len(geometry.layers))
    p = layer_weights[mods.layer_index] * area / layer_area[mods.layer_index]
    module = rng.choice(len(mods), size=n, p=p / p.sum())
    module.sort()
    w0, w1, hv = mods.hu_min[module], mods.hu_max[module], mods.hv[module]
    f = rng.random(n)
    # v: density proportional to the trapezoid width, inverse CDF of a linear density
    slope = w1 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(slope > 1e-12, (-w0 + np.sqrt(w0 * w0 + slope * f * (w0 + w1))) / slope, f)
    v = (2.0 * s - 1.0) * hv
    hu = w0 + slope * s
    u = rng.uniform(-1.0, 1.0, n) * hu
    position = (
        mods.centre[module] + u[:, None] * mods.u_axis[module] + v[:, None] * mods.v_axis[module]
    )
    return module.astype(np.int64), position
