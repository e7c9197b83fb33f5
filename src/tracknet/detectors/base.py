"""The interface every detector backend implements, one method per pipeline stage.

The stage methods and who calls them: docs/architecture.md (detectors as backends).
"""

from __future__ import annotations

import os
from abc import ABC
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd

    from ..augment.library import LibraryCriteria, TrackLibrary
    from ..augment.writers import OverlayJob
    from ..building.backend import BuildBackend
    from ..evaluation.evaluate import DirectoryEvaluation
    from ..evaluation.matching import ParticleSelection
    from ..parallel import Workers

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

    # ------------------------------------------------------------------ training
    def simulation_cache(self) -> Any:
        """The cache of simulated training events of this detector
        (:mod:`tracknet.training.simulation_cache`)."""
        raise NotImplementedError(f"{self.name}: no simulated training events")

    def data_module(self, settings: Any, *, progress: bool = True) -> Any:
        """The training data module of these ``data`` settings (the stage behind
        :func:`tracknet.training.train.train`)."""
        raise NotImplementedError(f"{self.name}: no training data")

    # ------------------------------------------------------------------ evaluation
    def evaluate_directory(
        self,
        data_dir: str | os.PathLike[str],
        submission: str | os.PathLike[str] | pd.DataFrame,
        selection: ParticleSelection | None,
        *,
        min_track_hits: int,
        use_computed_weights: bool = False,
        workers: Workers | None = None,
        truth_dir: str | os.PathLike[str] | None = None,
    ) -> DirectoryEvaluation:
        """Evaluate every event of the dataset ``data_dir`` that the submission names
        (the stage behind :func:`tracknet.evaluation.files.evaluate_submission`), the
        events by ``workers`` where the detector evaluates event by event."""
        raise NotImplementedError(f"{self.name}: no evaluation")

    # ------------------------------------------------------------------ augmentation
    def overlay_library_criteria(self) -> LibraryCriteria:
        """The criteria of a track library cut from this detector's events, when the user
        gives none."""
        raise NotImplementedError(f"{self.name}: no overlays")

    def track_library(
        self, source: str | os.PathLike[str], criteria: LibraryCriteria | None
    ) -> TrackLibrary:
        """The track library of a labelled source directory of this detector's events
        (``criteria`` ``None``: :class:`~tracknet.augment.library.LibraryCriteria` as defined)."""
        raise NotImplementedError(f"{self.name}: no overlays")

    def write_overlay(self, job: OverlayJob) -> dict[str, Any]:
        """Write an overlay in this detector's event format; return the dataset record
        (see :mod:`tracknet.augment.writers`)."""
        raise NotImplementedError(f"{self.name}: no overlays")
