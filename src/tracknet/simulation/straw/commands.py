"""The ``tracknet simulate straw`` command (registered on the ``simulate`` group).

:func:`straw`: ``tracknet simulate straw --out DIR --events N [--seed S] ...`` writes a
straw dataset (chunked Parquet and ``tracknet-dataset.json``). It is a plain
typer-compatible function: bad input raises :class:`~tracknet.errors.ConfigError` or
:class:`~tracknet.errors.DataError`, which the CLI prints as one line.
:mod:`tracknet.simulation.commands` adds it to the ``simulate`` group with :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tracknet.commands_common import (
    check_count,
    named_options,
    output_dir,
    progress_option,
    show_progress,
)
from tracknet.simulation.straw.response import StrawResponse

if TYPE_CHECKING:
    from tracknet.simulation.straw.simulate import StrawConfig

__all__ = ["config_from_options", "register", "straw"]

_RESPONSE = StrawResponse()


def config_from_options(
    *,
    tracks_mean: float = 2.0,
    tracks_min: int = 0,
    tracks_max: int = 8,
    distribution: str = "poisson",
    time_in_fill: float | None = None,
    time_in_fill_max: float | None = None,
    tau: float = 64.4,
    efficiency: float = _RESPONSE.efficiency,
    noise_rate: float = _RESPONSE.noise_rate,
    crosstalk: float = _RESPONSE.crosstalk,
    drift_sigma: float = _RESPONSE.drift_sigma_mm,
    field: float = 1.45,
    straight: bool = False,
    p_min: float = 0.5,
    p_max: float = 3.0,
    angle_max: float = 10.0,
    charge: int = 1,
    modules: int = 8,
    straws: int = 32,
) -> StrawConfig:
    """The :class:`~tracknet.simulation.straw.simulate.StrawConfig` of the command's options."""
    from tracknet.simulation.straw.geometry import StrawGeometry
    from tracknet.simulation.straw.simulate import StrawConfig
    from tracknet.simulation.straw.tracks import Occupancy, TrackGun

    return StrawConfig(
        geometry=StrawGeometry(n_modules=modules, straws_per_layer=straws),
        gun=TrackGun(
            p_min_gev=p_min,
            p_max_gev=p_max,
            angle_max_deg=angle_max,
            charge=charge,
            field_tesla=field,
            straight=straight,
        ),
        occupancy=Occupancy(
            distribution=distribution,
            mean=tracks_mean,
            min_tracks=tracks_min,
            max_tracks=tracks_max,
            time_in_fill_us=time_in_fill,
            time_in_fill_max_us=time_in_fill_max,
            tau_us=tau,
        ),
        response=StrawResponse(
            efficiency=efficiency,
            noise_rate=noise_rate,
            crosstalk=crosstalk,
            drift_sigma_mm=drift_sigma,
        ),
    )


def straw(
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output directory of the straw dataset (Parquet chunks + tracknet-dataset.json).",
    ),
    events: int = typer.Option(..., "--events", help="Number of events."),
    seed: int = typer.Option(0, "--seed", help="Seed; event k depends only on (seed, k)."),
    first_event_id: int = typer.Option(0, "--first-event-id", help="Id of the first event."),
    tracks_mean: float = typer.Option(
        2.0, "--tracks-mean", help="Mean tracks per event (at t = 0 with --time-in-fill)."
    ),
    tracks_min: int = typer.Option(0, "--tracks-min", help="Fewest tracks per event."),
    tracks_max: int = typer.Option(
        8, "--tracks-max", help="Most tracks per event (the distribution is truncated)."
    ),
    distribution: str = typer.Option(
        "poisson", "--distribution", help="Tracks per event: poisson, fixed or uniform."
    ),
    time_in_fill: float | None = typer.Option(
        None, "--time-in-fill", help="Time in the fill (us): the mean becomes A * exp(-t / tau)."
    ),
    time_in_fill_max: float | None = typer.Option(
        None,
        "--time-in-fill-max",
        help="With --time-in-fill: draw each event's time uniformly up to this (us).",
    ),
    tau: float = typer.Option(64.4, "--tau", help="Decay time of the rate in the fill (us)."),
    efficiency: float = typer.Option(
        _RESPONSE.efficiency,
        "--efficiency",
        help="Probability that a crossed straw records a hit (1: off).",
    ),
    noise_rate: float = typer.Option(
        _RESPONSE.noise_rate, "--noise-rate", help="Noise hits per straw per event (0: off)."
    ),
    crosstalk: float = typer.Option(
        _RESPONSE.crosstalk,
        "--crosstalk",
        help="Probability that each neighbour of a fired straw fires (0: off).",
    ),
    drift_sigma: float = typer.Option(
        _RESPONSE.drift_sigma_mm,
        "--drift-sigma",
        help="Drift-distance resolution (mm; 0: exact DCA).",
    ),
    field: float = typer.Option(1.45, "--field", help="Magnetic field (T) out of the 2D plane."),
    straight: bool = typer.Option(False, "--straight", help="Straight tracks (no field)."),
    p_min: float = typer.Option(0.5, "--p-min", help="Lowest track momentum (GeV)."),
    p_max: float = typer.Option(3.0, "--p-max", help="Highest track momentum (GeV)."),
    angle_max: float = typer.Option(
        10.0, "--angle-max", help="Largest entry angle to the x axis (degrees)."
    ),
    charge: int = typer.Option(1, "--charge", help="Track charge: 1, -1, or 0 for a random sign."),
    modules: int = typer.Option(8, "--modules", help="Straw modules (4 layers each)."),
    straws: int = typer.Option(32, "--straws", help="Straws per layer."),
    events_per_chunk: int = typer.Option(
        10_000, "--events-per-chunk", help="Events per Parquet chunk."
    ),
    progress: bool | None = progress_option(),
) -> None:
    """Simulate straw-tracker events (a 2D model of the Muon g-2 tracker) into a Parquet dataset."""
    from tqdm import tqdm

    from tracknet.io.atomic import atomic_directory
    from tracknet.io.straw import DATASET_FILE, write_straw_dataset
    from tracknet.simulation.straw.simulate import GENERATOR, iter_straw_batches

    check_count(seed, "--seed", low=0)
    check_count(first_event_id, "--first-event-id", low=0, high=MAX_STRAW_EVENT_ID)
    check_count(events, "--events", high=MAX_STRAW_EVENT_ID - first_event_id + 1)
    check_count(events_per_chunk, "--events-per-chunk")
    with named_options(_FLAGS):
        config = config_from_options(
        tracks_mean=tracks_mean, tracks_min=tracks_min, tracks_max=tracks_max,
        distribution=distribution, time_in_fill=time_in_fill, time_in_fill_max=time_in_fill_max,
        tau=tau, efficiency=efficiency, noise_rate=noise_rate, crosstalk=crosstalk,
        drift_sigma=drift_sigma, field=field, straight=straight, p_min=p_min, p_max=p_max,
        angle_max=angle_max, charge=charge, modules=modules, straws=straws,
        )  # fmt: skip
    output_dir(out, "--out")
    shown = show_progress(progress)
    with (
        atomic_directory(out, record=DATASET_FILE) as staging,  # all of it, or nothing
        tqdm(total=events, desc="simulate straw", unit="event", disable=not shown) as bar,
    ):
        write_straw_dataset(
            iter_straw_batches(
                config, events, seed, first_event_id, events_per_batch=events_per_chunk
            ),
            staging,
            kind="straw",
            parameters={"config": config.to_dict(), "first_event_id": first_event_id},
            seed=seed,
            generator=GENERATOR,
            on_chunk=lambda batch: bar.update(len(batch)),
        )
    typer.echo(f"wrote {events} straw events to {out}")


#: The largest straw event id (event ids are stored as int64; this leaves room for sums).
MAX_STRAW_EVENT_ID = 2**53
#: The option that sets each straw setting (named in its errors).
_FLAGS = {
    "mean": "--tracks-mean", "min_tracks": "--tracks-min", "max_tracks": "--tracks-max",
    "distribution": "--distribution", "time_in_fill_us": "--time-in-fill",
    "time_in_fill_max_us": "--time-in-fill-max", "tau_us": "--tau", "efficiency": "--efficiency",
    "noise_rate": "--noise-rate", "crosstalk": "--crosstalk", "drift_sigma_mm": "--drift-sigma",
    "field_tesla": "--field", "p_min_gev": "--p-min", "p_max_gev": "--p-max",
    "angle_max_deg": "--angle-max", "charge": "--charge", "n_modules": "--modules",
    "straws_per_layer": "--straws",
}  # fmt: skip


def register(simulate_app: typer.Typer) -> None:
    """Add ``straw`` to the ``simulate`` group."""
    simulate_app.command("straw")(straw)
