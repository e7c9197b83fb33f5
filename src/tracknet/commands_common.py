"""Helpers shared by the command modules (``*/commands.py``): option parsing and printing.

Importing this module loads only typer and :mod:`tracknet.errors`, so the CLI stays fast
(the commands layout: docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import typer

from .errors import ConfigError

__all__ = [
    "MAX_THREADS",
    "check_count",
    "echo_table",
    "named_options",
    "output_dir",
    "output_file",
    "parse_int_list",
    "parse_numbers",
    "progress_option",
    "show_progress",
    "typer_option",
    "workers_of",
    "workers_options",
]

_INT64_MAX = 2**63 - 1
#: The most CPU threads a ``--threads`` option accepts.
MAX_THREADS = 1024


def typer_option(flag: str, help_text: str, default: Any = ...) -> Any:
    """A typer option (keeps the command's signature readable)."""
    return typer.Option(default, flag, help=help_text)


def parse_int_list(text: str, flag: str) -> list[int]:
    """The integers of a comma-separated option such as ``--volumes 8,13,17``.

    Raises :class:`~tracknet.errors.ConfigError` (one line) when a value is not an integer.
    """
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} must be comma-separated integers, got {text!r}") from None
    if any(abs(v) > _INT64_MAX for v in values):  # ids are int64 everywhere
        raise ConfigError(f"{flag} holds an integer beyond 64 bits, got {text!r}")
    return values


def parse_numbers(text: str, kind: type, flag: str) -> tuple[Any, ...]:
    """The values (``kind``: int or float) of a comma-separated option; blanks are skipped.

    Raises :class:`~tracknet.errors.ConfigError` (one line) when a value does not parse or
    none is given.
    """
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{flag} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{flag} must name at least one value")
    return values


def echo_table(rows: Iterable[tuple[str, Any]], float_format: str) -> None:
    """Print ``label  value`` lines, labels left-aligned to the widest one.

    Floats are shown with ``float_format`` (e.g. ``".6g"``), ``None`` as ``n/a``.
    """
    rows = list(rows)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        shown = (
            "n/a"
            if value is None
            else (format(value, float_format) if isinstance(value, float) else str(value))
        )
        typer.echo(f"{label:<{width}}  {shown}")


def progress_option(help_text: str = "Show a progress bar") -> Any:
    """``--progress/--no-progress``; unset, a bar is shown only when stderr is a terminal."""
    return typer.Option(
        None, "--progress/--no-progress", help=f"{help_text} (default: on a terminal only)."
    )


def workers_options() -> tuple[Any, Any]:
    """``--workers N`` and ``--scheduler ADDRESS`` (also from ``TRACKNET_WORKERS`` and
    ``TRACKNET_SCHEDULER``): where the per-event work runs (:mod:`tracknet.parallel`)."""
    return (
        typer.Option(
            None,
            "--workers",
            envvar="TRACKNET_WORKERS",
            help="Worker processes over events (default: the machine's cores; 1: this process).",
        ),
        typer.Option(
            None,
            "--scheduler",
            envvar="TRACKNET_SCHEDULER",
            help="Address of a Dask scheduler (tcp://host:8786) to send the events to.",
        ),
    )


def workers_of(workers: int | None, scheduler: str | None) -> Any:
    """The :class:`tracknet.parallel.Workers` of the two options."""
    from .parallel import Workers

    return Workers.of(workers, scheduler)


def show_progress(flag: bool | None) -> bool:
    """The value of a :func:`progress_option`: the flag, or whether stderr is a terminal."""
    if flag is not None:
        return flag
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def check_count(value: int, flag: str, *, low: int = 1, high: int | None = None) -> int:
    """``value`` unless it lies outside ``[low, high]``: a one-line error naming ``flag``."""
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{flag} must be an integer {bound}, got {value}")
    return value


def _existing_folder(path: Path, flag: str, *, create: bool) -> None:
    """The folder that will hold ``path`` exists (or, with ``create``, can be made)."""
    parent = path.parent
    probe = parent
    while not probe.exists():
        if not create:
            raise ConfigError(f"{flag} {path}: folder {parent} does not exist")
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag} {path}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: folder {probe} is not writable")


def output_file(path: Path, flag: str) -> Path:
    """Check an output file's path before any work: nothing yet or a regular file (a link
    to one is written through), in a writable folder.

    The folder must exist (a mistyped folder is an error, not a new tree of folders).
    """
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory")
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{flag} {path} is a link to nothing ({os.readlink(path)})")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {path} exists and is not a regular file")
    _existing_folder(path.resolve() if path.is_symlink() else path, flag, create=False)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {path} exists and is not writable")
    return path


def output_dir(path: Path, flag: str) -> Path:
    """Check an output directory's path before any work: a folder or nothing yet, and
    creatable (missing parents are made, as for run directories)."""
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{flag} {path} exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {path} is not writable")
        return path
    _existing_folder(path, flag, create=True)
    return path


@contextlib.contextmanager
def named_options(flags: Mapping[str, str]) -> Iterator[None]:
    """Within the block, a settings error on field ``f`` is reported under the option
    ``flags[f]`` that set it (``--field: simulation field_tesla must be ...``)."""
    try:
        yield
    except ConfigError as exc:
        flag = flags.get(exc.setting or "")
        if flag is None:
            raise
        raise ConfigError(f"{flag}: {exc}", setting=exc.setting) from None
