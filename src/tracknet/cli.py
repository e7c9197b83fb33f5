"""The ``tracknet`` command line: the app, its command modules, and the entry point.

Every command lives in the ``commands.py`` of the package whose stage it runs and is
added by that module's ``register(app)`` (docs/architecture.md, commands). An input error
(:class:`tracknet.errors.TrackNetError`) is printed as one line ``error: ...``, exit 2.
SIGINT and SIGTERM raise :class:`tracknet.interrupts.Interrupted`, so the cleanup of every
writer runs; the command then prints one line ``interrupted: <what is left>`` and exits
with 130 (SIGINT) or 143 (SIGTERM) (:func:`tracknet.entry.run_app`).
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU, two spinning
# threads made each model step up to 100x slower. Set before torch is first imported;
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer

from . import commands as _package_commands
from .augment import commands as _augment_commands
from .building import commands as _building_commands
from .entry import run_app
from .evaluation import commands as _evaluation_commands
from .io import commands as _io_commands
from .simulation import commands as _simulation_commands
from .training import commands as _training_commands
from .viz import commands as _viz_commands

__all__ = ["COMMAND_MODULES", "HELP_ORDER", "app", "main"]

app = typer.Typer(
    name="tracknet",
    help="TrackNET: machine-learned particle track reconstruction (StepAhead TrackNET).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: The command modules, registered in this order (groups such as ``simulate`` are listed last).
COMMAND_MODULES = (
    _io_commands,  # info, convert
    _evaluation_commands,  # evaluate, straw-curves
    _viz_commands,  # display, display-straw
    _simulation_commands,  # simulate trackml, simulate straw
    _package_commands,  # demo
    _augment_commands,  # overlay
    _building_commands,  # build, module-map, quality, align
    _training_commands,  # train, validate, density, export
)

#: The order of the commands in ``tracknet --help``; a command not named here comes last.
HELP_ORDER = (
    "info", "convert", "evaluate", "display", "demo", "display-straw", "overlay", "build",
    "module-map", "quality", "align", "straw-curves", "train", "validate", "density", "export",
)  # fmt: skip

for _module in COMMAND_MODULES:
    _module.register(app)
app.registered_commands.sort(
    key=lambda c: HELP_ORDER.index(c.name) if c.name in HELP_ORDER else len(HELP_ORDER)
)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the app; input errors and interrupts become one line."""
    run_app(app, argv, "tracknet")


if __name__ == "__main__":
    main()
