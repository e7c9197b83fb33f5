"""Parameters of the TrackML-like detector simulation.

:class:`SimulationConfig`: every field maps to one command-line option of ``tracknet
simulate trackml`` (the name with ``_`` replaced by ``-``, unit suffixes dropped, see
:data:`CLI_OPTIONS`); its values reproduce the real TrackML events
(``benchmarks/realism.py``).

See ``docs/simulation.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from tracknet.errors import ConfigError
from tracknet.simulation.geometry import ALL_VOLUMES

__all__ = ["CLI_OPTIONS", "SimulationConfig"]

#: Command-line option of every config field.
CLI_OPTIONS: dict[str, str] = {
    "n_particles": "--particles",
    "field_tesla": "--field",
    "pt_min_gev": "--pt-min",
    "pt_max_gev": "--pt-max",
    "eta_max": "--eta-max",
    "pt_min_tracked_gev": "--pt-min-tracked",
    "secondary_fraction": "--secondary-fraction",
    "particles_per_vertex": "--particles-per-vertex",
    "vertex_sigma_xy_mm": "--vertex-sigma-xy",
    "vertex_sigma_z_mm": "--vertex-sigma-z",
    "hit_efficiency": "--hit-efficiency",
    "noise_fraction": "--noise-fraction",
    "smearing_scale": "--smearing-scale",
    "material_scale": "--material-scale",
    "interactions_per_x0": "--interactions-per-x0",
    "max_turns": "--max-turns",
    "volumes": "--volumes",
}

_MAX_TURNS_LIMIT = 50.0


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of :func:`tracknet.simulation.simulate_event` (units in the names).

    Attributes:
        n_particles: particles generated per event, including those that leave no hit
            (the real unlabelled events 1001 and 1003 list 8,915 and 10,261, the
            full event 1000 12,263).
        field_tesla: solenoid field along +z, tesla (> 0).
        pt_min_gev, pt_max_gev: generated transverse-momentum range, GeV; the spectrum
            is the real one (tabulated between 0.1 and 56 GeV) restricted to it.
        eta_max: generated pseudorapidity range ``|eta| <= eta_max``.
        pt_min_tracked_gev: particles below this pT get no hits (see ``docs/simulation.md``).
        secondary_fraction: share of particles born in the detector material (their
            vertex and momentum tables come from the real event).
        particles_per_vertex: mean number of primary particles per pile-up vertex.
        vertex_sigma_xy_mm, vertex_sigma_z_mm: Gaussian spread of the pile-up vertices.
        hit_efficiency: probability that a module crossed by a particle records a hit.
        noise_fraction: expected share of noise hits among all hits, in [0, 1).
        smearing_scale: multiplies the hit resolution (pitch / sqrt(12) per direction).
        material_scale: multiplies the material per layer (multiple scattering).
        interactions_per_x0: effective rate of particle-stopping interactions per
            radiation length of material crossed (nuclear interactions plus everything
            else that ends a real track early; tuned to the real hits per particle).
        max_turns: transverse turns after which a particle is stopped (> 0).
        volumes: TrackML volume ids to simulate; the others are absent (no hits, no
            material, no noise).
    """

    n_particles: int = 9_600
    field_tesla: float = 2.0
    pt_min_gev: float = 0.1
    pt_max_gev: float = 100.0
    eta_max: float = 4.0
    pt_min_tracked_gev: float = 0.15
    secondary_fraction: float = 0.30
    particles_per_vertex: float = 35.4
    vertex_sigma_xy_mm: float = 0.0175
    vertex_sigma_z_mm: float = 5.5
    hit_efficiency: float = 1.0
    noise_fraction: float = 0.17
    smearing_scale: float = 1.0
    material_scale: float = 1.0
    interactions_per_x0: float = 1.0
    max_turns: float = 0.5
    volumes: tuple[int, ...] = ALL_VOLUMES

    def __post_init__(self) -> None:
        # Accept any iterable of ints for volumes (e.g. a list from a parser), stored sorted.
        try:
            volumes = tuple(sorted(int(v) for v in self.volumes))
        except (TypeError, ValueError):
            raise ConfigError(f"volumes must be integers, got {self.volumes!r}") from None
        object.__setattr__(self, "volumes", volumes)

    def validate(self) -> SimulationConfig:
        """Check every field; raise :class:`ConfigError` (one line) on the first bad one."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "volumes" and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise ConfigError(f"{f.name} must be a number, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be finite, got {value!r}")
        if not isinstance(self.n_particles, int) or self.n_particles < 0:
            raise ConfigError(
                f"n_particles must be a non-negative integer, got {self.n_particles!r}"
            )
        if self.field_tesla <= 0:
            raise ConfigError(
                "field_tesla must be > 0 (helices, pT and the looper bound need a field), "
                f"got {self.field_tesla}"
            )
        if self.pt_min_gev <= 0:
            raise ConfigError(f"pt_min_gev must be > 0, got {self.pt_min_gev}")
        if self.pt_max_gev <= self.pt_min_gev:
            raise ConfigError(
                f"pt_max_gev ({self.pt_max_gev}) must be above pt_min_gev ({self.pt_min_gev})"
            )
        if self.eta_max <= 0:
            raise ConfigError(f"eta_max must be > 0, got {self.eta_max}")
        if self.pt_min_tracked_gev < 0:
            raise ConfigError(f"pt_min_tracked_gev must be >= 0, got {self.pt_min_tracked_gev}")
        for name in ("secondary_fraction", "hit_efficiency"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.noise_fraction < 1.0:
            raise ConfigError(f"noise_fraction must be in [0, 1), got {self.noise_fraction}")
        if self.particles_per_vertex < 1:
            raise ConfigError(f"particles_per_vertex must be >= 1, got {self.particles_per_vertex}")
        for name in (
            "vertex_sigma_xy_mm",
            "vertex_sigma_z_mm",
            "smearing_scale",
            "material_scale",
            "interactions_per_x0",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.max_turns <= _MAX_TURNS_LIMIT:
            raise ConfigError(
                f"max_turns must be in (0, {_MAX_TURNS_LIMIT:g}], got {self.max_turns}"
            )
        if not self.volumes:
            raise ConfigError("volumes must name at least one TrackML volume")
        if len(set(self.volumes)) != len(self.volumes):
            raise ConfigError(f"volumes has duplicates: {list(self.volumes)}")
        unknown = sorted(set(self.volumes) - set(ALL_VOLUMES))
        if unknown:
            raise ConfigError(f"unknown TrackML volume id(s) {unknown}; known: {list(ALL_VOLUMES)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain values (volumes as a list), e.g. for event meta or JSON."""
        out = asdict(self)
        out["volumes"] = list(self.volumes)
        return out
