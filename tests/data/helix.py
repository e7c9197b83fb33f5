"""Hand-built helices with a known hit order, and events made of them.

A particle of charge ``q`` (e) and transverse momentum ``pt`` (GeV) in a solenoid field
``B`` (T) along +z moves on a helix of radius ``R = pt / (0.3 |q| B)`` m, turning
clockwise seen from +z for q > 0. With the turning angle ``psi`` from the vertex and the
initial direction ``phi0``, the direction is ``phi = phi0 + h psi`` (``h = -sign(q)``)
and the position ``v + h R (sin phi - sin phi0, cos phi0 - cos phi, ...)`` with
``z = v_z + R psi cot(theta)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tracknet.events import Event

B_TESLA = 2.0


@dataclass
class Helix:
    particle_id: int
    pt: float  # GeV
    eta: float
    phi0: float  # rad
    q: int = 1
    vertex: tuple[float, float, float] = (0.0, 0.0, 0.0)  # mm

    @property
    def radius_mm(self) -> float:
        return 1000.0 * self.pt / (0.299792458 * abs(self.q) * B_TESLA)

    @property
    def cot_theta(self) -> float:
        return float(np.sinh(self.eta))

    def at(self, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (mm) and momenta (GeV) at turning angles ``psi`` (rad)."""
        psi = np.asarray(psi, dtype=np.float64)
        h = -np.sign(self.q)
        r = self.radius_mm
        phi = self.phi0 + h * psi
        v = np.asarray(self.vertex)
        pos = np.column_stack(
            [
                v[0] + h * r * (np.sin(phi) - np.sin(self.phi0)),
                v[1] + h * r * (np.cos(self.phi0) - np.cos(phi)),
                v[2] + r * psi * self.cot_theta,
            ]
        )
        mom = np.column_stack(
            [
                self.pt * np.cos(phi),
                self.pt * np.sin(phi),
                np.full(len(psi), self.pt * self.cot_theta),
            ]
        )
        return pos, mom

    def psi_at_radius(self, r: np.ndarray, inward: bool = False) -> np.ndarray:
        """Turning angle where a helix from the origin reaches transverse radius ``r``."""
        half = np.arcsin(np.asarray(r, dtype=np.float64) / (2.0 * self.radius_mm))
        return 2.0 * np.pi - 2.0 * half if inward else 2.0 * half

    def psi_at_z(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, dtype=np.float64) - self.vertex[2]) / (
            self.radius_mm * self.cot_theta
        )

    def momentum0(self) -> tuple[float, float, float]:
        return (self.pt * np.cos(self.phi0), self.pt * np.sin(self.phi0), self.pt * self.cot_theta)


def build_event(
    tracks: list[tuple[Helix, np.ndarray, np.ndarray]],
    *,
    event_id: int = 5,
    n_noise: int = 4,
    seed: int = 0,
) -> tuple[Event, dict[int, np.ndarray]]:
    """An event of helices, given as (helix, turning angles in true order, layer ids).

    Hit rows are shuffled; noise (particle 0) and one hit of the reserved id -1 are
    added. Returns the event and, per particle id, its hit ids in the true order.
    """
    rng = np.random.default_rng(seed)
    pos_parts, mom_parts, pid_parts, layer_parts = [], [], [], []
    expected: dict[int, np.ndarray] = {}
    n_done = 0
    for helix, psi, layers in tracks:
        pos, mom = helix.at(psi)
        pos_parts.append(pos)
        mom_parts.append(mom)
        pid_parts.append(np.full(len(psi), helix.particle_id, dtype=np.int64))
        layer_parts.append(np.asarray(layers, dtype=np.int32))
        expected[helix.particle_id] = np.arange(n_done, n_done + len(psi)) + 1
        n_done += len(psi)
    n_extra = n_noise + 1
    pos_parts.append(rng.uniform(-500, 500, size=(n_extra, 3)))
    mom_parts.append(np.zeros((n_extra, 3)))
    pid_parts.append(np.array([0] * n_noise + [-1], dtype=np.int64))
    layer_parts.append(np.full(n_extra, 2, dtype=np.int32))
    pos, mom = np.concatenate(pos_parts), np.concatenate(mom_parts)
    pid, layer = np.concatenate(pid_parts), np.concatenate(layer_parts)
    hit_id = np.arange(1, len(pid) + 1, dtype=np.int64)
    order = rng.permutation(len(pid))
    hits = pd.DataFrame(
        {
            "hit_id": hit_id[order],
            "x": pos[order, 0],
            "y": pos[order, 1],
            "z": pos[order, 2],
            "volume_id": np.full(len(pid), 8, dtype=np.int32),
            "layer_id": layer[order],
            "module_id": np.ones(len(pid), dtype=np.int32),
        }
    )
    truth = pd.DataFrame(
        {
            "hit_id": hit_id[order],
            "particle_id": pid[order],
            "tx": pos[order, 0],
            "ty": pos[order, 1],
            "tz": pos[order, 2],
            "tpx": mom[order, 0],
            "tpy": mom[order, 1],
            "tpz": mom[order, 2],
            "weight": np.zeros(len(pid)),
        }
    )
    helices = [h for h, _, _ in tracks]
    p0 = np.array([h.momentum0() for h in helices]).reshape(-1, 3)
    vertex = np.array([h.vertex for h in helices], dtype=np.float64).reshape(-1, 3)
    particles = pd.DataFrame(
        {
            "particle_id": np.array([h.particle_id for h in helices], dtype=np.int64),
            "vx": vertex[:, 0],
            "vy": vertex[:, 1],
            "vz": vertex[:, 2],
            "px": p0[:, 0],
            "py": p0[:, 1],
            "pz": p0[:, 2],
            "q": np.array([h.q for h in helices], dtype=np.int32),
            "nhits": np.array([len(p) for _, p, _ in tracks], dtype=np.int32),
        }
    )
    return Event(event_id=event_id, hits=hits, truth=truth, particles=particles), expected


BARREL_RADII = np.array([32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0])
ENDCAP_Z = np.array([600.0, 700.0, 820.0, 960.0, 1100.0, 1300.0, 1500.0])
