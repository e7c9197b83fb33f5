"""The one place where a dataset or a name is mapped to its detector (docs/architecture.md)."""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..io.straw import is_straw_dataset
from .base import Detector
from .straw import StrawDetector
from .trackml import TrackMLDetector

__all__ = ["DETECTORS", "detector_named", "detector_of"]

#: Every detector by name.
DETECTORS: dict[str, Detector] = {d.name: d for d in (TrackMLDetector(), StrawDetector())}


def detector_of(data_dir: str | os.PathLike[str]) -> Detector:
    """The detector of a dataset directory: straw when it holds a straw dataset record,
    else TrackML (a directory of ``event<id>-*.csv`` or ``.parquet`` files)."""
    return DETECTORS["straw" if is_straw_dataset(data_dir) else "trackml"]


def detector_named(name: str) -> Detector:
    """The detector called ``name``; a one-line :class:`ConfigError` for an unknown one."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ConfigError(f"unknown detector {name!r}; choose one of {sorted(DETECTORS)}") from None
