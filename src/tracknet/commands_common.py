"""Helpers shared by the command modules (``*/commands.py``): option parsing and printing.

Importing this module loads only typer and :mod:`tracknet.errors`, so the CLI stays fast
(the commands layout: docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer

from .errors import ConfigError

__all__ = ["echo_table", "parse_int_list", "parse_numbers", "typer_option"]


def typer_option(flag: str, help_text: str, default: Any = ...) -> Any:
    """A typer option (keeps the command's signature readable)."""
    return typer.Option(default, flag, help=help_text)


def parse_int_list(text: str, flag: str) -> list[int]:
    """The integers of a comma-separated option such as ``--volumes 8,13,17``.

    Raises :class:`~tracknet.errors.ConfigError` (one line) when a value is not an integer.
    """
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} must be comma-separated integers, got {text!r}") from None


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
