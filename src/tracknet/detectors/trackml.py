"""The TrackML silicon detector (real TrackML events and the TrackML-like simulator)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Detector

if TYPE_CHECKING:
    from ..building.backend import BuildBackend

__all__ = ["TrackMLDetector"]


class TrackMLDetector(Detector):
    name = "trackml"
    dims = 3

    # ------------------------------------------------------------------ building
    def build_backend(self) -> BuildBackend:
        """Track building of this detector's datasets (:mod:`tracknet.building.trackml`)."""
        from ..building.trackml import TrackMLBuildBackend

        return TrackMLBuildBackend()
