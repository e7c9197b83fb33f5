"""Parameters of the TrackML-like detector simulation.

:class:`SimulationConfig`: every field maps to one command-line option of ``tracknet
simulate trackml`` (the name with ``_`` replaced by ``-``, unit suffixes dropped, see
:data:`CLI_OPTIONS`); its values reproduce the real TrackML events
(``benchmarks/realism.py``).

See ``docs/simulation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tracknet.errors import ConfigError
from tracknet.schema import Settings, setting
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


def _positive_field(value: Any) -> str | None:
    return None if value > 0 else "must be > 0 (helices, pT and the looper bound need a field)"


def _below_one(value: Any) -> str | None:
    return None if 0.0 <= value < 1.0 else "must be in [0, 1)"


@dataclass(frozen=True)
class SimulationConfig(Settings):
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

    label: ClassVar[str] = "simulation"

    n_particles: int = setting(9_600, low=0)
    field_tesla: float = setting(2.0, check=_positive_field)
    pt_min_gev: float = setting(0.1, low=0.0, open_low=True)
    pt_max_gev: float = 100.0
    eta_max: float = setting(4.0, low=0.0, open_low=True)
    pt_min_tracked_gev: float = setting(0.15, low=0.0)
    secondary_fraction: float = setting(0.30, low=0.0, high=1.0)
    particles_per_vertex: float = setting(35.4, low=1.0)
    vertex_sigma_xy_mm: float = setting(0.0175, low=0.0, high=100.0)
    vertex_sigma_z_mm: float = setting(5.5, low=0.0, high=1000.0)
    hit_efficiency: float = setting(1.0, low=0.0, high=1.0)
    noise_fraction: float = setting(0.17, check=_below_one)
    smearing_scale: float = setting(1.0, low=0.0)
    material_scale: float = setting(1.0, low=0.0)
    interactions_per_x0: float = setting(1.0, low=0.0)
    max_turns: float = setting(0.5, low=0.0, open_low=True, high=_MAX_TURNS_LIMIT)
    volumes: tuple[int, ...] = ALL_VOLUMES

    def __post_init__(self) -> None:
        # Accept any iterable of ints for volumes (e.g. a list from a parser), stored sorted.
        try:
            volumes = tuple(sorted(int(v) for v in self.volumes))
        except (TypeError, ValueError):
            raise ConfigError(f"volumes must be integers, got {self.volumes!r}") from None
        object.__setattr__(self, "volumes", volumes)
        super().__post_init__()

    def validate(self) -> SimulationConfig:  # type: ignore[override]
        """The relations between fields; one-line :class:`ConfigError` (returns ``self``)."""
        if self.pt_max_gev <= self.pt_min_gev:
            raise ConfigError(
                f"pt_max_gev ({self.pt_max_gev}) must be above pt_min_gev ({self.pt_min_gev})"
            )
        if not self.volumes:
            raise ConfigError("volumes must name at least one TrackML volume")
        if len(set(self.volumes)) != len(self.volumes):
            raise ConfigError(f"volumes has duplicates: {list(self.volumes)}")
        unknown = sorted(set(self.volumes) - set(ALL_VOLUMES))
        if unknown:
            raise ConfigError(f"unknown TrackML volume id(s) {unknown}; known: {list(ALL_VOLUMES)}")
        return self
