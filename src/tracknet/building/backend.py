"""What the one directory driver (:mod:`~tracknet.building.directory`) asks of a detector.

A detector's ``build_backend()`` returns a :class:`BuildBackend`: its settings type, its
check of a model checkpoint, its event selection and units of work, the builder of one
unit, and the detector-specific fields of the build record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from ..model.checkpoint import LoadedModel
from ..schema import Settings

__all__ = ["BuildBackend", "EventSelection", "UnitBuild", "UnitBuilder"]


@dataclass(frozen=True)
class UnitBuild:
    """One built unit of work: its submission rows, events, tracks and build seconds
    (reading excluded); ``events``: figures per event id for the build record, if any."""

    submission: pd.DataFrame
    n_events: int
    n_tracks: int
    seconds: float
    events: dict[int, dict[str, float | int]] = field(default_factory=dict)


class EventSelection(Protocol):
    """The events of a directory that a build will read."""

    @property
    def n_events(self) -> int: ...


class UnitBuilder(Protocol):
    """Builds the units of one directory build, keeping what its record needs."""

    def units(self, selection: Any) -> Iterator[Any]:
        """The units of work of ``selection`` (read lazily)."""
        ...

    def build(self, unit: Any) -> UnitBuild: ...

    def record_extras(self) -> dict[str, Any]:
        """The detector's own fields of the build record."""
        ...


class BuildBackend(Protocol):
    """One detector's track building, as the directory driver uses it."""

    @property
    def config_type(self) -> type[Settings]:
        """The settings class of ``--config`` (a :class:`~tracknet.schema.Settings`)."""
        ...

    @property
    def progress_label(self) -> str:
        """The progress bar's label (``"build"``, ``"build straw"``)."""
        ...

    def check_model(self, loaded: LoadedModel, where: str, config: Any) -> None:
        """One-line :class:`~tracknet.errors.ConfigError` unless the model can build."""
        ...

    def select_events(
        self, data_dir: str | os.PathLike[str], events: Sequence[int] | None
    ) -> EventSelection:
        """The events to build (all, or the ``events`` ids); a one-line
        :class:`~tracknet.errors.DataError` for an empty directory or unknown ids."""
        ...

    def builder(self, algorithm: str, loaded: LoadedModel | None, config: Any) -> UnitBuilder: ...
