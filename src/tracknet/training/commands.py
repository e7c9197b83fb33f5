"""Command-line commands of the training pipeline: train, validate, density, export.

:func:`register` adds them to an app, the same way for ``tracknet`` and for
``python -m tracknet.training``. Each command parses, calls one function and prints;
input errors are one-line :class:`~tracknet.errors.TrackNetError`.

See docs/architecture.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..commands_common import echo_table, output_file, parse_int_list
from ..errors import ConfigError
from ..io.atomic import json_line

__all__ = [
    "TRAIN_CONTEXT_SETTINGS",
    "density_command",
    "export_command",
    "register",
    "train_command",
    "validate_command",
]

#: typer/click settings that let ``tracknet train`` take Hydra overrides as extra arguments.
TRAIN_CONTEXT_SETTINGS: dict[str, Any] = {"allow_extra_args": True, "ignore_unknown_options": True}


def _print_table(data: dict[str, Any], keys: list[str]) -> None:
    echo_table(((key, data.get(key)) for key in keys), ".6g")


# --------------------------------------------------------------------------- train


def train_command(
    ctx: typer.Context,
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the composed configuration (YAML) and exit."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the final figures as one JSON object."
    ),
) -> None:
    """Train StepAhead TrackNET: tracknet train [KEY=VALUE ...] (Hydra overrides).

    Examples: tracknet train experiment=simulated; tracknet train experiment=trackml
    data.dir=DIR trainer.max_epochs=3; tracknet train training.resume_from=RUN (a run's
    folder or a .ckpt). Runs go to outputs/YYYY-MM-DD/HH-MM-SS/ (run.output_dir=... to
    choose), checkpoints to its logs/<experiment>/version_N/checkpoints/.
    """
    from omegaconf import OmegaConf

    from .config import compose_config, to_container
    from .settings import TrackNetSettings
    from .train import train

    overrides = list(ctx.args)
    stray = [a for a in overrides if a.startswith("-")]
    if stray:
        raise ConfigError(
            f"unknown option {stray[0]!r}: configuration is given as KEY=VALUE overrides"
        )
    cfg = compose_config(overrides)
    if print_config:
        # Checked as a run would check it: interpolations resolve, values are in range.
        TrackNetSettings.from_config(to_container(cfg))
        typer.echo(OmegaConf.to_yaml(cfg, resolve=True), nl=False)
        return
    results = train(cfg)
    if as_json:
        typer.echo(json_line(results))
        return
    keys = [
        "run_dir",
        "log_dir",
        "checkpoint_dir",
        "best_checkpoint",
        "last_checkpoint",
        "epochs",
        "train_seconds",
        "train/tracks_per_s",
        "val/loss",
        "val/t1_efficiency",
        "val/t2_efficiency",
        "val/t1_radius_mm",
        "val/t2_radius_mm",
        "val/t1_radius_scale",
        "val/t2_radius_scale",
    ]
    _print_table(results, [k for k in keys if k in results])


# --------------------------------------------------------------------------- validate


def validate_command(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="A TrackNET checkpoint (.ckpt)."),
    data_dir: Path = typer.Option(
        ..., "--data-dir", help="Directory of TrackML events with truth and particles."
    ),
    min_pt: float = typer.Option(1.0, "--min-pt", help="Evaluate particles with pT >= this (GeV)."),
    min_hits: int = typer.Option(
        3, "--min-hits", help="Evaluate particles with at least this many hits."
    ),
    density: Path | None = typer.Option(
        None,
        "--density",
        help="A density map from `tracknet density`: adds the expected hits per sphere.",
    ),
    volumes: str | None = typer.Option(
        None,
        "--volumes",
        help="Comma-separated volume ids: use only their hits (e.g. 8,13,17 for the barrel).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Search spheres of a checkpoint on real tracks: hit efficiency, volume, hits inside.

    For t1 (next hit) and t2 (hit after next): the share of true hits inside the
    predicted spheres, the mean sphere volume (mm^3) and the mean number of the event's
    hits (all of them, noise included) inside a sphere, counted with a k-d tree.
    """
    from .validate import validate_checkpoint

    volume_ids = None
    if volumes:
        volume_ids = parse_int_list(volumes, "--volumes")
    result = validate_checkpoint(
        checkpoint,
        data_dir,
        min_pt=min_pt,
        min_hits=min_hits,
        density_map=density,
        volumes=volume_ids,
    )
    if as_json:
        typer.echo(json_line(result))
        return
    keys = ["n_events", "n_tracks", "n_predictions_t1", "n_predictions_t2"]
    for target in ("t1", "t2"):
        keys += [
            f"{target}_efficiency",
            f"{target}_hits_in_sphere",
            f"{target}_volume_mm3",
            f"{target}_radius_mm_median",
        ]
        if density is not None:
            keys.append(f"{target}_expected_hits")
    _print_table(result, keys)


# --------------------------------------------------------------------------- density


def density_command(
    data_dir: Path = typer.Option(
        ..., "--data-dir", help="Directory of TrackML events (hits are enough)."
    ),
    voxel_size: float = typer.Option(20.0, "--voxel-size", help="Edge of the cubic voxels, mm."),
    output: Path = typer.Option(..., "--output", help="The density map file to write (.npz)."),
    max_events: int | None = typer.Option(
        None, "--max-events", help="Use only the first N events."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Hit density map (mean hits per mm^3 per event on a voxel grid) of a directory of events.

    The file holds exactly the keys that the density metric reads
    (tracknet.model.density.DENSITY_MAP_KEYS); pass it to `tracknet validate --density`
    or training.density_map=FILE.
    """
    from .density import build_density_map

    output_file(output, "--output")
    summary = build_density_map(data_dir, output, voxel_size_mm=voxel_size, max_events=max_events)
    if as_json:
        typer.echo(json_line(summary))
    else:
        typer.echo(
            f"wrote {summary['output']}: {summary['n_events']} events, grid {summary['shape']} "
            f"of {summary['voxel_size_mm']} mm voxels"
        )


# --------------------------------------------------------------------------- export


def export_command(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="A TrackNET checkpoint (.ckpt)."),
    out: Path = typer.Option(..., "--out", help="The ONNX file to write."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset version."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Export the model's step function (x_t, state) -> spheres, new state to ONNX.

    The batch size is dynamic; the file is checked against PyTorch with onnxruntime
    before it is kept (needs the optional extra: pip install 'tracknet[onnx]').
    """
    from ..export.onnx import export_onnx

    output_file(out, "--out")
    summary = export_onnx(checkpoint, out, opset=opset)
    if as_json:
        typer.echo(json_line(summary))
    else:
        typer.echo(
            f"wrote {summary['onnx']} (opset {summary['opset']}; max |onnxruntime - torch| = "
            f"{summary['max_abs_diff_vs_torch']:.2g})"
        )


def register(app: typer.Typer) -> None:
    """Add ``train``, ``validate``, ``density`` and ``export`` to ``app``."""
    app.command("train", context_settings=TRAIN_CONTEXT_SETTINGS)(train_command)
    app.command("validate")(validate_command)
    app.command("density")(density_command)
    app.command("export")(export_command)
