"""The ``tracknet simulate straw`` command (registered on the ``simulate`` group).

:func:`straw`: ``tracknet simulate straw --out DIR --events N [--seed S] ...`` writes a
straw dataset (chunked Parquet and ``tracknet-dataset.json``). It is a plain
typer-compatible function: bad input raises :class:`~tracknet.errors.ConfigError` or
:class:`~tracknet.errors.DataError`, which the CLI prints as one line.
:mod:`tracknet.simulation.commands` adds it to the ``simulate`` group with :func:`register`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
from tracknet.errors import ConfigError

if TYPE_CHECKING:
    from tracknet.simulation.straw.batch import StrawBatch
    from tracknet.simulation.straw.simulate import StrawConfig

__all__ = ["config_from_options", "register", "straw"]


def config_from_options(
    *,
    tracks_mean: float = 2.0,
    tracks_min: int = 0,
    tracks_max: int = 8,
    distribution: str = "poisson",
    time_in_fill: float | None = None,
    time_in_fill_max: float | None = None,
    tau: float = 64.4,
    detector: str = "nominal",
    efficiency: float | None = None,
    noise_rate: float | None = None,
    crosstalk: float | None = None,
    drift_sigma: float | None = None,
    field: float = 1.45,
    straight: bool = False,
    p_min: float = 0.5,
    p_max: float = 3.0,
    angle_max: float = 10.0,
    charge: int = 1,
    modules: int = 8,
    straws: int = 32,
) -> StrawConfig:
    """The :class:`~tracknet.simulation.straw.simulate.StrawConfig` of the command's options
    (a response option left None takes the value of the ``detector``'s response)."""
    from tracknet.simulation.straw.conditions import DETECTORS
    from tracknet.simulation.straw.geometry import StrawGeometry
    from tracknet.simulation.straw.simulate import StrawConfig
    from tracknet.simulation.straw.tracks import Occupancy, TrackGun

    if detector not in DETECTORS:
        raise ConfigError(f"--detector must be one of {sorted(DETECTORS)}, got {detector!r}")
    conditions, response = DETECTORS[detector]
    given = {
        "efficiency": efficiency,
        "noise_rate": noise_rate,
        "crosstalk": crosstalk,
        "drift_sigma_mm": drift_sigma,
    }
    return StrawConfig(
        conditions=conditions,
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
        response=response.with_overrides({k: v for k, v in given.items() if v is not None}),
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
    efficiency: float | None = typer.Option(
        None,
        "--efficiency",
        help="Probability that a crossed straw records a hit (1: off; default: the detector's).",
    ),
    noise_rate: float | None = typer.Option(
        None,
        "--noise-rate",
        help="Noise hits per straw per event (0: off; default: the detector's).",
    ),
    crosstalk: float | None = typer.Option(
        None,
        "--crosstalk",
        help="Probability that each neighbour of a fired straw fires (0: off; default: the "
        "detector's).",
    ),
    drift_sigma: float | None = typer.Option(
        None,
        "--drift-sigma",
        help="Drift-distance resolution (mm; 0: exact DCA; default: the detector's).",
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
    detector: str = typer.Option(
        "nominal",
        "--detector",
        help="nominal: the simulation's design; real: the stand-in for the experiment "
        "(misaligned, its own field, noise and crosstalk).",
    ),
    truth_out: Path | None = typer.Option(
        None,
        "--truth-out",
        help="Write production events: --out gets the hits without labels, this directory "
        "the same events with them (for evaluate --truth only).",
    ),
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
        detector=detector,
        )  # fmt: skip
    output_dir(out, "--out")
    if truth_out is not None:
        output_dir(truth_out, "--truth-out")
        if truth_out.resolve() == out.resolve():
            raise ConfigError("--truth-out must differ from --out")
    shown = show_progress(progress)
    parameters = {"config": config.to_dict(), "first_event_id": first_event_id}

    def batches() -> Iterator[StrawBatch]:
        return iter_straw_batches(
            config, events, seed, first_event_id, events_per_batch=events_per_chunk
        )

    with contextlib.ExitStack() as stack:  # all of it, or nothing
        staging = stack.enter_context(atomic_directory(out, record=DATASET_FILE))
        truth_staging = (
            None
            if truth_out is None
            else stack.enter_context(atomic_directory(truth_out, record=DATASET_FILE))
        )
        bar = stack.enter_context(
            tqdm(total=events, desc="simulate straw", unit="event", disable=not shown)
        )
        if truth_staging is not None:
            write_straw_dataset(
                batches(), truth_staging, kind="straw", parameters=parameters, seed=seed,
                generator=GENERATOR, extra={"truth_of": "production events"},
            )  # fmt: skip
            # What the experiment records does not say how its detector differs from the design.
            config_dict = {k: v for k, v in config.to_dict().items() if k != "conditions"}
            parameters = {**parameters, "config": config_dict}
        write_straw_dataset(
            (b if truth_staging is None else b.without_labels() for b in batches()),
            staging,
            kind="straw",
            parameters=parameters,
            seed=seed,
            generator=GENERATOR,
            extra=None if truth_staging is None else {"labelled": False},
            on_chunk=lambda batch: bar.update(len(batch)),
        )
    where = "" if truth_out is None else f", without labels (their truth in {truth_out})"
    typer.echo(f"wrote {events} straw events to {out}{where}")


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
    "straws_per_layer": "--straws", "detector": "--detector",
}  # fmt: skip


def register(simulate_app: typer.Typer) -> None:
    """Add ``straw`` to the ``simulate`` group."""
    simulate_app.command("straw")(straw)
