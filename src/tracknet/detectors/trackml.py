"""The TrackML silicon detector (real TrackML events and the TrackML-like simulator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

    # ------------------------------------------------------------------ training
    def simulation_cache(self) -> Any:
        """The cache of simulated TrackML-like training events."""
        from ..training.simulation_cache import TRACKML_EVENTS

        return TRACKML_EVENTS

    def data_module(self, settings: Any, *, progress: bool = True) -> Any:
        """The training data module of these ``data`` settings (TrackML CSV events)."""
        from ..training.datamodule import TrackDataModule

        return TrackDataModule(settings, progress=progress, simulation=self.simulation_cache())
