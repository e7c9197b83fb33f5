"""The 2D straw-tube tracker (straw datasets: pseudo-data, synthetic and semi-synthetic)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Detector

if TYPE_CHECKING:
    from ..building.backend import BuildBackend

__all__ = ["StrawDetector"]


class StrawDetector(Detector):
    name = "straw"
    dims = 2

    # ------------------------------------------------------------------ building
    def build_backend(self) -> BuildBackend:
        """Track building of this detector's datasets (:mod:`tracknet.building.straw.backend`)."""
        from ..building.straw.backend import StrawBuildBackend

        return StrawBuildBackend()

    # ------------------------------------------------------------------ training
    def simulation_cache(self) -> Any:
        """The cache of simulated straw training events."""
        from ..training.simulation_cache import STRAW_EVENTS

        return STRAW_EVENTS

    def data_module(self, settings: Any, *, progress: bool = True) -> Any:
        """The training data module of these ``data`` settings (straw datasets)."""
        from ..io.straw import is_straw_dataset
        from ..training.straw_data import StrawDataModule

        return StrawDataModule(
            settings,
            progress=progress,
            simulation=self.simulation_cache(),
            is_dataset=is_straw_dataset,
        )
