"""``python -m tracknet.training COMMAND ...``: the training commands without the main CLI.

The same commands, registered by the same function, as on the ``tracknet`` app (train,
validate, density, export).
Lightning's DDP launcher re-runs this module for the other ranks of a run.
"""

from __future__ import annotations

import sys

import typer

from ..errors import TrackNetError
from .commands import register

__all__ = ["app", "main"]

app = typer.Typer(
    name="tracknet-training",
    help="StepAhead TrackNET training commands.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the app; input errors become one line ``error: ...`` and exit status 2."""
    try:
        app(args=argv, prog_name="python -m tracknet.training", standalone_mode=True)
    except TrackNetError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
