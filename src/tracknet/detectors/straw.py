"""The 2D straw-tube tracker (straw datasets: pseudo-data, synthetic and semi-synthetic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
