"""Running a command-line app: input errors and interrupts become one line on stderr.

:func:`run_app` is the body of every entry point (``tracknet``, ``python -m
tracknet.training``): an input error (:class:`~tracknet.errors.TrackNetError`) prints
``error: ...`` and exits 2; SIGINT and SIGTERM raise
:class:`~tracknet.interrupts.Interrupted` while the app runs, so every writer cleans up,
and then print ``interrupted: <what is left>`` and exit 130 or 143 (see
docs/architecture.md, outputs and interruption).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import warnings
from typing import Any

import typer

from .errors import TrackNetError
from .interrupts import Interrupted, interrupt_of, raising_signals
from .notes import reset_notes

__all__ = ["run_app"]


def _close_progress_bars() -> None:
    """Close the progress bars an interrupt left open, so the last line is the message."""
    tqdm_module = sys.modules.get("tqdm.std")
    if tqdm_module is None:
        return
    for bar in list(getattr(tqdm_module.tqdm, "_instances", ())):
        with contextlib.suppress(Exception):  # a bar that cannot close must not hide the message
            bar.close()


def run_app(app: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run ``app`` with ``argv``; exits (``SystemExit``) with the command's status.

    Input errors are :class:`TrackNetError`, a usage error of the command line (a
    mistyped value, an unknown or a missing option), an operating-system error on a path
    (a read-only folder, a full disk) and running out of memory on an absurd size: each
    is one line ``error: ...`` and exit status 2.
    """
    from typer import _click as click

    command = typer.main.get_command(app)
    reset_notes()
    interrupted: Interrupted | None = None
    code: object = 0
    with raising_signals(), warnings.catch_warnings():
        if not sys.warnoptions:  # numpy's overflow notes on an absurd value are not for users
            warnings.simplefilter("ignore", RuntimeWarning)
        try:
            code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
        except BaseException as exc:
            # Also an error raised after a signal came (its cleanup failing, say); but a
            # command that ended normally (a plain exit) is not made an interrupt.
            interrupted = interrupt_of(exc, pending=not isinstance(exc, SystemExit))
            if interrupted is None:
                if isinstance(exc, click.exceptions.NoArgsIsHelpError):  # help printed
                    sys.exit(exc.exit_code)
                line = _error_line(exc, click)
                if line is not None:
                    typer.echo(f"error: {line}", err=True)
                    sys.exit(2)
                if not isinstance(exc, KeyboardInterrupt):
                    raise
                interrupted = Interrupted(signal.SIGINT)
    if interrupted is not None:
        # The outputs are settled: further signals while Python shuts down change nothing,
        # nor does a child process (a DataLoader worker) that the signal killed.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _close_progress_bars()
        typer.echo(interrupted.message(), err=True)
        sys.exit(interrupted.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _error_line(exc: BaseException, click: Any) -> str | None:
    """The one line of an input error, or None for anything else (a bug: its traceback)."""
    if isinstance(exc, click.exceptions.UsageError):
        where = f" ({exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        message = f"{exc.format_message()}{where}"
    elif isinstance(exc, TrackNetError):
        message = str(exc)
    elif isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
        message = f"{' -> '.join(paths)}: {reason}" if paths else f"{reason} ({exc})"
    elif isinstance(exc, OverflowError):  # a number given beyond what its use can hold
        message = f"a number given is too large ({exc})"
    elif isinstance(exc, MemoryError):
        message = "out of memory: a size or count given is too large for this machine"
    else:
        return None
    return " ".join(message.split())
