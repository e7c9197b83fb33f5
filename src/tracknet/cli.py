"""The ``tracknet`` command line: thin wrappers that parse, call one function, print.

Every error caused by the input (:class:`tracknet.errors.TrackNetError`) is printed as one
line ``error: ...`` on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import math
import os
import sys

# Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU, two spinning
# threads made each model step up to 100x slower. Set before torch is first imported;
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path
from typing import Any

import typer

from .errors import ConfigError, TrackNetError
from .io.atomic import json_line
from .simulation.config import SimulationConfig as _SimulationConfig

__all__ = ["app", "main"]

app = typer.Typer(
    name="tracknet",
    help="TrackNET: machine-learned particle track reconstruction (StepAhead TrackNET).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
simulate_app = typer.Typer(help="Generate pseudo-data events.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")


# --------------------------------------------------------------------------- info


@app.command()
def info(
    prefix: Path = typer.Argument(
        ..., help="Event prefix (dir/event000001000) or one of its files."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Read one TrackML event strictly and summarise it."""
    from .io.trackml import as_prefix, available_parts, read_event

    base = as_prefix(prefix)
    parts = available_parts(base) or ("hits",)
    event = read_event(base, parts=parts)
    summary: dict[str, Any] = {
        "event_id": event.event_id,
        "parts": list(event.parts()),
        "n_hits": event.n_hits,
        "volumes": sorted(int(v) for v in event.hits.volume_id.unique()),
    }
    if event.truth is not None:
        summary["noise_fraction"] = float((event.truth.particle_id == 0).mean())
        summary["n_particles_with_hits"] = int(
            event.truth.particle_id[event.truth.particle_id > 0].nunique()
        )
    if event.particles is not None:
        summary["n_particles"] = len(event.particles)
    if as_json:
        typer.echo(json_line(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key:>22}: {value}")


# --------------------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    data_dir: Path = typer.Option(
        ..., "--data-dir", help="Directory of TrackML events with truth and particles."
    ),
    submission: Path = typer.Option(..., "--submission", help="CSV with event_id,hit_id,track_id."),
    min_pt: float = typer.Option(0.0, "--min-pt", help="Select particles with pT >= this (GeV)."),
    min_hits: int = typer.Option(
        3, "--min-hits", help="Select particles with at least this many hits."
    ),
    max_eta: float = typer.Option(
        math.inf, "--max-eta", help="Select particles with |eta| <= this."
    ),
    primaries_only: bool = typer.Option(
        False, "--primaries-only", help="Select primary particles only."
    ),
    min_track_hits: int = typer.Option(
        3, "--min-track-hits", help="Ignore shorter tracks in the metrics."
    ),
    computed_weights: bool = typer.Option(
        False,
        "--computed-weights",
        help="Score with computed phase-1 weights, not the truth file's.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Also write a report (Markdown, HTML, JSON, PNG plots) into this directory.",
    ),
) -> None:
    """TrackML score and tracking metrics of a submission, over every event it names.

    trackml_score follows the published rules whatever the selection; with --min-pt,
    trackml_score_min_pt gives the score with lower-pT particles weighted zero.
    """
    from .evaluation import ParticleSelection, names
    from .evaluation.files import evaluate_submission

    selection = ParticleSelection(
        min_pt=min_pt, min_hits=min_hits, max_abs_eta=max_eta, primaries_only=primaries_only
    )
    result = evaluate_submission(
        data_dir,
        submission,
        selection,
        min_track_hits=min_track_hits,
        use_computed_weights=computed_weights,
    )
    if report is not None:
        from .evaluation.report import ReportEntry, read_build_meta, write_report

        meta = read_build_meta(submission)
        seconds = {int(k): float(v) for k, v in (meta.get("seconds_per_event") or {}).items()}
        name = str(meta.get("algorithm") or submission.stem)
        path = write_report(report, [ReportEntry(name, result, seconds)], selection=selection)
        if not as_json:
            typer.echo(f"report: {path}")
    if as_json:
        typer.echo(json_line(result.summary))
        return
    width = max(len(names.label(k)) for k in result.summary)
    for key, value in result.summary.items():
        shown = (
            "n/a" if value is None else (f"{value:.6f}" if isinstance(value, float) else str(value))
        )
        typer.echo(f"{names.label(key):<{width}}  {shown}")


# --------------------------------------------------------------------------- display


@app.command()
def display(
    data_dir: Path = typer.Option(..., "--data-dir", help="Directory of TrackML events."),
    event: int = typer.Option(..., "--event", help="Event id."),
    out: Path = typer.Option(..., "--out", help="Output HTML file."),
    submission: Path | None = typer.Option(
        None, "--submission", help="Colour found, missed and fake tracks of this submission."
    ),
    min_pt: float = typer.Option(0.0, "--min-pt", help="Particles to find: pT >= this (GeV)."),
    min_hits: int = typer.Option(
        3, "--min-hits", help="Particles to find: at least this many hits."
    ),
) -> None:
    """Interactive 3D event display (plotly HTML)."""
    from .evaluation import ParticleSelection
    from .io.trackml import available_parts, event_prefix, read_event, read_submission
    from .viz.event_display import write_event_display

    prefix = event_prefix(data_dir, event)
    parts = [p for p in ("hits", "truth", "particles") if p in available_parts(prefix)] or ["hits"]
    loaded = read_event(prefix, parts=parts)
    sub = None
    if submission is not None:
        frame = read_submission(submission)
        sub = frame.loc[frame["event_id"].to_numpy() == event]
        if sub.empty:
            raise ConfigError(f"submission {submission} has no rows for event {event}")
    path = write_event_display(
        loaded, out, sub, ParticleSelection(min_pt=min_pt, min_hits=min_hits)
    )
    typer.echo(f"display: {path}")


# --------------------------------------------------------------------------- simulate


_SIM = _SimulationConfig()


@simulate_app.command("trackml")
def simulate_trackml(
    out: Path = typer.Option(..., "--out", help="Output directory of TrackML CSV events."),
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
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Simulate TrackML-like events (hits, truth, particles) into --out."""
    from .simulation.run import simulate_to_directory

    kwargs: dict[str, Any] = dict(
        n_particles=particles,
        field_tesla=field,
        pt_min_gev=pt_min,
        pt_max_gev=pt_max,
        eta_max=eta_max,
        pt_min_tracked_gev=pt_min_tracked,
        secondary_fraction=secondary_fraction,
        particles_per_vertex=particles_per_vertex,
        vertex_sigma_xy_mm=vertex_sigma_xy,
        vertex_sigma_z_mm=vertex_sigma_z,
        hit_efficiency=hit_efficiency,
        noise_fraction=noise_fraction,
        smearing_scale=smearing_scale,
        material_scale=material_scale,
        interactions_per_x0=interactions_per_x0,
        max_turns=max_turns,
    )
    if volumes:
        try:
            kwargs["volumes"] = tuple(int(v) for v in volumes.split(","))
        except ValueError:
            raise ConfigError(
                f"--volumes must be comma-separated integers, got {volumes!r}"
            ) from None
    config = _SimulationConfig(**kwargs).validate()
    written = simulate_to_directory(
        config,
        out,
        n_events=events,
        seed=seed,
        first_event_id=first_event_id,
        compress=compress,
        progress=progress,
    )
    typer.echo(f"wrote {len(written)} events to {out}")


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    out: Path = typer.Option(Path("outputs/demo"), "--out", help="Output directory of the demo."),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Training epochs (default: the demo recipe's)."
    ),
    train_events: int | None = typer.Option(
        None, "--train-events", help="Simulated training events (default: the demo recipe's)."
    ),
    test_events: int = typer.Option(
        2, "--test-events", help="Simulated held-out events to build and evaluate."
    ),
    seed: int = typer.Option(2026, "--seed", help="Seed of the test events."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """The main job: train on simulated events, build with TrackNET and the baseline, evaluate, report."""
    from .demo import DEMO_TRAIN_OVERRIDES, run_demo

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if test_events < 1:
        raise ConfigError(f"--test-events must be >= 1, got {test_events}")
    overrides = list(DEMO_TRAIN_OVERRIDES)
    if epochs is not None:
        overrides.append(f"trainer.max_epochs={epochs}")
    if train_events is not None:
        overrides.append(f"data.simulation.n_events={train_events}")
    run_demo(
        out,
        n_test_events=test_events,
        seed=seed,
        train_overrides=tuple(overrides),
        progress=progress,
        echo=typer.echo,
    )


# --------------------------------------------------------------------------- commands living beside their code

from .augment.commands import overlay  # noqa: E402
from .building.commands import build  # noqa: E402
from .evaluation.straw_curves import straw_curves_command  # noqa: E402
from .simulation.straw.commands import display_straw, straw  # noqa: E402
from .training.commands import (  # noqa: E402
    TRAIN_CONTEXT_SETTINGS,
    density_command,
    export_command,
    train_command,
    validate_command,
)

simulate_app.command("straw")(straw)
app.command("display-straw")(display_straw)
app.command("overlay")(overlay)
app.command("build")(build)
app.command("straw-curves")(straw_curves_command)
app.command("train", context_settings=TRAIN_CONTEXT_SETTINGS)(train_command)
app.command("validate")(validate_command)
app.command("density")(density_command)
app.command("export")(export_command)


# --------------------------------------------------------------------------- entry


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the app and turns input errors into one line."""
    try:
        app(args=argv, prog_name="tracknet", standalone_mode=True)
    except TrackNetError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
