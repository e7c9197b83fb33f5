"""The ``tracknet simulate`` group: ``simulate trackml`` (TrackML-like CSV or Parquet
events) and ``simulate straw`` (:mod:`tracknet.simulation.straw.commands`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..commands_common import (
    check_count,
    named_options,
    output_dir,
    parse_int_list,
    progress_option,
    show_progress,
    workers_of,
    workers_options,
)
from .config import SimulationConfig as _SimulationConfig
from .straw import commands as _straw_commands

__all__ = ["register", "simulate_trackml"]

_SIM = _SimulationConfig()
_WORKERS, _SCHEDULER = workers_options()
#: The most particles per event ``--particles`` accepts (a full TrackML event has ~10^4).
MAX_PARTICLES = 10_000_000


def simulate_trackml(
    out: Path = typer.Option(..., "--out", help="Output directory of TrackML events."),
    events: int = typer.Option(..., "--events", help="Number of events."),
    seed: int = typer.Option(0, "--seed", help="Seed; event k gets its own stream from (seed, k)."),
    first_event_id: int = typer.Option(1, "--first-event-id", help="Id of the first event."),
    particles: int = typer.Option(
        _SIM.n_particles, "--particles", help="Particles generated per event."
    ),
    noise_fraction: float = typer.Option(
        _SIM.noise_fraction, "--noise-fraction", help="Share of noise among all hits, [0, 1)."
    ),
    field: float = typer.Option(
        _SIM.field_tesla, "--field", help="Solenoid field along z, tesla (> 0)."
    ),
    pt_min: float = typer.Option(_SIM.pt_min_gev, "--pt-min", help="Lowest generated pT, GeV."),
    pt_max: float = typer.Option(_SIM.pt_max_gev, "--pt-max", help="Highest generated pT, GeV."),
    eta_max: float = typer.Option(_SIM.eta_max, "--eta-max", help="Generated |eta| range."),
    pt_min_tracked: float = typer.Option(
        _SIM.pt_min_tracked_gev,
        "--pt-min-tracked",
        help="Particles below this pT (GeV) leave no hits.",
    ),
    secondary_fraction: float = typer.Option(
        _SIM.secondary_fraction,
        "--secondary-fraction",
        help="Share of particles born in the material.",
    ),
    particles_per_vertex: float = typer.Option(
        _SIM.particles_per_vertex,
        "--particles-per-vertex",
        help="Mean primaries per pile-up vertex.",
    ),
    vertex_sigma_xy: float = typer.Option(
        _SIM.vertex_sigma_xy_mm, "--vertex-sigma-xy", help="Transverse vertex spread, mm."
    ),
    vertex_sigma_z: float = typer.Option(
        _SIM.vertex_sigma_z_mm, "--vertex-sigma-z", help="Longitudinal vertex spread, mm."
    ),
    hit_efficiency: float = typer.Option(
        _SIM.hit_efficiency,
        "--hit-efficiency",
        help="Probability that a crossed module records a hit.",
    ),
    smearing_scale: float = typer.Option(
        _SIM.smearing_scale, "--smearing-scale", help="Scale of the hit resolution."
    ),
    material_scale: float = typer.Option(
        _SIM.material_scale, "--material-scale", help="Scale of the material (multiple scattering)."
    ),
    interactions_per_x0: float = typer.Option(
        _SIM.interactions_per_x0,
        "--interactions-per-x0",
        help="Rate of track-ending interactions per radiation length.",
    ),
    max_turns: float = typer.Option(
        _SIM.max_turns,
        "--max-turns",
        help="Transverse turns after which a particle stops (> 0.5 lets loopers curl back).",
    ),
    volumes: str | None = typer.Option(
        None, "--volumes", help="Comma-separated volume ids (default: all)."
    ),
    compress: bool = typer.Option(False, "--gzip", help="Write .csv.gz files."),
    fmt: str = typer.Option(
        "csv", "--format", help="File format of the events: csv or parquet (.parquet files)."
    ),
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
    progress: bool | None = progress_option(),
) -> None:
    """Simulate TrackML-like events (hits, truth, particles) into --out."""
    from ..parallel import prestart

    where = workers_of(workers, scheduler)
    prestart(where, preload=("tracknet.simulation.run",))
    from ..events import MAX_EVENT_ID
    from .run import simulate_to_directory

    check_count(seed, "--seed", low=0)
    check_count(first_event_id, "--first-event-id", low=0, high=MAX_EVENT_ID)
    check_count(events, "--events", high=MAX_EVENT_ID - first_event_id + 1)
    check_count(particles, "--particles", high=MAX_PARTICLES)

    kwargs: dict[str, Any] = {
        "n_particles": particles,
        "field_tesla": field,
        "pt_min_gev": pt_min,
        "pt_max_gev": pt_max,
        "eta_max": eta_max,
        "pt_min_tracked_gev": pt_min_tracked,
        "secondary_fraction": secondary_fraction,
        "particles_per_vertex": particles_per_vertex,
        "vertex_sigma_xy_mm": vertex_sigma_xy,
        "vertex_sigma_z_mm": vertex_sigma_z,
        "hit_efficiency": hit_efficiency,
        "noise_fraction": noise_fraction,
        "smearing_scale": smearing_scale,
        "material_scale": material_scale,
        "interactions_per_x0": interactions_per_x0,
        "max_turns": max_turns,
    }
    if volumes:
        kwargs["volumes"] = tuple(parse_int_list(volumes, "--volumes"))
    with named_options(_FLAGS):
        config = _SimulationConfig(**kwargs).validate()
    output_dir(out, "--out")
    written = simulate_to_directory(
        config,
        out,
        n_events=events,
        seed=seed,
        first_event_id=first_event_id,
        compress=compress,
        fmt=fmt,
        progress=show_progress(progress),
        workers=where,
    )
    typer.echo(f"wrote {len(written)} events to {out}")


#: The option that sets each simulation setting (named in its errors).
_FLAGS = {
    "n_particles": "--particles", "field_tesla": "--field", "pt_min_gev": "--pt-min",
    "pt_max_gev": "--pt-max", "eta_max": "--eta-max", "pt_min_tracked_gev": "--pt-min-tracked",
    "secondary_fraction": "--secondary-fraction",
    "particles_per_vertex": "--particles-per-vertex", "vertex_sigma_xy_mm": "--vertex-sigma-xy",
    "vertex_sigma_z_mm": "--vertex-sigma-z", "hit_efficiency": "--hit-efficiency",
    "noise_fraction": "--noise-fraction", "smearing_scale": "--smearing-scale",
    "material_scale": "--material-scale", "interactions_per_x0": "--interactions-per-x0",
    "max_turns": "--max-turns", "volumes": "--volumes",
}  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` group (``trackml``, ``straw``) to ``app``."""
    simulate_app = typer.Typer(help="Generate pseudo-data events.", no_args_is_help=True)
    simulate_app.command("trackml")(simulate_trackml)
    _straw_commands.register(simulate_app)
    app.add_typer(simulate_app, name="simulate")
