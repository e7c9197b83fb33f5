"""The ``tracknet`` command line: the app, its command modules, and the entry point.

Every command lives in the ``commands.py`` of the package whose stage it runs and is
added by that module's ``register(app)`` (docs/architecture.md, commands). An input error
(:class:`tracknet.errors.TrackNetError`) is printed as one line ``error: ...``, exit 2.
"""

from __future__ import annotations

import os
import sys

# Idle OpenMP threads sleep instead of spinning: on a shared or busy CPU, two spinning
# threads made each model step up to 100x slower. Set before torch is first imported;
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer

from . import commands as _package_commands
from .augment import commands as _augment_commands
from .building import commands as _building_commands
from .errors import TrackNetError
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
    _io_commands,  # info
    _evaluation_commands,  # evaluate, straw-curves
    _viz_commands,  # display, display-straw
    _simulation_commands,  # simulate trackml, simulate straw
    _package_commands,  # demo
    _augment_commands,  # overlay
    _building_commands,  # build, module-map
    _training_commands,  # train, validate, density, export
)

#: The order of the commands in ``tracknet --help``; a command not named here comes last.
HELP_ORDER = (
    "info", "evaluate", "display", "demo", "display-straw", "overlay", "build", "module-map",
    "straw-curves", "train", "validate", "density", "export",
)  # fmt: skip

for _module in COMMAND_MODULES:
    _module.register(app)
app.registered_commands.sort(
    key=lambda c: HELP_ORDER.index(c.name) if c.name in HELP_ORDER else len(HELP_ORDER)
)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the app; every input error becomes one line, exit 2.

    Input errors are :class:`TrackNetError`, a usage error of an option (a mistyped value,
    an unknown option, a missing one), or an operating-system error on a path the user
    named (a read-only folder, a full disk); out of memory on an absurd size is one too.
    """
    from typer import _click as click

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="tracknet", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # the help is already printed
        sys.exit(exc.exit_code)
    except click.exceptions.UsageError as exc:
        where = f" ({exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        _fail(f"{exc.format_message()}{where}")
    except TrackNetError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error_line(exc))
    except MemoryError:
        _fail("out of memory: a size or count given is too large for this machine")
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _os_error_line(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else f"{reason} ({exc})"


if __name__ == "__main__":
    main()
