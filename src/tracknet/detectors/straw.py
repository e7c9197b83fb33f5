"""The 2D straw-tube tracker (straw datasets: pseudo-data, synthetic and semi-synthetic)."""

from __future__ import annotations

from .base import Detector

__all__ = ["StrawDetector"]


class StrawDetector(Detector):
    name = "straw"
    dims = 2
