"""Simulate TrackML-like events: particles -> helices -> module hits -> an :class:`Event`.

``simulate_event(config, event_id, rng)`` generates one event; ``simulate_events(config,
n_events, seed)`` yields events whose random streams depend only on ``(seed, event_id)``;
``simulate_particles(particles, config, event_id, rng)`` runs the detector on a particles
table of your own.

See ``docs/simulation.md`` (The event and reproducibility) for hit order, ids and truth.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from tracknet.errors import ConfigError
from tracknet.evaluation.weights import compute_hit_weights
from tracknet.events import (
    HITS_SCHEMA,
    NOISE_PARTICLE_ID,
    PARTICLES_OPTIONAL,
    PARTICLES_SCHEMA,
    TRUTH_SCHEMA,
    Event,
)
from tracknet.simulation.config import SimulationConfig
from tracknet.simulation.geometry import TrackMLGeometry, load_geometry
from tracknet.simulation.particles import load_particle_tables, sample_particles
from tracknet.simulation.propagation import propagate
from tracknet.simulation.response import (
    intersect_modules,
    noise_layer_weights,
    sample_noise,
    smear_on_modules,
)

__all__ = [
    "DETECTOR",
    "GENERATOR",
    "event_rng",
    "simulate_event",
    "simulate_events",
    "simulate_particles",
]

DETECTOR = "trackml"
GENERATOR = "tracknet.simulation"

#: Decimals written for positions (mm), vertices (mm) and momenta (GeV).
POSITION_DECIMALS = 4
VERTEX_DECIMALS = 6
MOMENTUM_DECIMALS = 6

_PARTICLE_INPUT = ("particle_id", "vx", "vy", "vz", "px", "py", "pz", "q")


def event_rng(seed: int, event_id: int) -> np.random.Generator:
    """The independent random stream of event ``event_id`` of a run with ``seed``."""
    if seed < 0 or event_id < 0:
        raise ConfigError(f"seed and event_id must be >= 0, got seed={seed}, event_id={event_id}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(event_id)]))


def _check_particles(particles: pd.DataFrame) -> None:
    missing = [c for c in _PARTICLE_INPUT if c not in particles.columns]
    if missing:
        raise ConfigError(f"particles table lacks column(s) {missing}")
    ids = particles["particle_id"].to_numpy()
    if len(ids) and (ids.min() <= 0 or len(np.unique(ids)) != len(ids)):
        raise ConfigError("particle ids must be positive and unique")
    q = particles["q"].to_numpy()
    if not np.isin(q, (-1, 1)).all():
        raise ConfigError("particle charges must be -1 or +1")


def _hit_tables(
    event_hits: dict[str, np.ndarray], geometry: TrackMLGeometry
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hits and truth frames, ordered by module (volume, layer, module_id), hit_id 1..N."""
    module = event_hits["module"]
    order = np.argsort(module, kind="stable")
    mods = geometry.modules
    module = module[order]
    n = len(module)
    hit_id = np.arange(1, n + 1, dtype=np.int64)
    measured = event_hits["measured"][order]
    true = event_hits["true"][order]
    momentum = event_hits["momentum"][order]
    hits = pd.DataFrame(
        {
            "hit_id": hit_id,
            "x": measured[:, 0],
            "y": measured[:, 1],
            "z": measured[:, 2],
            "volume_id": mods.volume_id[module],
            "layer_id": mods.layer_id[module],
            "module_id": mods.module_id[module],
        }
    ).astype(dict(HITS_SCHEMA))
    truth = pd.DataFrame(
        {
            "hit_id": hit_id,
            "particle_id": event_hits["particle_id"][order],
            "tx": true[:, 0],
            "ty": true[:, 1],
            "tz": true[:, 2],
            "tpx": momentum[:, 0],
            "tpy": momentum[:, 1],
            "tpz": momentum[:, 2],
            "weight": np.zeros(n),
        }
    ).astype(dict(TRUTH_SCHEMA))
    return hits, truth


def simulate_particles(
    particles: pd.DataFrame,
    config: SimulationConfig,
    event_id: int,
    rng: np.random.Generator,
) -> Event:
    """Run the detector on ``particles`` (columns particle_id, vx, vy, vz, px, py, pz, q).

    Only ``config``'s detector fields are used (field, tracked pT threshold, turns,
    material, efficiency, resolution, noise, volumes); the particle-gun fields are not.
    """
    config.validate()
    _check_particles(particles)
    geometry = load_geometry(config.volumes)
    particles = particles.reset_index(drop=True)
    position = particles[["vx", "vy", "vz"]].to_numpy(dtype=np.float64)
    momentum = particles[["px", "py", "pz"]].to_numpy(dtype=np.float64)
    charge = particles["q"].to_numpy(dtype=np.float64)
    tracked = np.hypot(momentum[:, 0], momentum[:, 1]) >= config.pt_min_tracked_gev
    crossings = propagate(
        position[tracked],
        momentum[tracked],
        charge[tracked],
        geometry,
        field_tesla=config.field_tesla,
        max_turns=config.max_turns,
        material_scale=config.material_scale,
        interactions_per_x0=config.interactions_per_x0,
        rng=rng,
    )
    hits = intersect_modules(crossings, geometry)
    if config.hit_efficiency < 1.0:
        hits = hits.subset(rng.random(len(hits)) < config.hit_efficiency)
    measured = smear_on_modules(hits.position, hits.module, geometry, config.smearing_scale, rng)
    particle_row = np.flatnonzero(tracked)[hits.particle]
    pids = particles["particle_id"].to_numpy(dtype=np.int64)

    n_signal = len(hits)
    expected_noise = config.noise_fraction / (1.0 - config.noise_fraction) * n_signal
    n_noise = int(rng.poisson(expected_noise)) if expected_noise > 0 else 0
    tables = load_particle_tables()
    noise_module, noise_position = sample_noise(
        n_noise, geometry, noise_layer_weights(geometry, tables.noise_volume_share), rng
    )
    # Values are rounded to a stated precision far below the detector resolution, as in
    # the real files: positions to 0.1 um, momenta to 1 keV, so the CSV files stay small.
    event_hits = {
        "module": np.concatenate([hits.module, noise_module]),
        "measured": np.round(np.concatenate([measured, noise_position]), POSITION_DECIMALS),
        "true": np.round(np.concatenate([hits.position, noise_position]), POSITION_DECIMALS),
        "momentum": np.round(
            np.concatenate([hits.momentum, np.zeros((n_noise, 3))]), MOMENTUM_DECIMALS
        ),
        "particle_id": np.concatenate(
            [pids[particle_row], np.full(n_noise, NOISE_PARTICLE_ID, dtype=np.int64)]
        ),
    }
    hits_frame, truth = _hit_tables(event_hits, geometry)

    columns = list(_PARTICLE_INPUT) + [c for c in PARTICLES_OPTIONAL if c in particles.columns]
    out_particles = particles[columns].copy()
    out_particles["nhits"] = np.bincount(particle_row, minlength=len(particles))
    out_particles[["vx", "vy", "vz"]] = np.round(
        out_particles[["vx", "vy", "vz"]].to_numpy(), VERTEX_DECIMALS
    )
    out_particles[["px", "py", "pz"]] = np.round(
        out_particles[["px", "py", "pz"]].to_numpy(), MOMENTUM_DECIMALS
    )
    out_particles = out_particles.astype(
        {
            **PARTICLES_SCHEMA,
            **{c: t for c, t in PARTICLES_OPTIONAL.items() if c in out_particles.columns},
        }
    )
    truth["weight"] = compute_hit_weights(truth, out_particles)
    return Event(
        event_id=int(event_id),
        hits=hits_frame,
        truth=truth,
        particles=out_particles,
        meta={"detector": DETECTOR, "generator": GENERATOR, "config": config.to_dict()},
    )


def simulate_event(config: SimulationConfig, event_id: int, rng: np.random.Generator) -> Event:
    """One simulated event: ``config.n_particles`` particles from the real distributions."""
    config.validate()
    particles = sample_particles(config, rng)
    return simulate_particles(particles, config, event_id, rng)


def simulate_events(
    config: SimulationConfig, n_events: int, seed: int, first_event_id: int = 0
) -> Iterator[Event]:
    """Iterate over ``n_events`` events with ids ``first_event_id, ...`` (lazily).

    Event ``k`` uses :func:`event_rng` ``(seed, k)``: it does not depend on how many
    events are generated or on which comes first. Arguments are checked at the call,
    before any event is simulated.
    """
    config.validate()
    if isinstance(n_events, bool) or not isinstance(n_events, int) or n_events < 0:
        raise ConfigError(f"n_events must be a non-negative integer, got {n_events!r}")
    if first_event_id < 0:
        raise ConfigError(f"first_event_id must be >= 0, got {first_event_id}")
    event_rng(seed, first_event_id)  # checks the seed
    event_ids = range(first_event_id, first_event_id + n_events)
    return (simulate_event(config, k, event_rng(seed, k)) for k in event_ids)
