"""The interface every detector backend implements, one method per pipeline stage."""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..building.backend import BuildBackend

__all__ = ["Detector"]


class Detector(ABC):
    """One detector: which simulator, track preparation, builder and metrics its data use.

    Stage methods import their implementation when called, so choosing a detector costs
    nothing and this package imports no stage at module level.
    """

    #: The name recorded in dataset records, checkpoints and build records.
    name: ClassVar[str]
    #: How many coordinates a hit has for the model (3: x, y, z; 2: x, y).
    dims: ClassVar[int]

    def __repr__(self) -> str:
        return f"<detector {self.name}>"

    # ------------------------------------------------------------------ building
    def build_backend(self) -> BuildBackend:
        """Track building of this detector's datasets (see :mod:`tracknet.building.backend`)."""
        raise NotImplementedError(f"{self.name}: no track building")
