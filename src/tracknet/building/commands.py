"""The ``tracknet build`` command, as a plain typer-compatible function.

Added to the ``tracknet`` app by :func:`register` (from :mod:`tracknet.cli`). Input errors
(unknown algorithm, a checkpoint of another model, a directory without hits, unknown
event ids, a bad ``--config``) raise :class:`~tracknet.errors.TrackNetError`, which the
CLI prints as one line ``error: ...`` with exit status 2; the submission file is only
written, atomically, once every event is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..commands_common import (
    MAX_THREADS,
    check_count,
    output_file,
    parse_int_list,
    progress_option,
    show_progress,
    workers_of,
    workers_options,
)
from ..errors import ConfigError, DataError

__all__ = ["align", "build", "module_map", "quality", "register"]

_WORKERS, _SCHEDULER = workers_options()


def build(
    data_dir: Path = typer.Option(
        ...,
        "--data-dir",
        help="Directory of TrackML events, or a straw dataset (only the hits are read).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Submission CSV to write: event_id,hit_id,track_id."
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="StepAhead TrackNET checkpoint (not needed for --algorithm baseline).",
    ),
    algorithm: str = typer.Option(
        "tracknet",
        "--algorithm",
        help="tracknet (learned search spheres) or baseline (helix follower).",
    ),
    events: str | None = typer.Option(
        None, "--events", help="Comma-separated event ids, e.g. 1000,1001 (default: all)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help=(
            "JSON object of build settings to override "
            "(tracknet.building.BuildConfig; StrawBuildConfig for straw data)."
        ),
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="PyTorch CPU threads (default: PyTorch's choice)."
    ),
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
    progress: bool | None = progress_option(),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON summary instead of a sentence."
    ),
) -> None:
    """Build tracks for the events of --data-dir and write a TrackML submission.

    Every hit of every event is written once; hits on no track get track_id 0.
    """
    from ..parallel import prestart

    where = workers_of(workers, scheduler)
    prestart(where, preload=("tracknet.building.trackml",))
    from ..detectors import detector_of
    from .directory import build_directory, parse_event_list
    from .settings import ALGORITHMS

    if algorithm not in ALGORITHMS:
        raise ConfigError(f"unknown --algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}")
    output_file(out, "--out")
    if threads is not None:
        check_count(threads, "--threads", high=MAX_THREADS)
        import torch

        torch.set_num_threads(threads)
    config_type = detector_of(data_dir).build_backend().config_type
    settings = config_type.from_json(config) if config is not None else config_type()
    result = build_directory(
        data_dir,
        out,
        algorithm=algorithm,
        checkpoint=checkpoint,
        events=parse_event_list(events),
        progress=show_progress(progress),
        config=settings,
        workers=where,
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "out": str(result.path),
                    "algorithm": algorithm,
                    "n_events": result.n_events,
                    "n_hits": result.n_hits,
                    "n_tracks": result.n_tracks,
                    "seconds_per_event": result.seconds_per_event,
                },
                sort_keys=True,
            )
        )
    else:
        typer.echo(
            f"wrote {result.n_tracks} tracks ({algorithm}) for {result.n_events} event(s), "
            f"{result.seconds_per_event:.2f} s per event, to {result.path}"
        )


def module_map(
    data_dir: Path = typer.Option(
        ...,
        "--data-dir",
        help="Directory of TrackML events with truth and particles (e.g. tracknet simulate).",
    ),
    out: Path = typer.Option(..., "--out", help="Module map to write (.npz)."),
    events: str | None = typer.Option(
        None, "--events", help="Comma-separated event ids, e.g. 1,2 (default: all)."
    ),
    volumes: str | None = typer.Option(
        None,
        "--volumes",
        help="Comma-separated volume ids whose connections are kept, e.g. 7,8,9 (default: all).",
    ),
    min_pt: float | None = typer.Option(
        None, "--min-pt", help="Only particles of at least this pT (GeV; default: all)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON summary instead of a sentence."
    ),
) -> None:
    """Learn a module map (which modules true tracks connect) from truth-labelled events.

    A seed stage with module_map set to the file seeds only across connected modules.
    """
    import math

    from ..io.trackml import iter_events
    from ..simulation.run import METADATA_FILE
    from .directory import parse_event_list
    from .module_map import build_module_map

    output_file(out, "--out")
    wanted = None if volumes is None else parse_int_list(volumes, "--volumes")
    if wanted is not None and any(v < 0 for v in wanted):
        raise ConfigError(f"--volumes must be volume ids >= 0, got {volumes!r}")
    if min_pt is not None and not (math.isfinite(min_pt) and min_pt > 0):
        raise ConfigError(f"--min-pt must be a number > 0 (GeV), got {min_pt}")
    if not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir} is not a folder")
    meta: dict[str, object] = {"data_dir": str(data_dir.resolve())}
    record = data_dir / METADATA_FILE
    if record.is_file():
        try:
            simulation = json.loads(record.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise DataError("unreadable simulation record", file=str(record)) from None
        if isinstance(simulation, dict):  # the generator, its settings and seed
            meta["simulation"] = {k: v for k, v in simulation.items() if k != "sha256"}
    built = build_module_map(
        iter_events(data_dir, ("hits", "truth", "particles"), parse_event_list(events)),
        volumes=wanted,
        min_pt_gev=min_pt,
        meta=meta,
    )
    path = built.save(out)
    summary = {
        "out": str(path),
        "n_events": built.meta["n_events"],
        "modules": built.n_modules,
        "pairs": built.n_pairs,
        "triplets": built.n_triplets,
    }
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
    else:
        typer.echo(
            f"wrote a module map of {built.n_modules} modules, {built.n_pairs} pairs and "
            f"{built.n_triplets} triplets from {summary['n_events']} event(s) to {path}"
        )


def quality(
    data_dir: Path = typer.Option(
        ...,
        "--data-dir",
        help="Directory of TrackML events with truth (e.g. tracknet simulate trackml).",
    ),
    out: Path = typer.Option(..., "--out", help="Track-quality scores to write (.json)."),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="StepAhead TrackNET checkpoint (not for baseline)."
    ),
    algorithm: str = typer.Option(
        "tracknet",
        "--algorithm",
        help="tracknet, baseline, or both comma-separated: one score each, in one file.",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="JSON object of build settings (tracknet.building.BuildConfig)."
    ),
    events: str | None = typer.Option(
        None, "--events", help="Comma-separated event ids, e.g. 1,2 (default: all)."
    ),
    progress: bool | None = progress_option(),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON summary instead of a sentence."
    ),
) -> None:
    """Learn a track-quality score: build truth-labelled events and fit which candidates
    (or, with the build setting quality_on "tracks", which tracks) are fakes.

    The build setting quality_model set to the file drops what the score finds likely
    fakes (max_fake_probability), where quality_on says.
    """
    from tqdm.auto import tqdm

    from ..io.trackml import iter_events
    from ..model.checkpoint import load_checkpoint
    from .directory import parse_event_list
    from .quality import save_quality
    from .quality_fit import learn_quality
    from .settings import BuildConfig, check_algorithm

    algorithms = list(dict.fromkeys(a.strip() for a in algorithm.split(",")))
    for name in algorithms:
        check_algorithm(name)
    output_file(out, "--out")
    if not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir} is not a folder")
    settings = BuildConfig.from_json(config) if config is not None else BuildConfig()
    loaded = None
    if "tracknet" in algorithms:
        if checkpoint is None:
            raise ConfigError("algorithm 'tracknet' needs --checkpoint")
        loaded = load_checkpoint(checkpoint)
    selected = iter_events(data_dir, ("hits", "truth"), parse_event_list(events))
    fitted = learn_quality(
        tqdm(selected, desc="quality", unit="event", disable=not show_progress(progress)),
        algorithms,
        loaded,
        settings,
        meta={
            "data_dir": str(data_dir.resolve()),
            "checkpoint": None if checkpoint is None else str(checkpoint),
        },
    )
    path = save_quality(out, fitted.models)
    summary: dict[str, object] = {
        "out": str(path),
        "n_events": fitted.n_events,
        "max_fake_probability": settings.max_fake_probability,
        "quality_on": settings.quality_on,
        **fitted.figures,
    }
    what = settings.quality_on  # "candidates" or "tracks"
    lines = [
        f"{name}: {f['n_tracks']} {what}, {f['n_fakes']} fakes; drops "
        f"{f['fakes_dropped']:.1%} of the fakes and {f['true_tracks_dropped']:.1%} of the "
        f"true {what}"
        for name, f in fitted.figures.items()
    ]
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
    else:
        typer.echo(
            f"wrote track-quality scores from {fitted.n_events} event(s) to {path} (above fake "
            f"probability {settings.max_fake_probability}: " + "; ".join(lines) + ")"
        )


def align(
    data_dir: Path = typer.Option(
        ...,
        "--data-dir",
        help="Straw dataset of events to align on (no labels needed: late-in-fill events).",
    ),
    out: Path = typer.Option(..., "--out", help="Straw alignment to write (.json)."),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="JSON object of alignment settings (tracknet.building.straw.align.AlignmentConfig).",
    ),
    progress: bool | None = progress_option(),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON summary instead of a sentence."
    ),
) -> None:
    """Align the straws on the isolated tracks of straw events, without truth.

    The build setting alignment set to the file builds at the aligned positions.
    """
    from ..detectors import detector_of
    from ..io.straw import StrawDataset
    from ..simulation.straw import StrawGeometry
    from .straw.align import AlignmentConfig, estimate_alignment

    output_file(out, "--out")
    if not data_dir.is_dir():
        raise ConfigError(f"--data-dir {data_dir} is not a folder")
    if detector_of(data_dir).name != "straw":
        raise DataError("tracknet align works on straw datasets only", file=str(data_dir))
    settings = AlignmentConfig.from_json(config) if config is not None else AlignmentConfig()
    dataset = StrawDataset.open(data_dir)
    geometry = StrawGeometry.from_dict(dataset.geometry_parameters())
    built = estimate_alignment(
        dataset.read_all(),
        geometry,
        settings,
        meta={"data_dir": str(data_dir.resolve())},
        progress=show_progress(progress),
    )
    path = built.save(out)
    last = built.meta["rounds"][-1]
    summary = {
        "out": str(path),
        "n_events": built.meta["n_events"],
        "tracks": built.meta["tracks"],
        "straws_aligned": built.meta["straws_aligned"],
        "residual_rms_mm_before": built.meta["rounds"][0]["residual_rms_mm_before"],
        "residual_rms_mm_after": last["residual_rms_mm_after"],
        "offset_rms_mm": built.meta["offset_rms_mm"],
    }
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
    else:
        typer.echo(
            f"aligned {summary['straws_aligned']} straws on {summary['tracks']} isolated tracks "
            f"of {summary['n_events']} event(s) (offsets {summary['offset_rms_mm']:.3f} mm rms; "
            f"residuals {summary['residual_rms_mm_before']:.3f} -> "
            f"{summary['residual_rms_mm_after']:.3f} mm rms), wrote {path}"
        )


def register(app: typer.Typer) -> None:
    """Add ``build``, ``module-map``, ``quality`` and ``align`` to ``app``."""
    app.command("build")(build)
    app.command("module-map")(module_map)
    app.command("quality")(quality)
    app.command("align")(align)
