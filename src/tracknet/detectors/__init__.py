"""The detectors TrackNET knows, each a backend behind one interface per stage.

Generic code asks :func:`detector_of` (a dataset directory) or :func:`detector_named`
(a checkpoint's or a config's detector name) and calls the answer; it never tests the
dataset kind itself. See ``docs/architecture.md``.
"""

from __future__ import annotations

from .base import Detector
from .registry import DETECTORS, detector_named, detector_of

__all__ = ["DETECTORS", "Detector", "detector_named", "detector_of"]
