"""The TrackML silicon detector (real TrackML events and the TrackML-like simulator)."""

from __future__ import annotations

from .base import Detector

__all__ = ["TrackMLDetector"]


class TrackMLDetector(Detector):
    name = "trackml"
    dims = 3
