"""Step all particles at once from surface to surface along helices.

At every step each live particle moves to its nearest crossing among: the reference
cylinders of the barrel layers, the reference planes of the end-cap disks, the outer
boundary of the detector (cylinder ``r_world`` and planes ``|z| = z_world``) and the end
of its turn budget (``max_turns`` transverse turns). A crossing inside the active
envelope of a layer is recorded (the state on arrival) and the particle is scattered
there (Highland, the layer's ``x_over_x0`` times ``material_scale`` divided by the
cosine of the incidence angle). A particle stops when it leaves the detector, has used
its turns or interacts in a layer (an effective nuclear-interaction rate per radiation
length; its hit in that layer is kept). The Python loop runs over steps (bounded by the
number of surfaces and turns), never over particles.

Loopers curl back naturally: a circle meets a cylinder twice per turn, and
:func:`~tracknet.simulation.helix.cylinder_path_lengths` returns the next crossing
ahead, whether outwards or inwards.

No energy loss is simulated (|p| is kept through scattering).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracknet.simulation.geometry import TrackMLGeometry
from tracknet.simulation.helix import (
    cylinder_path_lengths,
    helix_advance,
    highland_theta0,
    plane_path_lengths,
    scatter_direction,
    signed_curvature,
)

__all__ = ["LayerCrossings", "propagate"]

#: Largest path-length factor (1 / cos incidence) applied to the material.
_MAX_PATH_FACTOR = 20.0


@dataclass(frozen=True)
class LayerCrossings:
    """Crossings of layer reference surfaces, one row each, in the order they happened.

    ``particle`` indexes the propagated particle arrays, ``layer`` the geometry's layer
    rows. The state is the one on arrival (before scattering): position (mm), momentum
    azimuth ``phi``, ``cot_theta``, signed curvature ``rho`` (1/mm) and ``pt`` (GeV).
    ``length_before`` / ``length_after`` are the transverse path lengths (mm) from the
    previous surface crossing (or the production vertex) and to the next one (``inf`` if
    the particle stopped here): the helix segment this crossing stands for.
    """

    particle: np.ndarray
    layer: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    phi: np.ndarray
    cot_theta: np.ndarray
    rho: np.ndarray
    pt: np.ndarray
    length_before: np.ndarray
    length_after: np.ndarray

    def __len__(self) -> int:
        return len(self.particle)


def _max_steps(geometry: TrackMLGeometry, max_turns: float) -> int:
    # Per transverse turn a circle meets each cylinder at most twice; z is monotonic, so
    # each plane is met at most once overall.
    return (
        int(np.ceil(max_turns + 1.0)) * 2 * (len(geometry.cylinder_r) + 1)
        + len(geometry.plane_z)
        + 8
    )


def propagate(
    position: np.ndarray,
    momentum: np.ndarray,
    charge: np.ndarray,
    geometry: TrackMLGeometry,
    *,
    field_tesla: float,
    max_turns: float,
    material_scale: float,
    interactions_per_x0: float = 0.0,
    rng: np.random.Generator,
) -> LayerCrossings:
    """Propagate particles (``position`` and ``momentum`` ``(N, 3)``, ``charge`` ``(N,)``).

    Neutral particles, particles without transverse momentum and particles starting
    outside the detector are not propagated. In every crossed layer a particle stops (a
    nuclear interaction) with probability ``1 - exp(-interactions_per_x0 * x)``, ``x``
    the material traversed in radiation lengths. Randomness (scattering, interactions)
    comes only from ``rng``.
    """
    position = np.asarray(position, dtype=np.float64).reshape(-1, 3)
    momentum = np.asarray(momentum, dtype=np.float64).reshape(-1, 3)
    charge = np.asarray(charge, dtype=np.float64)
    pt = np.hypot(momentum[:, 0], momentum[:, 1])
    start_r = np.hypot(position[:, 0], position[:, 1])
    ok = (
        (pt > 0)
        & (start_r < geometry.r_world)
        & (np.abs(position[:, 2]) < geometry.z_world)
        & (charge != 0)
    )
    index = np.flatnonzero(ok)
    x, y, z = (position[index, k].copy() for k in range(3))
    pt = pt[index]
    p = np.hypot(pt, momentum[index, 2])
    phi = np.arctan2(momentum[index, 1], momentum[index, 0])
    cot = momentum[index, 2] / pt
    q = charge[index]
    rho = signed_curvature(pt, q, field_tesla)
    turns_left = np.full(len(index), 2.0 * np.pi * max_turns)

    radii = np.append(geometry.cylinder_r, geometry.r_world)
    planes = np.concatenate([geometry.plane_z, [-geometry.z_world, geometry.z_world]])
    n_cyl, n_plane = len(geometry.cylinder_r), len(geometry.plane_z)
    cyl_layer = geometry.cylinder_layer
    layer_z_min = geometry.layer_column("z_min").astype(np.float64)
    layer_z_max = geometry.layer_column("z_max").astype(np.float64)
    layer_x0 = geometry.layer_column("x_over_x0").astype(np.float64) * material_scale
    layer_barrel = geometry.layer_column("kind") == "barrel"

    records: list[tuple[np.ndarray, ...]] = []
    n_records = 0
    # per live particle: the record waiting for its length_after (-1: none) and its layer
    pending = np.full(len(index), -1, dtype=np.int64)
    pending_layer = np.full(len(index), -1, dtype=np.int64)
    after_index: list[np.ndarray] = []
    after_value: list[np.ndarray] = []
    for _ in range(_max_steps(geometry, max_turns)):
        if index.size == 0:
            break
        lengths = np.concatenate(
            [
                cylinder_path_lengths(x, y, phi, rho, radii),
                plane_path_lengths(z, cot, planes),
                (turns_left / np.abs(rho))[:, None],
            ],
            axis=1,
        )
        which = np.argmin(lengths, axis=1)
        step = lengths[np.arange(len(which)), which]
        x, y, z, phi = helix_advance(x, y, z, phi, cot, rho, step)
        turns_left = turns_left - np.abs(rho) * step

        layer = np.full(len(which), -1, dtype=np.int64)
        on_cyl = which < n_cyl
        if on_cyl.any():
            lay = cyl_layer[which[on_cyl]]
            z_c = z[on_cyl]
            layer[on_cyl] = np.where((z_c >= layer_z_min[lay]) & (z_c <= layer_z_max[lay]), lay, -1)
        on_plane = (which > n_cyl) & (which <= n_cyl + n_plane)
        if on_plane.any():
            plane = which[on_plane] - n_cyl - 1
            r = np.hypot(x[on_plane], y[on_plane])[:, None]
            inside = (r >= geometry.plane_r_min[plane]) & (r <= geometry.plane_r_max[plane])
            first = np.argmax(inside, axis=1)
            layer[on_plane] = np.where(inside.any(axis=1), geometry.plane_layers[plane, first], -1)
        # The segment since the previous record belongs to it and to this crossing; when
        # both are crossings of the same layer (a looper), it is split at its middle so
        # that a module is found from one of them only.
        waiting = pending >= 0
        share = np.where(waiting & (layer == pending_layer), 0.5 * step, step)
        after_index.append(pending[waiting])
        after_value.append(share[waiting])
        pending = np.full(len(index), -1, dtype=np.int64)
        pending_layer = np.full(len(index), -1, dtype=np.int64)
        hit = np.flatnonzero(layer >= 0)
        if hit.size:
            lay = layer[hit]
            records.append(
                (
                    index[hit],
                    lay,
                    x[hit],
                    y[hit],
                    z[hit],
                    phi[hit],
                    cot[hit],
                    rho[hit],
                    pt[hit],
                    share[hit],
                )
            )
            pending[hit] = n_records + np.arange(hit.size)
            pending_layer[hit] = lay
            n_records += hit.size
            # multiple scattering in the crossed layer
            sin_theta = 1.0 / np.sqrt(1.0 + cot[hit] ** 2)
            radial = np.abs(np.cos(phi[hit] - np.arctan2(y[hit], x[hit])))
            cos_incidence = np.where(
                layer_barrel[lay], sin_theta * radial, np.abs(cot[hit]) * sin_theta
            )
            factor = 1.0 / np.maximum(cos_incidence, 1.0 / _MAX_PATH_FACTOR)
            material = layer_x0[lay] * factor
            theta0 = highland_theta0(p[hit], material)
            angles = rng.standard_normal((2, hit.size)) * theta0
            new_phi, new_cot, ratio = scatter_direction(phi[hit], cot[hit], angles[0], angles[1])
            phi[hit] = new_phi
            cot[hit] = new_cot
            pt[hit] = pt[hit] * ratio
            rho[hit] = signed_curvature(pt[hit], q[hit], field_tesla)
            if interactions_per_x0 > 0:
                stopped = rng.random(hit.size) < -np.expm1(-interactions_per_x0 * material)
                which[hit[stopped]] = -1

        alive = (on_cyl | on_plane) & (which >= 0) & np.isfinite(step)
        if not alive.all():
            live = (index, x, y, z, phi, cot, rho, pt, p, q, turns_left, pending, pending_layer)
            index, x, y, z, phi, cot, rho, pt, p, q, turns_left, pending, pending_layer = (
                a[alive] for a in live
            )

    if records:
        cols = [np.concatenate([r[k] for r in records]) for k in range(10)]
    else:
        cols = [np.zeros(0, dtype=np.int64)] * 2 + [np.zeros(0)] * 8
    length_after = np.full(n_records, np.inf)
    if after_index:
        length_after[np.concatenate(after_index)] = np.concatenate(after_value)
    return LayerCrossings(
        particle=cols[0].astype(np.int64),
        layer=cols[1].astype(np.int64),
        x=cols[2],
        y=cols[3],
        z=cols[4],
        phi=cols[5],
        cot_theta=cols[6],
        rho=cols[7],
        pt=cols[8],
        length_before=cols[9],
        length_after=length_after,
    )
