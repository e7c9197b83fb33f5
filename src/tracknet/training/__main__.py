"""``python -m tracknet.training COMMAND ...``: the training commands without the main CLI.

The same commands, registered by the same function, as on the ``tracknet`` app (train,
validate, density, export).
Lightning's DDP launcher re-runs this module for the other ranks of a run.
"""

from __future__ import annotations

import typer

from ..entry import run_app
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
    """Run the app; input errors become one line ``error: ...`` and exit status 2, an
    interrupt one line ``interrupted: ...`` and 130 or 143 (:func:`tracknet.entry.run_app`)."""
    run_app(app, argv, "python -m tracknet.training")


if __name__ == "__main__":
    main()
