"""``python -m tracknet.training COMMAND ...``: the training commands without the main CLI.

The same functions the ``tracknet`` app registers (train, validate, density, export).
Lightning's DDP launcher re-runs this module for the other ranks of a run.
"""

from __future__ import annotations

import sys

import typer

from ..errors import TrackNetError
from .commands import (
    TRAIN_CONTEXT_SETTINGS,
    density_command,
    export_command,
    train_command,
    validate_command,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="tracknet-training",
    help="StepAhead TrackNET training commands.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("train", context_settings=TRAIN_CONTEXT_SETTINGS)(train_command)
app.command("validate")(validate_command)
app.command("density")(density_command)
app.command("export")(export_command)


def main(argv: list[str] | None = None) -> None:
    """Run the app; input errors become one line ``error: ...`` and exit status 2."""
    try:
        app(args=argv, prog_name="python -m tracknet.training", standalone_mode=True)
    except TrackNetError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
