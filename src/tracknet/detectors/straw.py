"""The 2D straw-tube tracker (straw datasets: pseudo-data, synthetic and semi-synthetic).

Its stage methods: docs/architecture.md (detectors as backends).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .base import Detector

if TYPE_CHECKING:
    import pandas as pd

    from ..augment.library import LibraryCriteria, TrackLibrary
    from ..augment.writers import OverlayJob
    from ..building.backend import BuildBackend
    from ..evaluation.evaluate import DirectoryEvaluation
    from ..evaluation.matching import ParticleSelection
    from ..parallel import Workers

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
        """Mean TrackML score, tracking and straw metrics of all named events at once
        (:func:`tracknet.evaluation.straw.evaluate_straw_submission`). Straw events carry
        their hit weights, so ``use_computed_weights`` does not apply; the evaluation is
        vectorised over all events in this process, whatever ``workers`` says."""
        from ..evaluation.straw import evaluate_straw_submission

        return evaluate_straw_submission(
            data_dir, submission, selection, min_track_hits=min_track_hits, truth_dir=truth_dir
        )

    # ------------------------------------------------------------------ augmentation
    def overlay_library_criteria(self) -> LibraryCriteria:
        """Library criteria: :class:`LibraryCriteria` as it defines them."""
        from ..augment.library import LibraryCriteria

        return LibraryCriteria()

    def track_library(
        self, source: str | os.PathLike[str], criteria: LibraryCriteria | None
    ) -> TrackLibrary:
        from ..augment.library import straw_library
        from ..io.straw import StrawDataset

        return straw_library(StrawDataset.open(source), criteria)

    def write_overlay(self, job: OverlayJob) -> dict[str, Any]:
        from ..augment.writers import write_straw_overlay

        return write_straw_overlay(job)
