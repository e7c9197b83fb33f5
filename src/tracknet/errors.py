"""Errors that the command line turns into one clear line and a non-zero exit."""

from __future__ import annotations

__all__ = ["CheckpointError", "ConfigError", "DataError", "TrackNetError"]


class TrackNetError(Exception):
    """Base of every error caused by the user's input rather than by a bug.

    ``str(error)`` is one line that names what is wrong and where; the CLI prints it as
    ``error: <message>`` and exits with status 2.
    """


class DataError(TrackNetError, ValueError):
    """Bad input data: a missing file or column, a wrong type, NaN, duplicate ids...

    ``file``, ``column`` and ``row`` (0-based data row) locate the problem when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.row = row
        self.reason = message
        where = []
        if file is not None:
            where.append(str(file))
        if column is not None:
            where.append(f"column '{column}'")
        if row is not None:
            # A CSV row is also a line (the header is line 1); a Parquet file has no lines.
            line = "" if str(file).endswith(".parquet") else f" (line {row + 2})"
            where.append(f"row {row}{line}")
        prefix = ": ".join([", ".join(where)]) + ": " if where else ""
        super().__init__(f"{prefix}{message}")


class ConfigError(TrackNetError, ValueError):
    """A bad parameter, option or configuration value.

    ``setting`` names the settings field at fault when the error comes from a settings
    check, so that a command can name its own option instead (``--field`` for
    ``field_tesla``).
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(message)


class CheckpointError(TrackNetError):
    """A checkpoint that cannot be opened or belongs to another model."""
