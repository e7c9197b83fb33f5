"""The evaluation commands: ``tracknet evaluate`` and ``tracknet straw-curves``.

Each parses, calls one function of :mod:`tracknet.evaluation` and prints; input errors
are :class:`~tracknet.errors.TrackNetError` (one line, exit status 2 from the CLI).
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

from ..commands_common import (
    echo_table,
    output_dir,
    parse_numbers,
    progress_option,
    show_progress,
    typer_option,
    workers_of,
    workers_options,
)
from ..errors import ConfigError
from ..io.atomic import json_line

__all__ = ["evaluate", "register", "straw_curves_command"]

_WORKERS, _SCHEDULER = workers_options()


def evaluate(
    data_dir: Path = typer.Option(
        ..., "--data-dir", help="Directory of TrackML events with truth and particles."
    ),
    submission: Path = typer.Option(..., "--submission", help="CSV with event_id,hit_id,track_id."),
    min_pt: float = typer.Option(0.0, "--min-pt", help="Select particles with pT >= this (GeV)."),
    max_pt: float = typer.Option(
        math.inf, "--max-pt", help="Select particles with pT < this (GeV): a pT band."
    ),
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
    truth: Path | None = typer.Option(
        None,
        "--truth",
        help="Straw production events (stored without labels): the dataset of their labels.",
    ),
    score_losses: bool = typer.Option(
        False,
        "--score-losses",
        help="Also give where the TrackML score's weight goes (TrackML events): "
        "score_weight_* keys, see docs/metrics.md.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Also write a report (Markdown, HTML, JSON, PNG plots) into this directory.",
    ),
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
) -> None:
    """TrackML score and tracking metrics of a submission, over every event it names
    (the submission lists every hit of those events once; track_id 0: on no track).

    trackml_score follows the published rules whatever the selection; with --min-pt,
    trackml_score_min_pt gives the score with lower-pT particles weighted zero.
    """
    from ..parallel import prestart

    where = workers_of(workers, scheduler)
    prestart(where, preload=("tracknet.evaluation.trackml_files",))
    from . import ParticleSelection, names
    from .files import evaluate_submission
    from .report import ReportEntry, build_seconds, check_report_dir, read_build_meta, write_report

    # The schema's checks, each message prefixed by the option the user typed.
    for flag, field, value in (
        ("--min-pt", "min_pt", min_pt),
        ("--max-pt", "max_pt", max_pt),
        ("--min-hits", "min_hits", min_hits),
        ("--max-eta", "max_abs_eta", max_eta),
    ):
        try:
            ParticleSelection.from_dict({field: value})
        except ConfigError as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    if max_pt <= min_pt:
        raise ConfigError(f"--max-pt must be above --min-pt ({min_pt}), got {max_pt}")
    if min_track_hits < 1:
        raise ConfigError(f"--min-track-hits must be an integer >= 1, got {min_track_hits}")
    if report is not None:
        check_report_dir(report)  # before the evaluation, which can take a while
    if score_losses:
        from ..detectors import detector_of

        if detector_of(data_dir).name != "trackml":
            raise ConfigError("--score-losses: the TrackML score's parts need TrackML events")
    selection = ParticleSelection(
        min_pt=min_pt,
        max_pt=max_pt,
        min_hits=min_hits,
        max_abs_eta=max_eta,
        primaries_only=primaries_only,
    )
    result = evaluate_submission(
        data_dir,
        submission,
        selection,
        min_track_hits=min_track_hits,
        use_computed_weights=computed_weights,
        workers=where,
        truth_dir=truth,
    )
    summary = dict(result.summary)
    labels: dict[str, str] = {}
    if score_losses:
        from .score_losses import SCORE_LOSS_LABELS, score_losses_directory

        parts = score_losses_directory(data_dir, submission, use_computed_weights=computed_weights)
        for key, value in parts.items():
            summary[f"score_weight_{key}"] = value
            labels[f"score_weight_{key}"] = "Score weight: " + SCORE_LOSS_LABELS[key]
    if result.unnamed_events:
        unnamed = list(result.unnamed_events)
        typer.echo(
            f"note: evaluated the {result.summary.get(names.N_EVENTS)} event(s) that "
            f"{submission} names; {len(unnamed)} other event(s) of {data_dir} "
            f"are not in it: {unnamed[:5]}{' ...' if len(unnamed) > 5 else ''}",
            err=True,
        )
    if report is not None:
        meta = read_build_meta(submission)
        name = str(meta.get("algorithm") or submission.stem)
        path = write_report(
            report, [ReportEntry(name, result, build_seconds(meta))], selection=selection
        )
        if not as_json:
            typer.echo(f"report: {path}")
    if as_json:
        # How many events of --data-dir the submission leaves out, so a script sees it too.
        typer.echo(json_line({**summary, "n_events_missing": len(result.unnamed_events)}))
        return
    echo_table(((labels.get(k) or names.label(k), v) for k, v in summary.items()), ".6f")


def straw_curves_command(
    checkpoint: Path = typer_option(
        "--checkpoint", "2D straw TrackNET checkpoint (tracknet train experiment=straw)."
    ),
    out: Path = typer_option(
        "--out", "Output directory: straw_curves.json and one PNG per metric and axis."
    ),
    events: int = typer_option("--events", "Simulated events per point of each curve.", 2000),
    seed: int = typer_option(
        "--seed",
        "Seed; point i of curve c (0: occupancy, 1: time) uses the seed sequence (seed, c, i).",
        0,
    ),
    occupancies: str = typer_option(
        "--occupancies", "Tracks per event of the occupancy curve.", "1,2,3,4,5,6,7,8,9,10"
    ),
    times: str = typer_option(
        "--times", "Times in fill (us) of the time curve.", "0,25,50,75,100,150,200,300"
    ),
    tracks_at_t0: float = typer_option(
        "--tracks-at-t0", "Mean tracks per event at t = 0 for the time curve.", 8.0
    ),
    config: Path | None = typer_option(
        "--config", "JSON object of straw build settings to override.", None
    ),
    semi_synthetic: bool = typer.Option(
        False,
        "--semi-synthetic",
        help='Points of library tracks of the "real" detector (cut without truth from its '
        "late events) overlaid onto its production events, not pseudo-data.",
    ),
    overlay_tracks: int | None = typer.Option(
        None,
        "--overlay-tracks",
        help="--semi-synthetic: tracks overlaid per event of the time curve.",
    ),
    background_time: float | None = typer.Option(
        None,
        "--background-time",
        help="--semi-synthetic: time in the fill (us) of the background of the occupancy curve.",
    ),
    library_events: int | None = typer.Option(
        None, "--library-events", help="--semi-synthetic: late events the library is cut from."
    ),
    seed_checkpoint: Path | None = typer.Option(
        None,
        "--seed-checkpoint",
        help="Seed-classifier checkpoint (tracknet train experiment=straw_seed): a third "
        "algorithm, seed-lstm, on every point.",
    ),
    progress: bool | None = progress_option(),
) -> None:
    """Straw tracking metrics of TrackNET, the baseline (and the seed classifier) against occupancy and time in fill (JSON + PNG)."""  # noqa: E501
    from tqdm.auto import tqdm

    from ..building.straw import StrawBuildConfig
    from ..model.checkpoint import load_checkpoint
    from ..model.seed_lstm import load_seed_lstm
    from .straw_curves import StrawCurveSettings, straw_curves, write_straw_curves

    # The options' own names in these messages: what the command's user typed.
    if events < 1:
        raise ConfigError(f"--events must be a positive integer, got {events!r}")
    if seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")
    settings = StrawCurveSettings(
        n_events=events,
        seed=seed,
        occupancies=parse_numbers(occupancies, int, "--occupancies"),
        times_us=parse_numbers(times, float, "--times"),
        tracks_at_t0=float(tracks_at_t0),
        max_tracks=max(16, max(parse_numbers(occupancies, int, "--occupancies"))),
        events="semi-synthetic" if semi_synthetic else "pseudo",
    )
    semi_options = {
        "overlay_tracks": ("--overlay-tracks", overlay_tracks),
        "background_time_us": ("--background-time", background_time),
        "library_events": ("--library-events", library_events),
    }
    for field, (flag, value) in semi_options.items():
        if value is None:
            continue
        if not semi_synthetic:
            raise ConfigError(f"{flag} needs --semi-synthetic")
        try:
            settings = settings.with_overrides({field: value})
        except ConfigError as exc:
            raise ConfigError(f"{flag}: {exc}") from None
    build_config = StrawBuildConfig.from_json(config) if config is not None else StrawBuildConfig()
    loaded = load_checkpoint(checkpoint)
    seed_loaded = None if seed_checkpoint is None else load_seed_lstm(seed_checkpoint)
    output_dir(out, "--out")
    total = len(settings.occupancies) + len(settings.times_us)
    with tqdm(
        total=total, desc="straw curves", unit="point", disable=not show_progress(progress)
    ) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        result = straw_curves(
            loaded, settings, build_config, progress=advance, seed_loaded=seed_loaded
        )
    result["checkpoint"] = str(checkpoint)
    if seed_checkpoint is not None:
        result["seed_checkpoint"] = str(seed_checkpoint)
    written = write_straw_curves(result, out)
    n_algorithms = len(result["algorithms"])
    typer.echo(f"wrote {len(written)} files ({total} points x {n_algorithms} algorithms) to {out}")


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and ``straw-curves`` to ``app``."""
    app.command("evaluate")(evaluate)
    app.command("straw-curves")(straw_curves_command)
